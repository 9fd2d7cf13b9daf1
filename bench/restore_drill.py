"""Restore drill: a base backup taken under load, WAL archived, and a point-in-time restore
onto a new cluster that must hold exactly what was acknowledged before the target time.

    .venv/bin/python bench/restore_drill.py           # or: make restore-drill   (about a minute)
    .venv/bin/python bench/restore_drill.py --quick   # shorter load phases (the pytest test)

Everything runs in a temporary directory this script makes and removes, on private ports
(PostgreSQL on 5450-5459, gunicorn on 5210-5219); nothing touches a shared server.

1. **Primary**: `initdb`, with `wal_level=replica`, `archive_mode=on` and an `archive_command`
   that copies each finished WAL segment into the archive directory; Flowlet's schema made by
   its migrations (`flask init-db`); customers seeded; gunicorn serving the API without Redis
   (jobs run inline after their commit, IBAN settlement included).
2. **Load**: client threads post deposits, internal transfers and IBAN transfers through the
   API, each with an `Idempotency-Key`, and record for every 201 when the request was sent and
   when its answer arrived.
3. **Backup**: `pg_basebackup -Ft -z -X stream --checkpoint=fast` while the load runs.
4. **Target**: a moment in the middle of the load, after the base backup finished; the load
   goes on after it, then stops; `pg_switch_wal()` closes the segment in use and the drill
   waits until the archiver has copied it; the primary is stopped (`-m immediate`: lost).
5. **Restore** (the clock of the RTO starts): the base backup unpacked into a new data
   directory, `restore_command` reading the archive, `recovery_target_time` the target,
   `recovery_target_action = 'promote'`, `recovery.signal`; the new cluster started and waited
   for until it left recovery; `flask ledger verify` and `flask audit verify` on it (the clock
   stops when both are clean).
6. **Checks** on the restored data: every transfer acknowledged before the target is there;
   none whose request was sent after the target is; the sequences are ahead of their tables;
   what the outbox and the pending transactions hold.

What "acknowledged before the target" means. PostgreSQL stops recovery before the first
commit record whose timestamp is later than the target. A transaction's commit timestamp is
read from the clock before its commit record is written, and the 201 leaves the server only
after the commit, so `commit time < acknowledgement time`; the request was sent before the
transaction began, so `sent time < commit time`. Hence, on one machine and one clock:

- acknowledged at or before the target: committed before it, **must be restored**;
- sent after the target: committed after it, **must not be restored**;
- sent before and acknowledged after (in flight at the target): either is right; counted.

PostgreSQL keeps microseconds, Python's clock nanoseconds; the target is written with
microseconds, and a guard of 1 ms on each side (`CLOCK_GUARD`) moves anything closer than that
to the target into "in flight", far beyond the resolution of either clock.

RPO is the data-loss window of the restore: the target against the commit time of the last
transaction replayed (`pg_last_xact_replay_timestamp()`). RTO runs from the first restore step
to both verifications clean.
"""

from __future__ import annotations

import argparse
import http.client
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
from datetime import UTC, datetime
from pathlib import Path

from drills import post, seed, wait_for
from harness import NO_RULE_FIRES, verify_books

BACKEND = Path(__file__).resolve().parent.parent / "backend"
VENV_BIN = Path(sys.executable).parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")  # --pg-bin for another installation
HOST = "127.0.0.1"
PG_PORTS = range(5450, 5460)
API_PORTS = range(5210, 5220)
EXTERNAL_IBAN = "GB33BUKB20201555555555"
CLOCK_GUARD = 0.001  # seconds; see the module's docstring
LOAD_THREADS = 3
LOG_LINES_SHOWN = 15  # of each server's log, when the drill fails


def free_port(candidates: range, taken: set[int]) -> int:
    """The first port of `candidates` nobody listens on (nor was given out by this run)."""
    for port in candidates:
        if port in taken:
            continue
        with socket.socket() as sock:
            # As servers bind: a port whose last connections linger in TIME_WAIT is free.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
        taken.add(port)
        return port
    raise SystemExit(f"no free port in {candidates.start}-{candidates.stop - 1}")


def as_owner(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run its tools as the postgres user."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def pg(tool: str) -> str:
    return str(PG_BIN / tool)


def use_pg_bin(path: Path) -> None:
    global PG_BIN
    PG_BIN = path


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kwargs)


def utc(moment: float) -> str:
    """A time as PostgreSQL reads it, to the microsecond, in UTC."""
    return datetime.fromtimestamp(moment, UTC).isoformat(sep=" ", timespec="microseconds")


# --- clusters ------------------------------------------------------------------------------------


class Cluster:
    """A PostgreSQL cluster in `data`, listening on 127.0.0.1:`port` and a socket in `sockets`."""

    def __init__(self, data: Path, port: int, sockets: Path) -> None:
        self.data, self.port, self.sockets = data, port, sockets
        self.log = data.parent / f"{data.name}.log"
        self.url = f"postgresql://postgres@{HOST}:{port}/flowlet"

    def initdb(self, settings: dict[str, str]) -> None:
        run(as_owner([pg("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust"]))
        self.configure(settings)

    def configure(self, settings: dict[str, str]) -> None:
        """Append settings to postgresql.auto.conf (the last one of a name wins)."""
        with (self.data / "postgresql.auto.conf").open("a") as conf:
            for name, value in settings.items():
                conf.write(f"{name} = '{value}'\n")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses={HOST}"
        run(
            as_owner(
                [
                    pg("pg_ctl"),
                    "-D",
                    str(self.data),
                    "-o",
                    options,
                    "-l",
                    str(self.log),
                    "-w",
                    "-t",
                    "300",
                    "start",
                ]
            )
        )

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                as_owner([pg("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"]),
                check=False,
                capture_output=True,
            )

    def sql(self, query: str, *params, dbname: str = "flowlet") -> list[tuple]:
        import psycopg

        url = self.url.rsplit("/", 1)[0] + "/" + dbname
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []


# --- the load ------------------------------------------------------------------------------------


@dataclass
class Acked:
    kind: str
    sent: float
    acked: float


@dataclass
class Load:
    port: int
    users: list[dict]
    acked: dict[str, Acked] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def one(self, rnd: random.Random) -> None:
        user = rnd.choice(self.users)
        amount = f"{rnd.randint(1, 500)}.{rnd.randint(0, 99):02d}"
        key = str(uuid.uuid4())
        roll = rnd.random()
        if roll < 0.2:
            kind, path = "deposit", "/api/v1/transactions/deposit"
            body = {"account_id": user["a"], "amount": amount, "currency": "USD"}
        else:
            kind, path = "transfer", "/api/v1/transactions/transfer"
            body = {"from_account_id": user["a"], "amount": amount, "currency": "USD"}
            if roll < 0.4:
                kind = "iban transfer"
                body |= {"to_iban": EXTERNAL_IBAN, "beneficiary_name": "Restore Drill Payee"}
            else:
                body |= {"to_account_id": rnd.choice(self.users)["b"]}
        body["description" if kind != "deposit" else "reference"] = f"restore drill {key}"
        headers = {"Authorization": f"Bearer {user['token']}", "Idempotency-Key": key}
        sent = time.time()
        try:
            status, data = post(self.port, path, body, headers)
        except (OSError, http.client.HTTPException):
            status, data = 0, None
        acked = time.time()
        with self.lock:
            if status == 201 and data:
                self.acked[data["id"]] = Acked(kind, sent, acked)
            else:
                code = ((data or {}).get("error") or {}).get("code", "")
                self.refused[f"{status} {code}"] = self.refused.get(f"{status} {code}", 0) + 1

    def run(self, seed_value: int) -> None:
        rnd = random.Random(seed_value)
        while not self.stop.is_set():
            self.one(rnd)


# --- the drill -----------------------------------------------------------------------------------


def app_env(database_url: str) -> dict[str, str]:
    env = {
        **os.environ,
        "FLOWLET_ENV": "development",
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        "GUNICORN_ACCESS_LOG": "/dev/null",
        "RATELIMIT_ENABLED": "false",
        "JWT_ACCESS_TOKEN_SECONDS": "7200",
        "WEB_CONCURRENCY": "2",
        "DB_POOL_SIZE": "2",
        "DB_MAX_OVERFLOW": "2",
        # The drill tests the backups, not the business rules: no limit or rule fires.
        **NO_RULE_FIRES,
        "AML_VELOCITY_MAX_COUNT": "100000000",
    }
    for name in ("REDIS_URL", "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(name, None)  # no Redis: jobs run inline after their commit
    return env


class SeedTarget:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env


def stop_process(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def start_gunicorn(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), "-c", "gunicorn.conf.py", "main:app"],
        cwd=BACKEND,
        env={**env, "HOST": HOST, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=log.open("a"),
        start_new_session=True,
    )

    def healthy() -> bool:
        conn = http.client.HTTPConnection(HOST, port, timeout=2)
        try:
            conn.request("GET", "/health")
            return conn.getresponse().status == 200
        finally:
            conn.close()

    if not wait_for(healthy, 60):
        stop_process(proc)
        raise SystemExit(f"gunicorn did not start (see {log})")
    return proc


def phase(name: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {name}", flush=True)


def restore(
    cluster: Cluster, backup: Path, archive: Path, target: str, env: dict[str, str]
) -> dict:
    """The on-call's restore (docs/operations.md), timed: unpack, check against the manifest,
    configure, start, wait for the promotion, verify. Returns the moments it reached each step."""
    started = time.time()
    cluster.data.mkdir(mode=0o700)
    if os.geteuid() == 0:
        shutil.chown(cluster.data, user="postgres")
    run(as_owner(["tar", "-xzf", str(backup / "base.tar.gz"), "-C", str(cluster.data)]))
    run(
        as_owner(["tar", "-xzf", str(backup / "pg_wal.tar.gz"), "-C", str(cluster.data / "pg_wal")])
    )
    # The files against the backup's manifest (checksums), and the WAL it needs readable.
    run(as_owner([pg("pg_verifybackup"), "-m", str(backup / "backup_manifest"), str(cluster.data)]))
    verified_backup = time.time()
    cluster.configure(
        {
            "restore_command": f"cp {archive}/%f %p",
            "recovery_target_time": target,
            "recovery_target_action": "promote",
            "archive_mode": "off",  # a restored copy must not write into the primary's archive
        }
    )
    run(as_owner(["touch", str(cluster.data / "recovery.signal")]))
    cluster.start()
    if not wait_for(lambda: cluster.sql("SELECT pg_is_in_recovery()")[0][0] is False, 300):
        raise SystemExit(f"the restored cluster did not leave recovery (see {cluster.log})")
    answering = time.time()
    clean = verify_books(BACKEND, VENV_BIN, env)
    return {
        "started": started,
        "backup_verified": verified_backup,
        "answering": answering,
        "verified": time.time(),
        "clean": clean,
    }


def sequences_behind(cluster: Cluster) -> list[str]:
    """Sequences owned by a column whose last value is below that column's largest value."""
    owned = cluster.sql(
        "SELECT s.seqrelid::regclass::text, d.refobjid::regclass::text, a.attname "
        "FROM pg_sequence s JOIN pg_depend d ON d.objid = s.seqrelid "
        "AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') "
        "JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid"
    )
    behind = []
    for seq, table, column in owned:
        ((last,),) = cluster.sql(f"SELECT last_value FROM {seq}")  # catalog names, not input
        ((top,),) = cluster.sql(f'SELECT max("{column}") FROM {table}')
        if top is not None and last < top:
            behind.append(f"{seq} at {last}, {table}.{column} up to {top}")
    return behind


def drill(*, warmup: float, before: float, after: float) -> int:
    for tool in ("initdb", "pg_ctl", "pg_basebackup"):
        if not (PG_BIN / tool).exists():
            raise SystemExit(f"{PG_BIN / tool} not found (see --pg-bin)")
    begun = time.time()
    work = Path(tempfile.mkdtemp(prefix="flowlet-restore-"))
    if os.geteuid() == 0:
        shutil.chown(work, user="postgres")
    archive, backup = work / "archive", work / "backup"
    for directory in (archive, backup):
        directory.mkdir()
        if os.geteuid() == 0:
            shutil.chown(directory, user="postgres")
    taken: set[int] = set()
    primary = Cluster(work / "primary", free_port(PG_PORTS, taken), work)
    restored = Cluster(work / "restored", free_port(PG_PORTS, taken), work)
    api_port = free_port(API_PORTS, taken)
    gunicorn: subprocess.Popen | None = None
    load: Load | None = None
    threads: list[threading.Thread] = []
    passed = False
    try:
        phase(f"primary :{primary.port}, restored :{restored.port}, API :{api_port}, in {work}")
        primary.initdb(
            {
                "wal_level": "replica",
                "archive_mode": "on",
                "archive_command": f"test ! -f {archive}/%f && cp %p {archive}/%f",
            }
        )
        primary.start()
        primary.sql("CREATE DATABASE flowlet", dbname="postgres")
        env = app_env(primary.url)
        phase("migrating (flask init-db) and seeding …")
        run([str(VENV_BIN / "flask"), "--app", "main", "init-db"], cwd=BACKEND, env=env)
        users = seed(SeedTarget(env))  # type: ignore[arg-type]
        gunicorn = start_gunicorn(env, api_port, work / "gunicorn.log")

        load = Load(api_port, users)
        threads = [
            threading.Thread(target=load.run, args=(i,), daemon=True) for i in range(LOAD_THREADS)
        ]
        for thread in threads:
            thread.start()
        time.sleep(warmup)
        phase("base backup under load (pg_basebackup -Ft -z -X stream --checkpoint=fast) …")
        backup_started = time.time()
        run(
            as_owner(
                [
                    pg("pg_basebackup"),
                    "-h",
                    HOST,
                    "-p",
                    str(primary.port),
                    "-U",
                    "postgres",
                    "-D",
                    str(backup),
                    "-Ft",
                    "-z",
                    "-X",
                    "stream",
                    "--checkpoint=fast",
                ]
            )
        )
        backup_seconds = time.time() - backup_started
        time.sleep(before)
        target_at = time.time()
        target = utc(target_at)
        target_at = datetime.fromisoformat(target).timestamp()  # exactly what PostgreSQL reads
        phase(f"target time {target}; the load goes on …")
        time.sleep(after)
        load.stop.set()
        for thread in threads:
            thread.join(timeout=60)
        ((segment,),) = primary.sql("SELECT pg_walfile_name(pg_switch_wal())")
        if not wait_for(lambda: (archive / segment).exists(), 60):
            raise SystemExit(f"WAL segment {segment} was not archived")
        stop_process(gunicorn)
        primary.stop("immediate")  # the primary is lost
        phase(f"load stopped, WAL switched and archived up to {segment}; primary stopped")

        phase("restoring to the target on a new cluster …")
        restored_env = app_env(restored.url)
        timing = restore(restored, backup, archive, target, restored_env)

        ((last_replayed,),) = restored.sql("SELECT pg_last_xact_replay_timestamp()")
        present = {
            str(row[0])
            for row in restored.sql(
                "SELECT public_id FROM journal_transactions WHERE public_id::text = ANY(%s)",
                list(load.acked),
            )
        }
        before_target = [i for i, a in load.acked.items() if a.acked <= target_at - CLOCK_GUARD]
        after_target = [i for i, a in load.acked.items() if a.sent > target_at + CLOCK_GUARD]
        in_flight = set(load.acked) - set(before_target) - set(after_target)
        missing = [i for i in before_target if i not in present]
        resurrected = [i for i in after_target if i in present]
        behind = sequences_behind(restored)
        outbox = dict(restored.sql("SELECT status, count(*) FROM job_outbox GROUP BY status"))
        ((pending,),) = restored.sql(
            "SELECT count(*) FROM journal_transactions WHERE status = 'pending'"
        )
        last_acked = max((a.acked for a in load.acked.values() if a.acked <= target_at), default=0)

        kinds: dict[str, int] = {}
        for a in load.acked.values():
            kinds[a.kind] = kinds.get(a.kind, 0) + 1
        print()
        print(f"base backup: {backup_seconds:.1f} s under load")
        for history in sorted(archive.glob("*.backup")):  # what the on-call reads to choose one
            times = [line for line in history.read_text().splitlines() if "TIME:" in line]
            print(f"  {history.name}: {'; '.join(times)}")
        print(f"acknowledged: {len(load.acked)} ({kinds}); refused: {load.refused or 'none'}")
        print(
            f"acknowledged before the target: {len(before_target)}, missing {len(missing)}; "
            f"sent after it: {len(after_target)}, restored {len(resurrected)}; in flight at it: "
            f"{len(in_flight)}, restored {len(in_flight & present)}"
        )
        print(f"sequences behind their tables: {behind or 'none'}")
        print(f"outbox rows by status: {outbox}; transactions still pending: {pending}")
        stopped = [
            line for line in restored.log.read_text().splitlines() if "recovery stopping" in line
        ]
        print(f"last transaction replayed committed at {last_replayed}")
        print(
            f"restored cluster's log: {stopped[0].split('LOG:', 1)[-1].strip() if stopped else '?'}"
        )
        rpo = target_at - last_replayed.timestamp()
        rto = timing["verified"] - timing["started"]
        print(
            f"RPO {rpo * 1000:.1f} ms (target {target}; last commit recovered "
            f"{last_replayed.astimezone(UTC):%H:%M:%S.%f}; last acknowledgement before the "
            f"target {utc(last_acked)[11:]})"
        )
        print(
            f"RTO {rto:.1f} s (backup unpacked and verified after "
            f"{timing['backup_verified'] - timing['started']:.1f} s, promoted and answering "
            f"after {timing['answering'] - timing['started']:.1f} s, ledger and audit verified "
            "after the rest)"
        )
        ok = timing["clean"] and not missing and not resurrected and not behind and before_target
        print(f"drill {time.time() - begun:.0f} s in all")
        print("restore drill passed" if ok else "RESTORE DRILL FAILED")
        passed = bool(ok)
        return 0 if ok else 1
    finally:
        if not passed:  # the logs go with the directory: show their ends first
            for log in sorted(work.glob("*.log")):
                lines = log.read_text(errors="replace").splitlines()[-LOG_LINES_SHOWN:]
                print(f"--- {log.name} (last lines)\n" + "\n".join(lines), flush=True)
        if load is not None:
            load.stop.set()
            for thread in threads:
                thread.join(timeout=30)
        stop_process(gunicorn)
        primary.stop("immediate")
        restored.stop("immediate")
        shutil.rmtree(work, ignore_errors=True)


def _interrupted(signum: int, _frame) -> None:
    raise SystemExit(f"interrupted by signal {signum}")  # runs the drill's cleanup


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short load phases (for tests)")
    parser.add_argument("--pg-bin", type=Path, default=PG_BIN, help="PostgreSQL 15's binaries")
    args = parser.parse_args()
    use_pg_bin(args.pg_bin)
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGHUP, _interrupted)
    if args.quick:
        return drill(warmup=1.0, before=1.5, after=1.5)
    return drill(warmup=3.0, before=5.0, after=5.0)


if __name__ == "__main__":
    sys.exit(main())
