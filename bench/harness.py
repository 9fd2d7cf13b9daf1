"""What the benchmarks share: the admin connection, the database names, gunicorn, a keep-alive
load generator with latency percentiles, pgbench, and the books checked at the end of every run
(`verify_books`). Each benchmark script brings its data and requests.

`BENCH_DB_PREFIX` (default `flowlet_bench`) names the benchmarks' databases and `BENCH_PORT`
gunicorn's port (default: a free one), so that two runs on one machine keep apart.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

HOST = "127.0.0.1"
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DB_PREFIX = os.environ.get("BENCH_DB_PREFIX", "flowlet_bench")

# (path, headers, body) of the next request; an outcome name from (status, body).
NextRequest = Callable[[], tuple[str, Mapping[str, str], bytes]]
Classify = Callable[[int, bytes], str]


def admin_sql(admin_url: str, *statements: str) -> None:
    import psycopg

    conn = psycopg.connect(admin_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)
    conn.close()


def db_name(suffix: str = "") -> str:
    """A benchmark database's name: the prefix, then `_suffix` if given."""
    return f"{DB_PREFIX}_{suffix}" if suffix else DB_PREFIX


def db_url(name: str) -> str:
    """The URL of database `name` on the admin connection's server."""
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def free_port() -> int:
    if os.environ.get("BENCH_PORT"):
        return int(os.environ["BENCH_PORT"])
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_gunicorn(
    backend: Path, venv_bin: Path, env: Mapping[str, str], port: int, workers: int, threads: int = 1
) -> subprocess.Popen:
    """gunicorn on 127.0.0.1:`port`, returned once `/health` answers."""
    full = {**os.environ, **env, "HOST": HOST, "PORT": str(port)}
    full.update(WEB_CONCURRENCY=str(workers), GUNICORN_THREADS=str(threads))
    proc = subprocess.Popen(
        [str(venv_bin / "gunicorn"), "-c", "gunicorn.conf.py", "main:app"],
        cwd=backend,
        env=full,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=1) as s:
                s.sendall(b"GET /health HTTP/1.0\r\n\r\n")
                if b"200" in s.recv(64):
                    return proc
        except OSError:
            time.sleep(0.2)
    stop(proc)
    raise SystemExit("gunicorn did not start")


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


async def _client(port, next_request, classify, stop_at, budget, latencies, outcomes) -> None:
    reader = writer = None
    while time.perf_counter() < stop_at and budget[0] > 0:
        budget[0] -= 1
        path, headers, payload = next_request()
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\n{head}"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        ).encode() + payload
        if writer is None:
            reader, writer = await asyncio.open_connection(HOST, port)
        started = time.perf_counter()
        writer.write(request)
        await writer.drain()
        status_line = await reader.readline()
        length, close = 0, False
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        body = await reader.readexactly(length)
        latencies.append(time.perf_counter() - started)
        status = int(status_line.split()[1]) if status_line else 0
        outcome = classify(status, body)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if close or not status_line:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


def drive(
    port: int,
    clients: int,
    next_request: NextRequest,
    classify: Classify,
    seconds: float,
    max_requests: int,
    counted: str,
) -> dict:
    """`clients` keep-alive connections for `seconds` (at most `max_requests` in all); the rate
    of `counted` outcomes per second, the latency percentiles (ms) and every outcome's count."""
    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    budget = [max_requests]

    async def main() -> float:
        stop_at = time.perf_counter() + seconds
        started = time.perf_counter()
        await asyncio.gather(
            *(
                _client(port, next_request, classify, stop_at, budget, latencies, outcomes)
                for _ in range(clients)
            )
        )
        return time.perf_counter() - started

    elapsed = asyncio.run(main())
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {
        "tps": outcomes.get(counted, 0) / elapsed,
        "p50": pct(0.50),
        "p95": pct(0.95),
        "p99": pct(0.99),
        "outcomes": outcomes,
    }


def _cpu_seconds(pids: list[int]) -> dict[int, float]:
    """CPU seconds (user + system) of each process still alive."""
    found = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


def _spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU spent between two readings; a process started in between counts from zero."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def _pids(*args: str) -> list[int]:
    found = subprocess.run(["pgrep", *args], capture_output=True, text=True).stdout
    return [int(pid) for pid in found.split()]


def _postgres_pids() -> list[int]:
    """PostgreSQL's processes, read from /proc (no process started per sample)."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/comm") as f:
                    if f.read().strip() == "postgres":
                        found.append(int(entry.name))
            except OSError:
                continue
    return found


def _machine() -> tuple[int, int]:
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    return sum(values), values[3] + values[4]  # all, idle + iowait


class CpuMeter:
    """CPU seconds spent by the server (gunicorn's process group, when given) and by PostgreSQL
    while a load runs, per request; and how idle the machine stayed. Linux `/proc` only.

    PostgreSQL's processes are sampled every `every` seconds during the run, and each keeps the
    last reading it had: a backend that exits before the end (pgbench's, at its last
    transaction) is counted all the same.
    """

    def __init__(self, server: subprocess.Popen | None = None, every: float = 0.2) -> None:
        self.server_group = str(os.getpgid(server.pid)) if server is not None else None
        self.every = every
        self._stop = threading.Event()

    def _server(self) -> dict[int, float]:
        return _cpu_seconds(_pids("-g", self.server_group)) if self.server_group else {}

    def _sample(self) -> None:
        for pid, seconds in _cpu_seconds(_postgres_pids()).items():
            self.pg_last[pid] = seconds

    def _sampler(self) -> None:
        while not self._stop.wait(self.every):
            self._sample()

    def __enter__(self) -> CpuMeter:
        self.pg_first = _cpu_seconds(_postgres_pids())
        self.pg_last = dict(self.pg_first)
        self.start = (self._server(), _machine())
        self._thread = threading.Thread(target=self._sampler, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self.end = (self._server(), _machine())

    def per_request(self, requests: int) -> dict:
        n = max(requests, 1)
        (s0, (all0, idle0)), (s1, (all1, idle1)) = self.start, self.end
        return {
            "app_cpu_ms": 1000 * _spent(s0, s1) / n,
            "pg_cpu_ms": 1000 * _spent(self.pg_first, self.pg_last) / n,
            "idle_pct": 100 * (idle1 - idle0) / max(all1 - all0, 1),
        }


def pgbench(
    script: Path, url: str, clients: int, seconds: int, defines: Mapping
) -> tuple[float, float]:
    """Transactions per second of pgbench running `script` on `url`, and PostgreSQL's CPU
    milliseconds per transaction (sampled as for the API, `CpuMeter`)."""
    cmd = [shutil.which("pgbench") or "pgbench", "-n", "-f", str(script)]
    cmd += ["-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds)]
    for name, value in defines.items():
        cmd += ["-D", f"{name}={value}"]
    with CpuMeter() as meter:
        out = subprocess.run([*cmd, url], check=True, text=True, capture_output=True).stdout
    tps = float(m.group(1)) if (m := re.search(r"tps = ([0-9.]+)", out)) else 0.0
    done = (
        int(m.group(1))
        if (m := re.search(r"number of transactions actually processed: (\d+)", out))
        else 0
    )
    return tps, meter.per_request(done)["pg_cpu_ms"] if done else 0.0


def print_table(rows: list[dict], rate_name: str) -> None:
    """The Markdown table of a run: each row's rate and latencies against pgbench, and the CPU
    per request of the app and of PostgreSQL when measured, with PostgreSQL's CPU per
    transaction of pgbench's minimal one and the ratio of the two."""
    cpu = all("app_cpu_ms" in r for r in rows)
    ref = cpu and all(r.get("pg_ref_cpu_ms") for r in rows)
    print()
    print(
        f"| scenario | clients | API {rate_name} | p50 ms | p95 ms | p99 ms | pgbench tps "
        "| API / pgbench |"
        + (" app CPU ms | PostgreSQL CPU ms | idle % |" if cpu else "")
        + (" pgbench PostgreSQL CPU ms | PostgreSQL CPU / pgbench's |" if ref else "")
    )
    print("| --- |" + " ---: |" * (7 + (3 if cpu else 0) + (2 if ref else 0)))
    for r in rows:
        ratio = r["tps"] / r["pg_tps"] if r["pg_tps"] else 0
        extra = (
            f" {r['app_cpu_ms']:.1f} | {r['pg_cpu_ms']:.1f} | {r['idle_pct']:.0f} |" if cpu else ""
        )
        if ref:
            extra += f" {r['pg_ref_cpu_ms']:.2f} | {r['pg_cpu_ms'] / r['pg_ref_cpu_ms']:.1f} |"
        print(
            f"| {r['scenario']} | {r['clients']} | {r['tps']:.0f} | {r['p50']:.1f} | "
            f"{r['p95']:.1f} | {r['p99']:.1f} | {r['pg_tps']:.0f} | {ratio:.2f} |" + extra
        )


# --- the books after a run -----------------------------------------------------------------------

# The benchmarks and drills measure the machinery, not the business rules: no limit, fraud or
# AML rule fires (their queries still run).
NO_RULE_FIRES = {
    "TRANSFER_LIMITS": json.dumps({"none": {"per_transfer": "1000000000", "daily": "1000000000"}}),
    "DEPOSIT_LIMITS": json.dumps({"none": {"per_deposit": "1000000000", "daily": "1000000000"}}),
    "FRAUD_VELOCITY_MAX": "100000000",
    "FRAUD_REVIEW_THRESHOLD": "1000",
    "FRAUD_NEW_BENEFICIARY_AMOUNT": "1000000000",
    "AML_VELOCITY_MAX_COUNT": "100000000",
    "STEP_UP_TRANSFER_THRESHOLD": "1000000000",
}


def seed_script(
    prefix: str, count: int, *, balance_minor: int, savings: bool = False, fresh: bool = False
) -> str:
    """A Python script (run in backend/ with the app's environment) that creates `count`
    customers `<prefix><i>@<prefix>.test`, each with a funded checking account (and a savings
    one), and prints their tokens and account ids as one JSON line."""
    return f"""
import json
from app import create_app
from app.auth.models import User, UserRole
from app.auth.passwords import hash_password
from app.auth.tokens import start_session
from app.core import uow
from app.core.extensions import db
from app.ledger.opening import open_account
from app.transactions.deposits import deposit

app = create_app()
out = []
with app.app_context():
    s = db.session
    pw = hash_password("Bench-Only-Password-2026")
    for i in range({count}):
        u = User(email=f"{prefix}{{i}}@{prefix}.test", password_hash=pw, first_name="B",
                 last_name=str(i), email_verified=True)
        u.role_links.append(UserRole(role="customer"))
        s.add(u)
        s.flush()
        a = open_account(s, user=u, account_type="checking", currency="USD")
        row = {{"account": str(a.public_id), "a": str(a.public_id)}}
        if {savings!r}:
            b = open_account(s, user=u, account_type="savings", currency="USD")
            row["b"] = str(b.public_id)
        deposit(s, user=u, account_id=a.public_id, amount={balance_minor}, currency="USD")
        pair = start_session(s, user=u, ip="127.0.0.1", user_agent="{prefix}", fresh={fresh!r})
        row["token"] = pair.access_token
        out.append(row)
    uow.commit(s)
print(json.dumps(out))
"""


MAX_FINDINGS_SHOWN = 20


def money(url: str) -> tuple[int, int]:
    """(the customers' money: the sum of their balances, the sum of all ledger entries)."""
    import psycopg

    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT coalesce(sum(balance), 0) FROM accounts WHERE system_code IS NULL")
        customers = int(cur.fetchone()[0])
        cur.execute("SELECT coalesce(sum(amount), 0) FROM ledger_entries")
        entries = int(cur.fetchone()[0])
    return customers, entries


def _flask_check(backend: Path, venv_bin: Path, env: Mapping[str, str], group: str) -> bool:
    """`flask <group> verify`: its verdict, and every finding (at most MAX_FINDINGS_SHOWN)."""
    done = subprocess.run(
        [str(venv_bin / "flask"), "--app", "main", group, "verify"],
        check=False,
        cwd=backend,
        env={**os.environ, **env},
        text=True,
        capture_output=True,
    )
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    print(f"{group} verify: exit {done.returncode}" + (f" — {lines[-1]}" if lines else ""))
    if done.returncode != 0:
        for line in lines[:MAX_FINDINGS_SHOWN]:
            print(f"  {line}")
        if len(lines) > MAX_FINDINGS_SHOWN:
            print(f"  … and {len(lines) - MAX_FINDINGS_SHOWN} more lines")
    return done.returncode == 0


def verify_books(
    backend: Path,
    venv_bin: Path,
    env: Mapping[str, str],
    money_before: tuple[int, int] | None = None,
) -> bool:
    """What every benchmark ends with, on the database it built (`env["DATABASE_URL"]`):
    `flask ledger verify` (balances, holds, balanced transactions, the daily counters against
    their recount) and `flask audit verify` (seals, then checks the chain) clean; and, given the
    money before the benchmark moved any (`money`), the customers' total unchanged and all
    entries summing to zero. Prints every result and finding; True only if all are clean."""
    ok = _flask_check(backend, venv_bin, env, "ledger")
    ok = _flask_check(backend, venv_bin, env, "audit") and ok
    if money_before is not None:
        after = money(env["DATABASE_URL"])
        same = after[0] == money_before[0]
        print(
            f"customer money before {money_before[0]}, after {after[0]} "
            f"({'unchanged' if same else 'CHANGED'}); sum of all entries {after[1]}"
        )
        ok = ok and same and after[1] == 0
    if not ok:
        print("BOOKS NOT CLEAN: the run does not count (see the findings above)")
    return ok
