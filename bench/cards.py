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
   and prints API/pgbench as a ratio (the machine may be shared: the ratio is what compares),
   with the CPU per authorization of the app (gunicorn's processes) and of PostgreSQL.
4. Checks afterwards (`harness.verify_books`): `flask ledger verify` and `flask audit verify`
   are clean and the customers' money is unchanged (an authorization only holds money), and
   every approved authorization holds exactly its amount.

Card networks expect an answer within about 100 ms end to end: the p99 is printed next to it.
`BENCH_BACKEND` runs another checkout's backend under the same benchmark (old against new).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import uuid
from pathlib import Path

from harness import (
    HOST,
    PG_ADMIN,
    CpuMeter,
    admin_sql,
    db_name,
    db_url,
    drive,
    free_port,
    money,
    pgbench,
    print_table,
    start_gunicorn,
    stop,
    verify_books,
)

# BENCH_BACKEND measures another checkout's backend with this same benchmark (old against new).
BACKEND = Path(
    os.environ.get("BENCH_BACKEND") or Path(__file__).resolve().parent.parent / "backend"
).resolve()
VENV_BIN = Path(sys.executable).parent
REDIS_URL = os.environ.get("BENCH_CARDS_REDIS_URL", "redis://127.0.0.1:6379/15")
DB_NAME = db_name("cards")
PG_COPY = db_name("cards_pg")
PATH = "/api/v1/card-network/authorizations"
PGBENCH_SCRIPT = Path(__file__).with_name("card_authorization.pgbench.sql")

ENV = {
    "FLOWLET_ENV": "development",
    "DATABASE_URL": db_url(DB_NAME),
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
    "AML_VELOCITY_MAX_COUNT": "100000000",  # the AML velocity rule stays quiet too
    "DEPOSIT_LIMITS": json.dumps({"approved": {"per_deposit": "100000000", "daily": "100000000"}}),
}


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
from app.ledger.opening import open_account
from app.cards.issuing import issue_card, reveal_card
from app.cards.models import Card
from app.transactions.deposits import deposit
from app.core.extensions import db

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
        PG_ADMIN,
        f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)",
        f"DROP DATABASE IF EXISTS {PG_COPY} WITH (FORCE)",
        f"CREATE DATABASE {DB_NAME}",
    )
    run([str(VENV_BIN / "flask"), "--app", "main", "init-db"])
    print(f"seeding {customers} customers with a card each …", flush=True)
    result = run([sys.executable, "-c", SEED.replace("CUSTOMERS", str(customers))])
    data = json.loads(result.stdout.strip().splitlines()[-1])
    admin_sql(PG_ADMIN, f"CREATE DATABASE {PG_COPY} TEMPLATE {DB_NAME}")
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


# --- requests ----------------------------------------------------------------------------------


def classify(status: int, body: bytes) -> str:
    if status == 200:
        return "approved" if json.loads(body).get("approved") else "declined"
    return str(status)


def requests_for(token: str, pick):
    def next_request():
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}
        return PATH, headers, pick()

    return next_request


def holds_match(approved: int) -> bool:
    """Every approved authorization holds its amount: the sums agree, and no hold is lost."""
    import psycopg

    conn = psycopg.connect(ENV["DATABASE_URL"])
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
    workers = os.environ.get("BENCH_WORKERS", str(2 * os.cpu_count()))
    parser.add_argument("--workers", type=int, default=int(workers))
    args = parser.parse_args()
    levels = [int(c) for c in args.clients.split(",")]

    data = setup(args.customers)
    cards, token, proc_id = data["cards"], data["processor"]["token"], data["processor"]["id"]
    bodies = [body_for(card) for card in cards]
    hot = bodies[0]
    ids = [c["id"] for c in cards]
    before = money(ENV["DATABASE_URL"])

    port = free_port()
    print(f"gunicorn: {args.workers} workers on {HOST}:{port}", flush=True)
    proc = start_gunicorn(BACKEND, VENV_BIN, ENV, port, args.workers)
    rows = []
    anywhere = requests_for(token, lambda: random.choice(bodies))
    try:
        warm = drive(port, 8, anywhere, classify, 2, 400, "approved")
        for scenario, pick in (("random", anywhere), ("hot", requests_for(token, lambda: hot))):
            for clients in levels:
                with CpuMeter(proc) as meter:
                    api = drive(
                        port, clients, pick, classify, args.seconds, args.max_requests, "approved"
                    )
                api.update(meter.per_request(sum(api["outcomes"].values())))
                rows.append({"scenario": scenario, "clients": clients, **api})
                print(
                    f"  api {scenario:6} c={clients:<3} {api['tps']:8.1f} auth/s "
                    f"p50 {api['p50']:6.1f} ms p95 {api['p95']:6.1f} ms "
                    f"p99 {api['p99']:6.1f} ms  {api['outcomes']}  CPU per authorization: "
                    f"app {api['app_cpu_ms']:.1f} ms, PostgreSQL {api['pg_cpu_ms']:.1f} ms, "
                    f"machine idle {api['idle_pct']:.0f} %",
                    flush=True,
                )
    finally:
        stop(proc)
    copy_url = db_url(PG_COPY)
    for row in rows:
        is_hot = row["scenario"] == "hot"
        defines = {"lo": min(ids), "hi": max(ids), "hot": int(is_hot), "hot_id": ids[0]}
        row["pg_tps"], row["pg_ref_cpu_ms"] = pgbench(
            PGBENCH_SCRIPT,
            copy_url,
            row["clients"],
            int(args.seconds),
            {**defines, "proc": proc_id},
        )
        print(f"  pgbench {row['scenario']:6} c={row['clients']:<3} {row['pg_tps']:8.1f} tps")

    print_table(rows, "authorizations/s")
    print()
    ok = verify_books(BACKEND, VENV_BIN, ENV, money_before=before)
    approved = sum(r["outcomes"].get("approved", 0) for r in [warm, *rows])
    ok_holds = holds_match(approved)
    failures = sum(n for r in rows for k, n in r["outcomes"].items() if k != "approved")
    print(f"responses other than an approval: {failures}")
    return 0 if ok and ok_holds and not failures else 1


if __name__ == "__main__":
    sys.exit(main())
