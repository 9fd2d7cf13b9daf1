"""Reads whose cost must not grow with history, and a busy customer's transfers.

    .venv/bin/python bench/reads.py            # or: make bench (after the transfer benchmark)

Builds a dedicated database (`flowlet_bench_reads`) with bulk SQL (sizes: `--entries`,
`--year`, `--busy`; a small run proves the script, e.g. `--entries 5000 --year 2000 --busy 1000`):
- account "big": 1,000,000 entries (deposits spread over the past year);
- account "year": 200,000 transactions over the past year, in a journal of 500,000 or more;
- customer "busy": 100,000 transfers today; customer "fresh": none.
Every bulk movement comes with what the movement engine keeps for it: both entries, the
running balance, the account's balance and the customer's daily counters (`_keep_counters`).

Then measures, in-process through the Flask test client (the HTTP stack without a socket):
- `GET /accounts/{id}/balance?at=` on the 1,000,000-entry account against a 10-entry one;
- `GET /transactions?account_id=` page 1 against page 10,000 (20 a page);
- a year's statement as CSV (200,000 lines): time and the process's peak memory, in a process
  of its own;
- transfers from the busy customer against the fresh one, one client.

Ends with the books checked (`harness.verify_books`): `flask ledger verify` (the counters
against their recount included) and `flask audit verify` clean, and the customers' money
unchanged by the measurements.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from harness import PG_ADMIN, db_name, db_url, money, verify_books

BACKEND = Path(__file__).resolve().parent.parent / "backend"
VENV_BIN = Path(sys.executable).parent
DB_NAME = db_name("reads")
FUNDS = 10**10  # minor units deposited for the busy and the fresh customer
DB_URL = db_url(DB_NAME)
ENV = {
    "FLOWLET_ENV": "development",
    "DATABASE_URL": DB_URL,
    "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"),
    "LOG_LEVEL": "WARNING",
    "RATELIMIT_ENABLED": "false",
    "TRANSFER_LIMITS": json.dumps({"none": {"per_transfer": "1000000000", "daily": "1000000000"}}),
    "DEPOSIT_LIMITS": json.dumps({"none": {"per_deposit": "1000000000", "daily": "1000000000"}}),
    "FRAUD_VELOCITY_MAX": "1000000000",
    "AML_VELOCITY_MAX_COUNT": "1000000000",  # the AML velocity rule stays quiet too
    "STEP_UP_TRANSFER_THRESHOLD": "1000000",
    "JWT_ACCESS_TOKEN_SECONDS": "7200",
}


def admin_sql(*statements: str) -> None:
    import psycopg

    conn = psycopg.connect(PG_ADMIN)
    conn.autocommit = True
    with conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)
    conn.close()


def sql(*statements: str) -> list:
    import psycopg

    conn = psycopg.connect(DB_URL)
    conn.autocommit = True
    out = []
    with conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)
            out.append(cur.fetchall() if cur.description else None)
    conn.close()
    return out


def app():
    os.environ.update(ENV)
    sys.path.insert(0, str(BACKEND))
    from app import create_app

    return create_app()


# --- data ------------------------------------------------------------------------------------


def _keep_counters(direction: str, account_id: int) -> str:
    """The statement that adds `account_id`'s bulk movements to the daily counters as the app
    keeps them (`app.transactions.counters`, the same rules `ledger verify` recounts with): per
    account holder, currency and UTC day of `created_at`, `in` for completed deposits into the
    account, `out` for transfers and withdrawals from it that are completed, pending or held for
    review. Run once per bulk insert, on an account the app has not moved money on that way."""
    from app.ledger.models import TxnStatus, TxnType
    from app.transactions.counters import COUNTED_STATUSES, IN, OUTGOING_TYPES

    if direction == IN:
        column, kinds, statuses = "to_account_id", [TxnType.DEPOSIT], [TxnStatus.COMPLETED]
    else:
        column, kinds, statuses = "from_account_id", OUTGOING_TYPES, COUNTED_STATUSES

    def listed(values) -> str:
        return ", ".join(f"'{getattr(v, 'value', v)}'" for v in values)

    day = "timezone('UTC', t.created_at)::date"
    return f"""
        INSERT INTO daily_counters AS c (user_id, currency, direction, day, amount, count)
        SELECT a.user_id, t.currency, '{direction}', {day}, sum(t.amount), count(*)
        FROM journal_transactions t JOIN accounts a ON a.id = t.{column}
        WHERE t.{column} = {account_id} AND a.user_id IS NOT NULL
          AND t.type IN ({listed(kinds)}) AND t.status IN ({listed(statuses)})
        GROUP BY a.user_id, t.currency, {day}
        ON CONFLICT (user_id, currency, direction, day) DO UPDATE
        SET amount = c.amount + excluded.amount, count = c.count + excluded.count
        """


def _bulk_deposits(account_id: int, settlement_id: int, count: int, start: datetime) -> None:
    """`count` completed deposits of 1.00 into `account_id`, evenly over a year from `start`,
    with their two entries each and the running balance on the customer's entries."""
    step = 365 * 24 * 3600 / count
    sql(
        f"""
        INSERT INTO journal_transactions (public_id, type, status, amount, currency,
          from_account_id, to_account_id, description, risk_score, risk_rules, attributes,
          created_at, updated_at, posted_at)
        SELECT gen_random_uuid(), 'deposit', 'completed', 100, 'USD', {settlement_id},
          {account_id}, 'bench deposit ' || g, 0, '[]', '{{}}', t, t, t
        FROM generate_series(1, {count}) g,
             LATERAL (SELECT TIMESTAMPTZ '{start.isoformat()}' + g * interval '{step} seconds') x(t)
        """,
        f"""
        INSERT INTO ledger_entries (transaction_id, account_id, amount, currency, created_at,
          balance_after)
        SELECT id, {account_id}, 100, 'USD', created_at,
          100 * row_number() OVER (ORDER BY created_at, id)
        FROM journal_transactions WHERE to_account_id = {account_id}
        """,
        f"""
        INSERT INTO ledger_entries (transaction_id, account_id, amount, currency, created_at)
        SELECT id, {settlement_id}, -100, 'USD', created_at
        FROM journal_transactions WHERE to_account_id = {account_id}
        """,
        f"UPDATE accounts SET balance = {count * 100} WHERE id = {account_id}",
        _keep_counters("in", account_id),
    )


def setup(entries: int, year: int, busy_transfers: int) -> dict:
    print(f"creating {DB_NAME} …", flush=True)
    admin_sql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)", f"CREATE DATABASE {DB_NAME}")
    env = {**os.environ, **ENV}
    subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "--app", "main", "init-db"],
        cwd=BACKEND,
        env=env,
        check=True,
        capture_output=True,
    )
    flask_app = app()
    from app.auth.models import User, UserRole
    from app.auth.passwords import hash_password
    from app.auth.tokens import start_session
    from app.core.extensions import db
    from app.ledger.accounts import Account, SystemAccount
    from app.ledger.opening import open_account
    from app.transactions.deposits import deposit

    out = {}
    with flask_app.app_context():
        s = db.session
        pw = hash_password("Bench-Only-Password-2026")
        for name in ("big", "small", "year", "busy", "fresh", "payee"):
            user = User(
                email=f"{name}@bench.test",
                password_hash=pw,
                first_name="B",
                last_name=name,
                email_verified=True,
            )
            user.role_links.append(UserRole(role="customer"))
            s.add(user)
            s.flush()
            account = open_account(s, user=user, account_type="checking", currency="USD")
            token = start_session(s, user=user, ip="127.0.0.1", user_agent="bench", fresh=False)
            out[name] = {
                "user": user.id,
                "account": account.id,
                "public": str(account.public_id),
                "token": token.access_token,
            }
        s.commit()
        for _ in range(10):
            deposit(
                s,
                user=s.get(User, out["small"]["user"]),
                account_id=uuid.UUID(out["small"]["public"]),
                amount=100,
                currency="USD",
            )
        for name in ("busy", "fresh"):
            deposit(
                s,
                user=s.get(User, out[name]["user"]),
                account_id=uuid.UUID(out[name]["public"]),
                amount=FUNDS,
                currency="USD",
            )
        settlement = s.scalar(
            __import__("sqlalchemy")
            .select(Account.id)
            .where(Account.system_code == SystemAccount.SETTLEMENT.value, Account.currency == "USD")
        )
    year_ago = datetime.now(UTC) - timedelta(days=365)
    print(f"{entries:,} entries on one account …", flush=True)
    _bulk_deposits(out["big"]["account"], settlement, entries, year_ago)
    print(f"{year:,} transactions on another …", flush=True)
    _bulk_deposits(out["year"]["account"], settlement, year, year_ago)
    out["year"]["transactions"] = year
    out["big"]["entries"], out["busy"]["transfers"] = entries, busy_transfers
    print(f"{busy_transfers:,} transfers today from the busy customer …", flush=True)
    busy, payee = out["busy"], out["payee"]
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    sql(
        f"""
        INSERT INTO journal_transactions (public_id, type, status, amount, currency,
          from_account_id, to_account_id, initiated_by_id, description, beneficiary_key,
          risk_score, risk_rules, attributes, created_at, updated_at, posted_at)
        SELECT gen_random_uuid(), 'transfer', 'completed', 1, 'USD', {busy["account"]},
          {payee["account"]}, {busy["user"]}, 'bench', '{payee["public"]}', 0, '[]', '{{}}',
          t, t, t
        FROM generate_series(1, {busy_transfers}) g,
             LATERAL (SELECT TIMESTAMPTZ '{today.isoformat()}' + g * interval '1 millisecond') x(t)
        """,
        f"""
        INSERT INTO ledger_entries (transaction_id, account_id, amount, currency, created_at,
          balance_after)
        SELECT id, {busy["account"]}, -1, 'USD', created_at,
          {FUNDS} - row_number() OVER (ORDER BY created_at, id)
        FROM journal_transactions WHERE from_account_id = {busy["account"]}
        """,
        f"""
        INSERT INTO ledger_entries (transaction_id, account_id, amount, currency, created_at,
          balance_after)
        SELECT id, {payee["account"]}, 1, 'USD', created_at,
          row_number() OVER (ORDER BY created_at, id)
        FROM journal_transactions WHERE from_account_id = {busy["account"]}
        """,
        f"UPDATE accounts SET balance = balance - {busy_transfers} WHERE id = {busy['account']}",
        f"UPDATE accounts SET balance = balance + {busy_transfers} WHERE id = {payee['account']}",
        _keep_counters("out", busy["account"]),
        f"""
        INSERT INTO payees (user_id, beneficiary_key, first_paid_at)
        VALUES ({busy["user"]}, '{payee["public"]}', now())
        """,
        "ANALYZE",
    )
    return out


# --- measurements ----------------------------------------------------------------------------


def _timed(fn, n: int) -> float:
    """Median milliseconds of `n` calls."""
    times = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure(data: dict) -> dict:
    flask_app = app()
    client = flask_app.test_client()
    results = {}

    def headers(name):
        return {"Authorization": f"Bearer {data[name]['token']}"}

    year_ago = datetime.now(UTC) - timedelta(days=365)

    def balance(name):
        at = year_ago + timedelta(seconds=random.randrange(365 * 24 * 3600))
        url = f"/api/v1/accounts/{data[name]['public']}/balance"
        response = client.get(url, query_string={"at": at.isoformat()}, headers=headers(name))
        assert response.status_code == 200, response.get_json()

    results["balance_at_10_entries_ms"] = _timed(lambda: balance("small"), 200)
    results[f"balance_at_{data['big']['entries']}_entries_ms"] = _timed(lambda: balance("big"), 200)

    url = "/api/v1/transactions"
    query = {"account_id": data["year"]["public"], "limit": 20}
    deep_page = max(2, min(10_000, data["year"]["transactions"] // 20))
    deep = sql(
        f"""
        SELECT created_at, public_id FROM journal_transactions
        WHERE to_account_id = {data["year"]["account"]}
        ORDER BY created_at DESC, public_id DESC OFFSET {20 * (deep_page - 1) - 1} LIMIT 1
        """
    )[0][0]
    sys.path.insert(0, str(BACKEND))
    from app.core.fields import Cursor
    from app.core.pagination import encode_cursor

    with flask_app.app_context():  # the API takes back only the cursors it signed
        cursor = Cursor().serialize("cursor", {"cursor": encode_cursor(deep[0], deep[1])})

    def page(cursor=None):
        q = {**query, **({"cursor": cursor} if cursor else {})}
        response = client.get(url, query_string=q, headers=headers("year"))
        assert response.status_code == 200 and len(response.get_json()["items"]) == 20

    results["page_1_ms"] = _timed(page, 50)
    results[f"page_{deep_page}_ms"] = _timed(lambda: page(cursor), 50)

    def transfer(name):
        body = {
            "from_account_id": data[name]["public"],
            "to_account_id": data["payee"]["public"],
            "amount": "0.01",
            "currency": "USD",
        }
        response = client.post(
            "/api/v1/transactions/transfer",
            json=body,
            headers={**headers(name), "Idempotency-Key": str(uuid.uuid4())},
        )
        assert response.status_code == 201, response.get_json()

    for _ in range(20):
        transfer("fresh")
        transfer("busy")
    # Interleaved, so that both see the same machine: medians of 200 each.
    fresh, busy = [], []
    for _ in range(200):
        fresh.append(_timed(lambda: transfer("fresh"), 1))
        busy.append(_timed(lambda: transfer("busy"), 1))
    results["transfer_no_history_ms"] = statistics.median(fresh)
    results[f"transfer_{data['busy']['transfers']}_today_ms"] = statistics.median(busy)
    return results


def statement_child(data: dict) -> None:
    """Runs in its own process: a year's CSV statement, its time and the peak memory."""
    flask_app = app()
    client = flask_app.test_client()

    def rss_kb() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    client.get("/health")
    before = peak = rss_kb()
    today = datetime.now(UTC).date()
    started = time.perf_counter()
    response = client.get(
        f"/api/v1/accounts/{data['year']['public']}/statement",
        query_string={
            "from": (today - timedelta(days=366)).isoformat(),
            "to": today.isoformat(),
            "format": "csv",
        },
        headers={"Authorization": f"Bearer {data['year']['token']}"},
        buffered=False,
    )
    lines = 0
    for chunk in response.response:
        lines += chunk.count(b"\n")
        peak = max(peak, rss_kb())
    elapsed = time.perf_counter() - started
    print(
        json.dumps(
            {
                "csv_lines": lines,
                "csv_seconds": elapsed,
                "csv_peak_rss_growth_mb": (peak - before) / 1024,
            }
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statement-child", help=argparse.SUPPRESS)
    parser.add_argument(
        "--reuse", action="store_true", help="measure again on the data of the last run"
    )
    parser.add_argument("--entries", type=int, default=1_000_000, help="on the big account")
    parser.add_argument(
        "--year", type=int, default=200_000, help="transactions over a year on another account"
    )
    parser.add_argument("--busy", type=int, default=100_000, help="the busy customer's today")
    args = parser.parse_args()
    if args.statement_child:
        statement_child(json.loads(Path(args.statement_child).read_text()))
        return 0
    state = Path(f"/tmp/{DB_NAME}.json")
    data = (
        json.loads(state.read_text()) if args.reuse else setup(args.entries, args.year, args.busy)
    )
    state.write_text(json.dumps(data))
    before = money(DB_URL)
    child = subprocess.run(
        [sys.executable, __file__, "--statement-child", str(state)],
        check=True,
        capture_output=True,
        text=True,
    )
    statement = json.loads(child.stdout.strip().splitlines()[-1])
    results = {**measure(data), **statement}
    print()
    print("| measurement | value |")
    print("| --- | ---: |")
    for key, value in results.items():
        print(f"| {key} | {value:.1f} |" if isinstance(value, float) else f"| {key} | {value} |")
    print()
    ok = verify_books(BACKEND, VENV_BIN, ENV, money_before=before)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
