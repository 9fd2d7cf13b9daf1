"""Card authorization benchmark: the real HTTP stack (gunicorn, PostgreSQL, Redis) against pgbench.

    .venv/bin/python bench/cards.py        # or: make bench

1. Creates a dedicated PostgreSQL database (`flowlet_bench_cards`), migrates it, seeds
   customers with a funded USD account and a virtual card each (no spending limits), and a card
   processor; copies it (`flowlet_bench_cards_pg`) for pgbench.
2. Starts gunicorn on 127.0.0.1 and drives `POST /api/v1/card-network/authorizations` with 32
   concurrent keep-alive clients (`--clients`), each request with its own Idempotency-Key, in
   two scenarios: random cards, and every authorization on one hot card (serialized by the
   card's row lock, as the limits need).
3. Runs pgbench on the copy with the SQL one authorization executes, at the same concurrency,
   and prints API/pgbench as a ratio (the machine may be shared: the ratio is what compares).
4. Checks afterwards: `flask ledger verify` is clean, and every approved authorization holds
   exactly its amount.

Card networks expect an answer within about 100 ms end to end: the p99 is printed next to it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

BACKEND = Path(__file__).resolve().parent.parent / "backend"
VENV_BIN = Path(sys.executable).parent
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_CARDS_REDIS_URL", "redis://127.0.0.1:6379/33")
DB_NAME = "flowlet_bench_cards"
PG_COPY = "flowlet_bench_cards_pg"
HOST = "127.0.0.1"
PATH = "/api/v1/card-network/authorizations"
PGBENCH_SCRIPT = Path(__file__).with_name("card_authorization.pgbench.sql")

ENV = {
    "FLOWLET_ENV": "development",
    "DATABASE_URL": PG_ADMIN.rsplit("/", 1)[0] + "/" + DB_NAME,
    "REDIS_URL": REDIS_URL,
    "LOG_LEVEL": "WARNING",
    "RATELIMIT_ENABLED": "false",
    "GUNICORN_ACCESS_LOG": "/dev/null",
    "DB_POOL_SIZE": "2",
    "DB_MAX_OVERFLOW": "2",
    "JWT_ACCESS_TOKEN_SECONDS": "7200",
    # The benchmark measures the machinery: no card limit or fraud rule fires (their queries
    # still run), and the seed's deposits are allowed.
    "CARD_DEFAULT_DAILY_LIMIT": "1000000000",
    "CARD_DEFAULT_MONTHLY_LIMIT": "1000000000",
    "FRAUD_VELOCITY_MAX": "100000000",
    "DEPOSIT_LIMITS": json.dumps({"approved": {"per_deposit": "100000000", "daily": "100000000"}}),
}


def admin_sql(*statements: str) -> None:
    import psycopg2

    conn = psycopg2.connect(PG_ADMIN)
    conn.autocommit = True
    with conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)
    conn.close()


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        cmd, cwd=BACKEND, env={**os.environ, **ENV}, check=True, text=True, capture_output=True
    )


SEED = """
import json
from app import create_app
from app.auth.models import User, UserRole
from app.auth.passwords import hash_password
from app.auth.tokens import start_session
from app.accounts.services import open_account
from app.cards.issuing import issue_card, reveal_card
from app.cards.models import Card
from app.transactions.deposits import deposit
from app.extensions import db

app = create_app()
out = {"cards": []}
with app.app_context():
    s = db.session
    pw = hash_password("Bench-Only-Password-2026")
    for i in range(CUSTOMERS):
        u = User(email=f"cards{i}@bench.test", password_hash=pw, first_name="B",
                 last_name=str(i), email_verified=True, kyc_status="approved")
        u.role_links.append(UserRole(role="customer"))
        s.add(u)
        s.flush()
        a = open_account(s, user=u, account_type="checking", currency="USD")
        deposit(s, user=u, account_id=a.public_id, amount=10_000_000_00, currency="USD")
        card = issue_card(s, user=u, account_id=a.public_id, card_type="virtual")
        shown = reveal_card(s, user=u, card_id=card.public_id)
        out["cards"].append({"id": card.id, "account": a.id, "pan": shown.pan, "cvv": shown.cvv,
                             "month": shown.expiry_month, "year": shown.expiry_year})
    p = User(email="processor@bench.test", password_hash=pw, first_name="Card",
             last_name="Network", email_verified=True)
    p.role_links.append(UserRole(role="card_processor"))
    s.add(p)
    s.flush()
    out["processor"] = {"id": p.id, "token": start_session(
        s, user=p, ip="127.0.0.1", user_agent="bench", fresh=False).access_token}
    s.commit()
print(json.dumps(out))
"""


def setup(customers: int) -> dict:
    print(f"creating database {DB_NAME} and migrating …", flush=True)
    admin_sql(
        f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)",
        f"DROP DATABASE IF EXISTS {PG_COPY} WITH (FORCE)",
        f"CREATE DATABASE {DB_NAME}",
    )
    run([str(VENV_BIN / "flask"), "--app", "main", "init-db"])
    print(f"seeding {customers} customers with a card each …", flush=True)
    result = run([sys.executable, "-c", SEED.replace("CUSTOMERS", str(customers))])
    data = json.loads(result.stdout.strip().splitlines()[-1])
    admin_sql(f"CREATE DATABASE {PG_COPY} TEMPLATE {DB_NAME}")
    return data


def body_for(card: dict) -> bytes:
    return json.dumps(
        {
            "pan": card["pan"],
            "expiry_month": card["month"],
            "expiry_year": card["year"],
            "cvv": card["cvv"],
            "amount": "1.00",
            "currency": "USD",
            "merchant_name": "Bench Store",
            "mcc": "5411",
            "country": "DE",
            "channel": "pos",
        }
    ).encode()


# --- the HTTP load generator ---------------------------------------------------------------------


async def _client(port, token, pick, stop_at, budget, latencies, outcomes) -> None:
    reader = writer = None
    while time.perf_counter() < stop_at and budget[0] > 0:
        budget[0] -= 1
        payload = pick()
        request = (
            f"POST {PATH} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {token}\r\n"
            f"Idempotency-Key: {uuid.uuid4()}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
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
        answer = await reader.readexactly(length)
        latencies.append(time.perf_counter() - started)
        status = int(status_line.split()[1]) if status_line else 0
        if status == 200:
            outcome = "approved" if json.loads(answer).get("approved") else "declined"
        else:
            outcome = str(status)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if close or not status_line:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


def drive(port: int, token: str, clients: int, pick, seconds: float, max_requests: int) -> dict:
    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    budget = [max_requests]

    async def main() -> float:
        stop_at = time.perf_counter() + seconds
        started = time.perf_counter()
        await asyncio.gather(
            *(
                _client(port, token, pick, stop_at, budget, latencies, outcomes)
                for _ in range(clients)
            )
        )
        return time.perf_counter() - started

    elapsed = asyncio.run(main())
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {
        "tps": outcomes.get("approved", 0) / elapsed,
        "p50": pct(0.50),
        "p95": pct(0.95),
        "p99": pct(0.99),
        "outcomes": outcomes,
    }


def pgbench(clients: int, seconds: int, lo: int, hi: int, hot_id: int | None, proc: int) -> float:
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + PG_COPY
    defines = {"lo": lo, "hi": hi, "hot": 1 if hot_id else 0, "hot_id": hot_id or lo, "proc": proc}
    cmd = [shutil.which("pgbench") or "pgbench", "-n", "-f", str(PGBENCH_SCRIPT)]
    cmd += ["-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds)]
    for name, value in defines.items():
        cmd += ["-D", f"{name}={value}"]
    out = subprocess.run([*cmd, url], check=True, text=True, capture_output=True).stdout
    match = re.search(r"tps = ([0-9.]+)", out)
    return float(match.group(1)) if match else 0.0


# --- gunicorn ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_gunicorn(port: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, **ENV, "HOST": HOST, "PORT": str(port), "WEB_CONCURRENCY": str(workers)}
    env["GUNICORN_THREADS"] = "1"
    proc = subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), "-c", "gunicorn.conf.py", "main:app"],
        cwd=BACKEND,
        env=env,
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


def holds_match(approved: int) -> bool:
    """Every approved authorization holds its amount: the sums agree, and no hold is lost."""
    import psycopg2

    conn = psycopg2.connect(ENV["DATABASE_URL"])
    with conn.cursor() as cur:
        cur.execute(
            "SELECT count(*), coalesce(sum(amount), 0) FROM card_authorizations WHERE approved"
        )
        count, authorized = cur.fetchone()
        cur.execute("SELECT coalesce(sum(held), 0) FROM accounts WHERE system_code IS NULL")
        held = cur.fetchone()[0]
    conn.close()
    print(
        f"approved authorizations: {count} (counted by the clients: {approved}); "
        f"authorized {authorized}, held {held}"
    )
    return count == approved and authorized == held


# --- main --------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--max-requests", type=int, default=20_000)
    parser.add_argument("--clients", default="32")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("BENCH_WORKERS", "3")))
    args = parser.parse_args()
    levels = [int(c) for c in args.clients.split(",")]

    data = setup(args.customers)
    cards, token, proc_id = data["cards"], data["processor"]["token"], data["processor"]["id"]
    bodies = [body_for(card) for card in cards]
    hot = bodies[0]
    ids = [c["id"] for c in cards]

    port = free_port()
    print(f"gunicorn: {args.workers} workers on {HOST}:{port}", flush=True)
    proc = start_gunicorn(port, args.workers)
    rows = []
    try:
        warm = drive(port, token, 8, lambda: random.choice(bodies), 2, 400)
        for scenario, pick in (("random", lambda: random.choice(bodies)), ("hot", lambda: hot)):
            for clients in levels:
                api = drive(port, token, clients, pick, args.seconds, args.max_requests)
                rows.append({"scenario": scenario, "clients": clients, **api})
                print(
                    f"  api {scenario:6} c={clients:<3} {api['tps']:8.1f} auth/s "
                    f"p50 {api['p50']:6.1f} ms p95 {api['p95']:6.1f} ms "
                    f"p99 {api['p99']:6.1f} ms  {api['outcomes']}",
                    flush=True,
                )
    finally:
        stop(proc)
    for row in rows:
        hot_id = ids[0] if row["scenario"] == "hot" else None
        row["pg_tps"] = pgbench(
            row["clients"], int(args.seconds), min(ids), max(ids), hot_id, proc_id
        )
        print(f"  pgbench {row['scenario']:6} c={row['clients']:<3} {row['pg_tps']:8.1f} tps")

    print()
    print(
        "| scenario | clients | API authorizations/s | p50 ms | p95 ms | p99 ms "
        "| pgbench tps | API / pgbench |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        ratio = r["tps"] / r["pg_tps"] if r["pg_tps"] else 0
        print(
            f"| {r['scenario']} | {r['clients']} | {r['tps']:.0f} | {r['p50']:.1f} | "
            f"{r['p95']:.1f} | {r['p99']:.1f} | {r['pg_tps']:.0f} | {ratio:.2f} |"
        )
    print()
    verify = run_verify()
    approved = sum(r["outcomes"].get("approved", 0) for r in [warm, *rows])
    ok_holds = holds_match(approved)
    failures = sum(n for r in rows for k, n in r["outcomes"].items() if k != "approved")
    print(f"ledger verify: exit {verify.returncode} — {verify.stdout.strip() or verify.stderr}")
    print(f"responses other than an approval: {failures}")
    return 0 if verify.returncode == 0 and ok_holds and not failures else 1


def run_verify() -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "main", "ledger", "verify"],
        check=False,
        cwd=BACKEND,
        env={**os.environ, **ENV},
        text=True,
        capture_output=True,
    )


if __name__ == "__main__":
    sys.exit(main())
