"""Transfer benchmark: the real HTTP stack (gunicorn, PostgreSQL, Redis) against pgbench.

    .venv/bin/python bench/transfers.py        # or: make bench

1. Creates a dedicated PostgreSQL database (`flowlet_bench`), migrates it, seeds customers with
   one funded USD account each, plus one "hot" account, and copies it (`flowlet_bench_pg`) for
   pgbench.
2. Starts gunicorn on 127.0.0.1 (all traffic stays on this machine) and drives
   `POST /api/v1/transactions/transfer` with 8, 32 and 64 concurrent keep-alive clients, for a
   bounded time and number of requests, in two scenarios: random accounts, and every transfer
   from one hot account.
3. Runs pgbench on the copy with the minimal transfer (`transfer.pgbench.sql`: lock two
   accounts in id order, update both, insert the transaction, its two entries, one audit row
   and one idempotency row) at the same concurrency, and prints API/pgbench as a ratio.
4. Checks the invariants afterwards: `flask ledger verify` (balances and running counters) and
   `flask audit verify` are clean and the total of the customers' money is what it was.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import uuid
from pathlib import Path

from harness import (
    HOST,
    CpuMeter,
    admin_sql,
    drive,
    free_port,
    pgbench,
    print_table,
    start_gunicorn,
    stop,
)

# BENCH_BACKEND measures another checkout's backend with this same benchmark (old against new).
BACKEND = Path(
    os.environ.get("BENCH_BACKEND") or Path(__file__).resolve().parent.parent / "backend"
).resolve()
VENV_BIN = Path(sys.executable).parent
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/21")
# BENCH_DB names the database (and `<name>_pg` its copy), so two checkouts can run side by side.
DB_NAME = os.environ.get("BENCH_DB", "flowlet_bench")
PG_COPY = f"{DB_NAME}_pg"

ENV = {
    "FLOWLET_ENV": "development",
    "DATABASE_URL": PG_ADMIN.rsplit("/", 1)[0] + "/" + DB_NAME,
    "REDIS_URL": REDIS_URL,
    "LOG_LEVEL": "WARNING",
    "RATELIMIT_ENABLED": "false",
    "GUNICORN_ACCESS_LOG": "/dev/null",
    # The benchmark measures the machinery, not the business rules: no limit or rule fires.
    "TRANSFER_LIMITS": json.dumps({"none": {"per_transfer": "1000000000", "daily": "1000000000"}}),
    "DEPOSIT_LIMITS": json.dumps({"none": {"per_deposit": "1000000000", "daily": "1000000000"}}),
    "FRAUD_VELOCITY_MAX": "100000000",
    "AML_VELOCITY_MAX_COUNT": "100000000",  # the AML velocity rule stays quiet too
    "STEP_UP_TRANSFER_THRESHOLD": "1000000",
    "DB_POOL_SIZE": "2",
    "JWT_ACCESS_TOKEN_SECONDS": "7200",  # the seeded tokens outlive the run
    "DB_MAX_OVERFLOW": "2",
}


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, **ENV}
    return subprocess.run(
        cmd, cwd=BACKEND, env=env, check=True, text=True, capture_output=True, **kwargs
    )


# --- setup -----------------------------------------------------------------------------------


def setup(customers: int) -> dict:
    print(f"creating database {DB_NAME} and migrating …", flush=True)
    admin_sql(
        PG_ADMIN,
        f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)",
        f"DROP DATABASE IF EXISTS {PG_COPY} WITH (FORCE)",
        f"CREATE DATABASE {DB_NAME}",
    )
    run([str(VENV_BIN / "flask"), "--app", "main", "init-db"])
    print(f"seeding {customers} customers …", flush=True)
    script = f"""
import json, sys
from app.auth.tokens import start_session
import sqlalchemy as sa
from app import create_app
from app.auth.models import User, UserRole
from app.auth.passwords import hash_password
from app.accounts.services import open_account
from app.accounts.models import Account
from app.transactions.deposits import deposit
from app.extensions import db

app = create_app()
out = {{"users": []}}
with app.app_context():
    s = db.session
    pw = hash_password("Bench-Only-Password-2026")
    for i in range({customers} + 1):
        u = User(email=f"bench{{i}}@bench.test", password_hash=pw, first_name="B",
                 last_name=str(i), email_verified=True)
        u.role_links.append(UserRole(role="customer"))
        s.add(u)
        s.flush()
        a = open_account(s, user=u, account_type="checking", currency="USD")
        deposit(s, user=u, account_id=a.public_id, amount=100_000_000_00, currency="USD")
        pair = start_session(s, user=u, ip="127.0.0.1", user_agent="bench", fresh=False)
        token = pair.access_token
        out["users"].append(
            {{"token": token, "account": str(a.public_id), "id": a.id, "uid": u.id}}
        )
    s.commit()
print(json.dumps(out))
"""
    result = run([sys.executable, "-c", script])
    data = json.loads(result.stdout.strip().splitlines()[-1])
    data["hot"] = data["users"].pop()  # the last customer owns the hot account
    admin_sql(PG_ADMIN, f"CREATE DATABASE {PG_COPY} TEMPLATE {DB_NAME}")
    return data


def money_total(db: str) -> tuple[int, int]:
    import psycopg

    conn = psycopg.connect(PG_ADMIN.rsplit("/", 1)[0] + "/" + db)
    with conn.cursor() as cur:
        cur.execute("SELECT sum(balance) FROM accounts WHERE system_code IS NULL")
        customers = int(cur.fetchone()[0])
        cur.execute("SELECT coalesce(sum(amount), 0) FROM ledger_entries")
        entries = int(cur.fetchone()[0])
    conn.close()
    return customers, entries


PGBENCH_SCRIPT = Path(__file__).with_name("transfer.pgbench.sql")
TRANSFER = "/api/v1/transactions/transfer"


def _request(pick):
    """The harness's next-request callable for a `pick()` of (token, transfer body)."""

    def next_request():
        token, body = pick()
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}
        return TRANSFER, headers, json.dumps(body).encode()

    return next_request


def _status(status: int, _body: bytes) -> int:
    return status


def _drive(port: int, clients: int, pick, seconds: float, max_requests: int) -> dict:
    result = drive(port, clients, _request(pick), _status, seconds, max_requests, counted=201)
    result["statuses"] = result.pop("outcomes")
    return result


def _pgbench(clients: int, seconds: int, lo: int, hi: int, hot_id: int | None, uid: int) -> float:
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + PG_COPY
    defines = {"lo": lo, "hi": hi, "hot": 1 if hot_id else 0, "hot_id": hot_id or lo, "uid": uid}
    return pgbench(PGBENCH_SCRIPT, url, clients, seconds, defines)


# --- main --------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--max-requests", type=int, default=20_000)
    parser.add_argument("--clients", default="8,32,64")
    parser.add_argument("--scenarios", default="random,hot", help="random, hot or both")
    # gunicorn's defaults on PostgreSQL: sync workers, two per core (gunicorn.conf.py).
    workers = os.environ.get("BENCH_WORKERS", str(2 * os.cpu_count()))
    parser.add_argument("--workers", type=int, default=int(workers))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", "1")))
    args = parser.parse_args()
    levels = [int(c) for c in args.clients.split(",")]
    # A pooled connection per thread: a smaller pool opens and closes connections under load.
    ENV["DB_POOL_SIZE"] = str(max(args.threads, 2))

    data = setup(args.customers)
    users, hot = data["users"], data["hot"]
    ids = [u["id"] for u in users]
    lo, hi = min(ids), max(ids)
    before = money_total(DB_NAME)

    def pick_random():
        src, dst = random.sample(users, 2)
        return src["token"], {
            "from_account_id": src["account"],
            "to_account_id": dst["account"],
            "amount": "1.00",
            "currency": "USD",
        }

    def pick_hot():
        dst = random.choice(users)
        return hot["token"], {
            "from_account_id": hot["account"],
            "to_account_id": dst["account"],
            "amount": "1.00",
            "currency": "USD",
        }

    port = free_port()
    print(
        f"gunicorn: {args.workers} workers × {args.threads} threads on {HOST}:{port}",
        flush=True,
    )
    proc = start_gunicorn(BACKEND, VENV_BIN, ENV, port, args.workers, args.threads)
    rows = []
    try:
        _drive(port, 8, pick_random, 2, 400)  # warm up the workers' pools and caches
        picks = {"random": pick_random, "hot": pick_hot}
        for scenario in args.scenarios.split(","):
            pick = picks[scenario]
            for clients in levels:
                with CpuMeter(proc) as meter:
                    api = _drive(port, clients, pick, args.seconds, args.max_requests)
                api.update(meter.per_request(sum(api["statuses"].values())))
                rows.append({"scenario": scenario, "clients": clients, **api})
                print(
                    f"  api {scenario:6} c={clients:<3} {api['tps']:8.1f} tps "
                    f"p50 {api['p50']:6.1f} ms p95 {api['p95']:6.1f} ms "
                    f"p99 {api['p99']:6.1f} ms  {api['statuses']}  CPU per transfer: "
                    f"app {api['app_cpu_ms']:.1f} ms, PostgreSQL {api['pg_cpu_ms']:.1f} ms, "
                    f"machine idle {api['idle_pct']:.0f} %",
                    flush=True,
                )
    finally:
        stop(proc)
    for row in rows:
        row["pg_tps"] = _pgbench(
            row["clients"],
            int(args.seconds),
            lo,
            hi,
            hot["id"] if row["scenario"] == "hot" else None,
            users[0]["uid"],
        )
        print(
            f"  pgbench {row['scenario']:6} c={row['clients']:<3} {row['pg_tps']:8.1f} tps",
            flush=True,
        )

    print_table(rows, "transfers/s")

    print()
    verify, chain = (
        subprocess.run(
            [str(VENV_BIN / "flask"), "--app", "main", group, "verify"],
            check=False,
            cwd=BACKEND,
            env={**os.environ, **ENV},
            text=True,
            capture_output=True,
        )
        for group in ("ledger", "audit")
    )
    after = money_total(DB_NAME)
    failures = sum(n for r in rows for s, n in r["statuses"].items() if s != 201)
    print(f"ledger verify: exit {verify.returncode} — {verify.stdout.strip() or verify.stderr}")
    print(f"audit verify: exit {chain.returncode} — {chain.stdout.strip() or chain.stderr}")
    print(
        f"customer money before {before[0]}, after {after[0]} "
        f"({'unchanged' if before[0] == after[0] else 'CHANGED'}); "
        f"sum of all entries {after[1]}"
    )
    print(f"non-201 responses: {failures}")
    print(
        f"mean API/pgbench ratio: "
        f"{statistics.mean(r['tps'] / r['pg_tps'] for r in rows if r['pg_tps']):.2f}"
    )
    ok = (
        verify.returncode == 0 and chain.returncode == 0 and before[0] == after[0] and after[1] == 0
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
