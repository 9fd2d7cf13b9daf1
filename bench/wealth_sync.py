"""Broker sync benchmark: sandbox syncs through a real RQ worker against PostgreSQL alone.

    .venv/bin/python bench/wealth_sync.py [--customers 200]

1. Creates a dedicated PostgreSQL database (`flowlet_bench_wealth`), migrates it, stores the
   day's exchange rates and creates customers that each link the sandbox broker (the link
   queues a sync job on Redis, database `BENCH_WEALTH_REDIS_URL`, emptied first).
2. Works the `sync` queue with one `SimpleWorker` in burst mode (first syncs: inserts), then
   queues the daily sync of every linked account and works it again (same day: upserts).
3. Reference: the minimal SQL one sync needs (lock the linked account, upsert two snapshots,
   replace three positions, update the link) from one psycopg connection, same count.
4. Checks that there are exactly two snapshots and six positions per customer afterwards.

Prints syncs/s for each pass and the ratio to the reference. One process, one connection:
this measures the cost per sync, not parallel throughput.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

BACKEND = Path(__file__).resolve().parent.parent / "backend"
sys.path.insert(0, str(BACKEND))

PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_WEALTH_REDIS_URL", "redis://127.0.0.1:6379/15")
DB_NAME = "flowlet_bench_wealth"

REFERENCE_SQL = [
    "SELECT id FROM linked_accounts WHERE id = %(link)s FOR UPDATE",
    """INSERT INTO wealth_snapshots (linked_account_id, account_ref, account_name, snapshot_date,
         balance, currency, base_currency, base_value, rate, rate_date, synced_at)
       VALUES (%(link)s, 'REF-DEPOT', 'Depot', %(day)s, 1000000, 'EUR', 'USD', 1100000, 1.1,
               %(day)s, now())
       ON CONFLICT (linked_account_id, account_ref, snapshot_date)
       DO UPDATE SET balance = excluded.balance, base_value = excluded.base_value
       RETURNING id""",
    """INSERT INTO wealth_snapshots (linked_account_id, account_ref, account_name, snapshot_date,
         balance, currency, base_currency, base_value, rate, rate_date, synced_at)
       VALUES (%(link)s, 'REF-CASH', 'Cash', %(day)s, 250000, 'USD', 'USD', 250000, 1,
               %(day)s, now())
       ON CONFLICT (linked_account_id, account_ref, snapshot_date)
       DO UPDATE SET balance = excluded.balance, base_value = excluded.base_value
       RETURNING id""",
]


def _run_reference(url: str, link_ids: list[int]) -> float:
    import psycopg

    conn = psycopg.connect(url)
    day = date.today()
    started = time.perf_counter()
    with conn.cursor() as cur:
        for link in link_ids:
            params = {"link": link, "day": day}
            cur.execute(REFERENCE_SQL[0], params)
            cur.execute(REFERENCE_SQL[1], params)
            snapshot_id = cur.fetchone()[0]
            cur.execute(REFERENCE_SQL[2], params)
            cur.execute("DELETE FROM wealth_positions WHERE snapshot_id = %s", (snapshot_id,))
            for symbol in ("AAA", "BBB", "CCC"):
                cur.execute(
                    "INSERT INTO wealth_positions (snapshot_id, symbol, quantity, price, value,"
                    " currency, asset_class) VALUES (%s, %s, 3, 100.5, 30150, 'EUR', 'equity')",
                    (snapshot_id, symbol),
                )
            cur.execute(
                "UPDATE linked_accounts SET status = 'active', last_synced_at = now(),"
                " updated_at = now() WHERE id = %s",
                (link,),
            )
            conn.commit()
    elapsed = time.perf_counter() - started
    with conn.cursor() as cur:
        cur.execute("DELETE FROM wealth_snapshots WHERE account_ref LIKE 'REF-%'")
    conn.commit()
    conn.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=200)
    args = parser.parse_args()

    os.environ.update(
        {
            "FLOWLET_ENV": "development",
            "DATABASE_URL": PG_ADMIN.rsplit("/", 1)[0] + "/" + DB_NAME,
            "REDIS_URL": REDIS_URL,
            "LOG_LEVEL": "WARNING",
            "EXCHANGE_RATES_URL": "http://127.0.0.1:9/unused",
        }
    )
    import redis as redis_lib
    import sqlalchemy as sa
    from rq import Queue, SimpleWorker
    from tests.conftest import create_pg_database, drop_pg_database, migrate

    db_url = create_pg_database(DB_NAME)
    redis_lib.Redis.from_url(REDIS_URL).flushdb()

    from app import create_app
    from app.auth.users import create_user
    from app.core.extensions import db
    from app.wealth import rates
    from app.wealth.models import LinkedAccount, WealthPosition, WealthSnapshot
    from app.wealth.services import link_account
    from app.wealth.tasks import enqueue_daily_syncs

    app = create_app()
    migrate(app)
    with app.app_context():
        session = db.session
        today = date.today()
        rates.store_day(session, today, {"USD": Decimal("1.10"), "GBP": Decimal("0.85")})
        session.commit()
        print(f"creating {args.customers} customers with a sandbox link …", flush=True)
        for n in range(args.customers):
            user = create_user(
                session,
                email=f"bench-{n}@example.com",
                password="Bench-Wealth-Pass-2026",
                first_name="Bench",
                last_name=f"Customer {n}",
                roles=["customer"],
                email_verified=True,
            )
            session.commit()
            link_account(
                session,
                user=user,
                broker_code="sandbox",
                credentials={"username": f"bench-{n}", "password": "pw"},
            )
        redis = app.extensions["flowlet_redis"]
        queue = Queue("sync", connection=redis)
        results = {}
        for label in ("first sync (insert)", "same-day sync (upsert)"):
            if label.startswith("same"):
                enqueue_daily_syncs(session)
            jobs = queue.count
            worker = SimpleWorker([queue], connection=redis)
            worker.log.setLevel("WARNING")
            started = time.perf_counter()
            worker.work(burst=True, logging_level="WARNING")
            results[label] = (jobs, time.perf_counter() - started)
        session.remove()
        snapshots = session.scalar(sa.select(sa.func.count()).select_from(WealthSnapshot))
        positions = session.scalar(sa.select(sa.func.count()).select_from(WealthPosition))
        link_ids = list(session.scalars(sa.select(LinkedAccount.id).order_by(LinkedAccount.id)))
        failed = session.scalar(
            sa.select(sa.func.count())
            .select_from(LinkedAccount)
            .where(LinkedAccount.status != "active")
        )
        session.remove()
        db.engine.dispose()

    reference = _run_reference(db_url.replace("+psycopg", ""), link_ids)
    ref_rate = len(link_ids) / reference
    print(f"\n{'pass':<26}{'syncs':>7}{'seconds':>10}{'syncs/s':>10}{'vs SQL only':>13}")
    for label, (jobs, seconds) in results.items():
        rate = jobs / seconds
        print(f"{label:<26}{jobs:>7}{seconds:>10.2f}{rate:>10.1f}{rate / ref_rate:>13.2f}")
    print(
        f"{'reference: SQL only':<26}{len(link_ids):>7}{reference:>10.2f}"
        f"{ref_rate:>10.1f}{1:>13.2f}"
    )
    print(
        f"\nsnapshots {snapshots} (expected {2 * args.customers}), positions {positions} "
        f"(expected {3 * args.customers}), links not active {failed}"
    )
    ok = snapshots == 2 * args.customers and positions == 3 * args.customers and failed == 0
    if os.environ.get("KEEP_BENCH_DATABASE") != "1":
        drop_pg_database(DB_NAME)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
