"""Reliability drills: faults injected under a transfer load, then the books are checked.

    .venv/bin/python bench/drills.py        # or: make drills   (a few minutes)

Everything runs on a private stack this script starts and stops itself: a PostgreSQL cluster
(`initdb` in a temporary directory, on a free port), a `redis-server` on a free port without
persistence, gunicorn (2 workers, with its outbox relay) and one `flask worker`. Nothing
touches a shared server.

Clients post internal and IBAN transfers with an `Idempotency-Key`, and retry with the same
key on a connection error, a 5xx or a 409 "in flight", as API.md tells clients to. While the
load runs, each drill in turn:

1. kills a gunicorn worker (SIGKILL; the master starts another);
2. kills the RQ worker and its work horse (SIGKILL) while IBAN transfers are queued, then
   starts a new one;
3. stops Redis and starts it again, empty (no persistence: the worst case);
4. restarts PostgreSQL (`pg_ctl restart -m immediate`: a crash, recovered from the WAL);
5. with a second gunicorn on another port and the load spread over both, kills the first
   instance whole (SIGKILL to master, workers and outbox relay); clients move to the other.

After each drill, once the load has stopped and settlement had its time, it checks that
every acknowledged transfer exists, nothing is stuck `pending`, `flask ledger verify` and
`flask audit verify` are clean, and the money is all there (customers' balances plus what
settled out to other banks equals what the customers had). It prints a table; docs/reliability.md
keeps the last one.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from harness import NO_RULE_FIRES, seed_script

BACKEND = Path(__file__).resolve().parent.parent / "backend"
VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
CUSTOMERS = 8
LOAD_THREADS = 4
EXTERNAL_IBAN = "GB33BUKB20201555555555"
SETTLE_TIMEOUT = 120.0


# Settings under which no limit, fraud rule or step-up stands in a drill's way (the drills
# test the machinery, not the business rules). Set before `init-db`, which writes the AML
# rules' version 1 from them.
_taken: set[int] = set()


def free_port() -> int:
    """A free port: from `TEST_SERVER_PORTS` ("5200-5209") when set, else any."""
    first, _, last = os.environ.get("TEST_SERVER_PORTS", "0-0").partition("-")
    for candidate in range(int(first), int(last or first) + 1):
        if candidate in _taken:
            continue
        with socket.socket() as sock:
            try:
                sock.bind((HOST, candidate))
            except OSError:
                continue
            port = sock.getsockname()[1]
        _taken.add(port)
        return port
    raise SystemExit("no free port in TEST_SERVER_PORTS")


def stack_ports() -> tuple[int, int, int]:
    """PostgreSQL, Redis and API ports: `DRILLS_PORT_BASE` and the next two, else free ports."""
    base = os.environ.get("DRILLS_PORT_BASE")
    if base:
        return int(base), int(base) + 1, int(base) + 2
    return free_port(), free_port(), free_port()


def wait_for(predicate, timeout: float, every: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except Exception:  # the thing waited for is not up yet
            pass
        time.sleep(every)
    return False


# --- the private stack ---------------------------------------------------------------------------


class Stack:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="flowlet-drills-"))
        # Logs outlive the run (the stack's directory does not).
        self.logs = Path(tempfile.gettempdir()) / "flowlet-drills-logs"
        shutil.rmtree(self.logs, ignore_errors=True)
        self.logs.mkdir()
        self.pg_port, self.redis_port, self.port = stack_ports()
        self.port2 = free_port()  # the second web instance (the two-instance drill)
        self.pg_data = self.dir / "pg"
        self.redis: subprocess.Popen | None = None
        self.gunicorn: subprocess.Popen | None = None
        self.gunicorn2: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.worker_started_at: float | None = None
        self.env = {
            **os.environ,
            "FLOWLET_ENV": "development",
            "DATABASE_URL": f"postgresql://postgres@{HOST}:{self.pg_port}/flowlet",
            "REDIS_URL": f"redis://{HOST}:{self.redis_port}/0",
            "HOST": HOST,
            "PORT": str(self.port),
            "WEB_CONCURRENCY": "2",
            "LOG_LEVEL": "WARNING",
            "GUNICORN_ACCESS_LOG": "/dev/null",
            "RATELIMIT_ENABLED": "false",
            "JWT_ACCESS_TOKEN_SECONDS": "7200",
            "DB_POOL_SIZE": "2",
            "DB_MAX_OVERFLOW": "4",
            "WORKER_HEARTBEAT_SECONDS": "2",
            # The drills test the machinery, not the business rules: no limit or rule fires.
            **NO_RULE_FIRES,
        }
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)

    # PostgreSQL
    def _as_owner(self, cmd: list[str]) -> list[str]:
        """PostgreSQL refuses to run as root: as root, run its tools as the postgres user."""
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *cmd]
        return cmd

    def start_postgres(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.dir, user="postgres")
        subprocess.run(
            self._as_owner(
                ["initdb", "-D", str(self.pg_data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        self._pg_ctl("start")
        subprocess.run(
            ["createdb", "-h", HOST, "-p", str(self.pg_port), "-U", "postgres", "flowlet"],
            check=True,
        )

    def _pg_ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.pg_port} -k {self.dir} -c listen_addresses={HOST}"
        log = str(self.dir / "pg.log")
        subprocess.run(
            self._as_owner(
                ["pg_ctl", "-D", str(self.pg_data), "-o", options, "-l", log, "-w", action, *extra]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def restart_postgres(self) -> None:
        self._pg_ctl("restart", "-m", "immediate")

    def sql(self, query: str, *params):
        import psycopg

        conn = psycopg.connect(self.env["DATABASE_URL"], connect_timeout=5)
        try:
            with conn, conn.cursor() as cur:
                cur.execute(query, params)
                return cur.fetchall()
        finally:
            conn.close()

    # Redis
    def start_redis(self) -> None:
        self.redis = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                HOST,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis(host=HOST, port=self.redis_port)
        if not wait_for(client.ping, 10):
            raise SystemExit("redis-server did not start")

    def stop_redis(self) -> None:
        if self.redis is not None:
            self.redis.terminate()
            self.redis.wait(timeout=10)
            self.redis = None

    # Flowlet
    def flask(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(VENV_BIN / "flask"), "--app", "main", *args],
            cwd=BACKEND,
            env=self.env,
            check=check,
            capture_output=True,
            text=True,
        )

    def start_gunicorn(self, port: int | None = None) -> subprocess.Popen:
        port = port or self.port
        process = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "-c", "gunicorn.conf.py", "main:app"],
            cwd=BACKEND,
            env={**self.env, "PORT": str(port)},
            stdout=subprocess.DEVNULL,
            stderr=(self.logs / f"gunicorn-{port}.log").open("a"),
            start_new_session=True,  # its group: master, workers and outbox relay
        )
        if not wait_for(lambda: get(port, "/health")[0] == 200, 30):
            raise SystemExit("gunicorn did not start")
        if port == self.port:
            self.gunicorn = process
        else:
            self.gunicorn2 = process
        return process

    def gunicorn_workers(self) -> list[int]:
        assert self.gunicorn is not None
        out = subprocess.run(
            ["ps", "-o", "pid=,args=", "--ppid", str(self.gunicorn.pid)],
            capture_output=True,
            text=True,
        ).stdout
        return [int(line.split()[0]) for line in out.splitlines() if "gunicorn" in line]

    def start_worker(self) -> None:
        self.worker = subprocess.Popen(
            [str(VENV_BIN / "flask"), "--app", "main", "worker"],
            cwd=BACKEND,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=(self.logs / "worker.log").open("a"),
            start_new_session=True,  # its own process group: the work horse goes with it
        )
        self.worker_started_at = time.monotonic()
        import redis

        client = redis.Redis(host=HOST, port=self.redis_port)
        if not wait_for(lambda: client.scard("rq:workers") > 0, 30):
            raise SystemExit("the RQ worker did not start")

    def kill_worker(self) -> None:
        """SIGKILL the worker, its scheduler and its work horses (RQ gives each horse a process
        group of its own, so a kill of the worker's group alone leaves the horse running)."""
        if self.worker is not None:
            out = subprocess.run(
                ["ps", "-o", "pid=", "--ppid", str(self.worker.pid)], capture_output=True, text=True
            ).stdout
            os.killpg(self.worker.pid, signal.SIGKILL)
            for pid in (int(p) for p in out.split()):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.worker.wait(timeout=10)
            self.worker = None

    def redis_client(self):
        import redis

        return redis.Redis(host=HOST, port=self.redis_port)

    def close(self) -> None:
        for proc in (self.worker, self.gunicorn, self.gunicorn2):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
        self.stop_redis()
        if self.pg_data.exists():
            subprocess.run(
                self._as_owner(["pg_ctl", "-D", str(self.pg_data), "-m", "fast", "-w", "stop"]),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        shutil.rmtree(self.dir, ignore_errors=True)


# --- HTTP -----------------------------------------------------------------------------------------


def get(port: int, path: str, headers: dict | None = None) -> tuple[int, dict | None]:
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        return response.status, (json.loads(body) if body[:1] == b"{" else None)
    finally:
        conn.close()


def post(port: int, path: str, body: dict, headers: dict) -> tuple[int, dict | None]:
    conn = http.client.HTTPConnection(HOST, port, timeout=15)
    try:
        conn.request(
            "POST",
            path,
            body=json.dumps(body),
            headers={**headers, "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        data = response.read()
        return response.status, (json.loads(data) if data[:1] == b"{" else None)
    finally:
        conn.close()


def seed(stack: Stack) -> list[dict]:
    script = seed_script("drill", CUSTOMERS, balance_minor=10_000_000_00, savings=True, fresh=True)
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=BACKEND,
        env=stack.env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- the load -------------------------------------------------------------------------------------


@dataclass
class Load:
    ports: list[int]  # the web instances; a client moves on from one that refuses to connect
    users: list[dict]
    acked: dict[str, dict] = field(default_factory=dict)
    requests: int = 0
    retries: int = 0
    given_up: int = 0
    last_refusals: list = field(default_factory=list)
    looked_up: list[str] = field(default_factory=list)
    dead: set[int] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def one_transfer(self, rnd: random.Random) -> None:
        user = rnd.choice(self.users)
        external = rnd.random() < 0.5
        key = str(uuid.uuid4())
        body = {
            "from_account_id": user["a"],
            "amount": f"{rnd.randint(1, 500)}.00",
            "currency": "USD",
            "description": f"drill {key}",  # how a client finds a transfer whose answer it lost
        }
        if external:
            body |= {"to_iban": EXTERNAL_IBAN, "beneficiary_name": "Drill Payee"}
        else:
            body |= {"to_account_id": user["b"]}
        headers = {"Authorization": f"Bearer {user['token']}", "Idempotency-Key": key}
        deadline = time.monotonic() + 90
        attempt = 0
        while time.monotonic() < deadline:
            attempt += 1
            with self.lock:
                self.requests += 1
            alive = [p for p in self.ports if p not in self.dead] or self.ports
            port = alive[(attempt + len(self.acked)) % len(alive)]
            try:
                status, data = post(port, "/api/v1/transactions/transfer", body, headers)
            except ConnectionRefusedError:
                status, data = None, None
                with self.lock:
                    self.dead.add(port)
            except (OSError, http.client.HTTPException):
                status, data = None, None
            if status == 201 and data:
                with self.lock:
                    self.acked[data["id"]] = {"external": external, "amount": body["amount"]}
                return
            if status == 409 and "carried out" in ((data or {}).get("error") or {}).get(
                "message", ""
            ):
                # Done, but its response died with the killed process: look it up instead.
                with self.lock:
                    self.looked_up.append(key)
                return
            if status is not None and status < 500 and status not in (409, 429):
                return  # refused for a business reason: not acknowledged, nothing to check
            with self.lock:
                self.retries += 1
            time.sleep(min(0.2 * attempt, 2.0))  # the same key, again
        with self.lock:
            self.given_up += 1
            self.last_refusals.append((status, (data or {}).get("error", {}).get("code")))

    def run(self, seed_value: int) -> None:
        rnd = random.Random(seed_value)
        while not self.stop.is_set():
            self.one_transfer(rnd)


def with_load(
    ports: list[int], users: list[dict], fault, *, before: float = 3.0, after: float = 5.0
):
    load = Load(ports, users)
    threads = [
        threading.Thread(target=load.run, args=(i,), daemon=True) for i in range(LOAD_THREADS)
    ]
    for thread in threads:
        thread.start()
    time.sleep(before)
    fault()
    time.sleep(after)
    load.stop.set()
    for thread in threads:
        thread.join(timeout=120)
    return load


# --- the checks -----------------------------------------------------------------------------------


def money(stack: Stack) -> int:
    """Customers' money plus what settled out to other banks (constant after the seed)."""
    ((customers,),) = stack.sql(
        "SELECT coalesce(sum(balance), 0) FROM accounts WHERE system_code IS NULL"
    )
    ((settled_out,),) = stack.sql(
        "SELECT coalesce(sum(amount), 0) FROM journal_transactions "
        "WHERE counterparty_iban IS NOT NULL AND status = 'completed'"
    )
    return int(customers) + int(settled_out)


def check(stack: Stack, load: Load, baseline: int, restart: dict | None = None) -> dict:
    """The books after a drill; `restart` (set by drills that restart the RQ worker) gets the
    time from the restart until nothing was pending and until RQ's scheduler ran again."""
    started = time.monotonic()

    def settled() -> bool:
        ((pending,),) = stack.sql(
            "SELECT count(*) FROM journal_transactions WHERE status = 'pending'"
        )
        return pending == 0

    wait_for(settled, SETTLE_TIMEOUT, every=0.5)
    settled_at = time.monotonic()
    settle_seconds = settled_at - started
    after_restart = "-"
    if restart is not None and stack.worker_started_at is not None:
        after_restart = str(round(settled_at - stack.worker_started_at, 1))
        if restart.get("watcher") is not None:
            restart["watcher"].join(timeout=SETTLE_TIMEOUT)
    ids = list(load.acked)
    found = 0
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        ((count,),) = stack.sql(
            "SELECT count(*) FROM journal_transactions WHERE public_id::text = ANY(%s)", chunk
        )
        found += int(count)
    for key in load.looked_up:  # done without a response: the transfer must be there
        ((count,),) = stack.sql(
            "SELECT count(*) FROM journal_transactions WHERE description = %s", f"drill {key}"
        )
        found += int(count)
    ids += load.looked_up
    ((stuck,),) = stack.sql("SELECT count(*) FROM journal_transactions WHERE status = 'pending'")
    ((backlog,),) = stack.sql("SELECT count(*) FROM job_outbox WHERE status = 'pending'")
    by_status = dict(stack.sql("SELECT status, count(*) FROM job_outbox GROUP BY status"))
    print(f"  outbox rows by status: {by_status}", flush=True)
    if load.last_refusals:
        print(f"  last answers to abandoned transfers: {load.last_refusals}", flush=True)
    ledger = stack.flask("ledger", "verify", check=False)
    audit = stack.flask("audit", "verify", check=False)
    return {
        "requests": load.requests,
        "refusals": load.last_refusals,
        "acked": len(ids) - len(load.looked_up),
        "looked_up": len(load.looked_up),
        "retried": load.retries,
        "gave_up": load.given_up,
        "missing": len(ids) - found,
        "stuck": int(stuck),
        "outbox": int(backlog),
        "settled_s": round(settle_seconds, 1),
        "after_restart_s": after_restart,
        "scheduler_s": (restart or {}).get("scheduler_s", "-"),
        "ledger": "clean" if ledger.returncode == 0 else "BROKEN",
        "audit": "clean" if audit.returncode == 0 else "BROKEN",
        "money": "unchanged" if money(stack) == baseline else "CHANGED",
    }


# --- the drills -----------------------------------------------------------------------------------

SCHEDULER_LOCK = "rq:scheduler-lock:default"
FINISHED = "rq:finished:default"


def watch_scheduler_lock(stack: Stack, previous: bytes | None, into: dict) -> threading.Thread:
    """Time from the worker's restart until another scheduler than `previous` holds the lock."""
    started = stack.worker_started_at or time.monotonic()

    def watch() -> None:
        client = stack.redis_client()
        if wait_for(lambda: client.get(SCHEDULER_LOCK) not in (None, previous), SETTLE_TIMEOUT):
            into["scheduler_s"] = round(time.monotonic() - started, 1)
        else:
            into["scheduler_s"] = f">{SETTLE_TIMEOUT:.0f}"

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def main() -> int:
    for tool in ("initdb", "pg_ctl", "createdb", "redis-server"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not on PATH")
    stack = Stack()
    results: list[tuple[str, dict]] = []
    try:
        print(
            f"private stack in {stack.dir}: PostgreSQL :{stack.pg_port}, Redis "
            f":{stack.redis_port}, API :{stack.port}",
            flush=True,
        )
        stack.start_postgres()
        stack.start_redis()
        stack.flask("init-db")
        users = seed(stack)
        stack.start_gunicorn()
        stack.start_worker()
        baseline = money(stack)

        def kill_gunicorn_worker() -> None:
            victim = random.choice(stack.gunicorn_workers())
            os.kill(victim, signal.SIGKILL)

        restart: dict = {}

        def restart_worker() -> None:
            """Start a new worker 4 s after the kill (IBAN transfers keep coming and queue up)
            and time how long until RQ's scheduler runs again (a new owner of its lock)."""
            client = stack.redis_client()
            previous = client.get(SCHEDULER_LOCK)
            time.sleep(4)
            stack.start_worker()
            restart["watcher"] = watch_scheduler_lock(stack, previous, restart)

        def kill_rq_worker() -> None:
            stack.kill_worker()
            restart_worker()

        def kill_rq_worker_after_dequeue() -> None:
            from rq import Queue

            client = stack.redis_client()
            assert stack.worker is not None
            os.killpg(stack.worker.pid, signal.SIGSTOP)  # it dequeues nothing more
            wait_for(lambda: client.llen("rq:queue:default") > 0, 10, every=0.01)
            # The dequeue the worker makes (RQ's own call), after which it dies: a SIGKILL
            # cannot be aimed at that instant from outside, so the drill dequeues for it.
            default = Queue("default", connection=client)
            Queue.dequeue_any([default], None, connection=client)
            stack.kill_worker()
            restart_worker()

        def kill_rq_worker_after_a_job() -> None:
            client = stack.redis_client()
            before = client.zcard(FINISHED)
            wait_for(lambda: client.zcard(FINISHED) > before, 10, every=0.002)
            stack.kill_worker()
            restart_worker()

        def bounce_redis() -> None:
            stack.stop_redis()
            time.sleep(4)
            stack.start_redis()

        def restart_postgres() -> None:
            stack.restart_postgres()

        def kill_one_of_two_instances() -> None:
            assert stack.gunicorn is not None
            os.killpg(stack.gunicorn.pid, signal.SIGKILL)  # master, workers and relay
            stack.gunicorn.wait(timeout=10)
            stack.gunicorn = None

        drills = [
            ("kill -9 a gunicorn worker", kill_gunicorn_worker, False),
            ("kill -9 the RQ worker, IBAN transfers queued", kill_rq_worker, True),
            (
                "kill -9 the RQ worker between dequeue and execution",
                kill_rq_worker_after_dequeue,
                True,
            ),
            ("kill -9 the RQ worker right after a job ends", kill_rq_worker_after_a_job, True),
            ("stop Redis, start it empty", bounce_redis, False),
            ("restart PostgreSQL (immediate)", restart_postgres, False),
            ("kill -9 one of two instances", kill_one_of_two_instances, False),  # the last
        ]
        only = sys.argv[1:]  # drills whose name contains one of these words (default: all)
        for name, fault, restarts in drills:
            if only and not any(word.lower() in name.lower() for word in only):
                continue
            print(f"drill: {name} …", flush=True)
            restart.clear()
            ports = [stack.port]
            if fault is kill_one_of_two_instances:
                stack.start_gunicorn(stack.port2)
                ports.append(stack.port2)
            load = with_load(ports, users, fault)
            results.append((name, check(stack, load, baseline, restart if restarts else None)))
    finally:
        stack.close()

    columns = [
        "requests",
        "acked",
        "looked_up",
        "retried",
        "gave_up",
        "missing",
        "stuck",
        "outbox",
        "settled_s",
        "after_restart_s",
        "scheduler_s",
        "ledger",
        "audit",
        "money",
    ]
    print()
    print("| drill | " + " | ".join(columns) + " |")
    print("| --- | " + " | ".join("---" for _ in columns) + " |")
    for name, row in results:
        print(f"| {name} | " + " | ".join(str(row[c]) for c in columns) + " |")
    ok = all(
        r["after_restart_s"] == "-" or float(r["after_restart_s"]) <= SETTLE_TIMEOUT
        for _, r in results
    ) and all(
        r["missing"] == 0
        and r["stuck"] == 0
        and r["ledger"] == "clean"
        and r["audit"] == "clean"
        and r["money"] == "unchanged"
        for _, r in results
    )
    print("\nall drills passed" if ok else "\nA DRILL FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
