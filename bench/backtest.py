"""Rule backtest benchmark: one rule replayed over N monitoring-feed postings (default
1,000,000), its time and the peak memory (RSS) of the process that runs it.

    .venv/bin/python bench/backtest.py [--postings 1000000] [--customers 10000]
                                       [--heavy 50000] [--rule velocity] [--keep]

1. Creates `flowlet_bench_rules_backtest`, migrates it and seeds version 1 of the rules.
2. Writes the postings with one `generate_series` INSERT into `aml_postings` (what the
   backtest reads), spread over 90 days: `--customers` customers of about the same size plus
   one heavy customer with `--heavy` postings, a mix of cash, round amounts and transfers; and
   one alert of the rule for a tenth of the customers (`compliance_alerts`, the actual side).
   The rows are written with foreign-key checks off (`session_replication_role = replica`):
   the backtest reads the feed, the accounts' opening dates and the alerts, nothing else.
3. Runs the backtest (`compliance.backtests.backtest_report`, what the RQ job runs) in a fresh
   process, over the first tenth of the period and over all of it, and prints for each the
   postings read, the time and the process's resident memory before and at its peak (VmHWM).
4. Drops the database (unless `--keep`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
BACKEND = HERE.parent / "backend"
sys.path.insert(0, str(BACKEND))
sys.path.insert(0, str(HERE))

from harness import PG_ADMIN, admin_sql, db_url  # noqa: E402

DB_NAME = "flowlet_bench_rules_backtest"
T0 = datetime(2026, 1, 5, tzinfo=UTC)
DAYS = 90
PROPOSED = {
    "velocity": {"max_count": 5},
    "cash_threshold": {"threshold": "5000"},
    "structuring": {"near": 0.6},
    "round_amounts": {"min_count": 2},
    "rapid_movement": {"ratio": 0.5},
    "high_risk_country": {"countries": ["IR", "KP", "MM", "SY"]},
    "dormant_account": {"days": 30},
}

FILL = """
SET session_replication_role = replica;
SELECT setseed(0.42);
INSERT INTO aml_postings (user_id, account_id, transaction_id, kind, direction, amount,
                          currency, channel, country, counterparty, occurred_at)
SELECT u, u, g,
       CASE WHEN cash THEN 'deposit' ELSE 'transfer' END,
       CASE WHEN cash OR g %% 2 = 0 THEN 'in' ELSE 'out' END,
       CASE WHEN random() < 0.1 THEN (1 + floor(random() * 5))::bigint * 100000
            ELSE 100 + floor(random() * 900000)::bigint END,
       'USD',
       CASE WHEN cash THEN 'cash' END,
       CASE WHEN random() < 0.002 THEN 'IR' ELSE 'DE' END,
       'ext',
       %(t0)s::timestamptz + random() * interval '%(days)s days'
FROM (
    SELECT g,
           CASE WHEN g <= %(heavy)s THEN %(customers)s + 1
                ELSE 1 + (g %% %(customers)s) END AS u,
           random() < 0.15 AS cash
    FROM generate_series(1, %(postings)s) AS g
) AS s;
INSERT INTO compliance_alerts (public_id, created_at, updated_at, alert_type, case_key, severity,
                               status, user_id, score, rules, details, hit_count, last_hit_at)
SELECT gen_random_uuid(), now(), now(), %(rule)s, %(rule)s, 'medium', 'resolved', u, 0, '[]',
       json_build_object('hits', json_build_array(json_build_object(
           'at', to_char((%(t0)s::timestamptz + interval '1 day' * (u %% %(days)s))
                         AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'),
           'transaction_ids', json_build_array(u)))),
       1, %(t0)s::timestamptz + interval '1 day' * (u %% %(days)s)
FROM generate_series(1, %(customers)s, 10) AS u;
SET session_replication_role = DEFAULT;
ANALYZE aml_postings;
ANALYZE compliance_alerts;
"""


def _env(database_url: str) -> dict[str, str]:
    env = {**os.environ, "FLOWLET_ENV": "development", "DATABASE_URL": database_url}
    env.update(LOG_LEVEL="WARNING")
    env.pop("REDIS_URL", None)
    return env


def prepare(args: argparse.Namespace) -> None:
    """The database, migrated and seeded, and the postings."""
    import psycopg

    admin_sql(PG_ADMIN, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    admin_sql(PG_ADMIN, f"CREATE DATABASE {DB_NAME}")
    url = db_url(DB_NAME)
    os.environ.update({k: v for k, v in _env(url).items() if k != "REDIS_URL"})
    from app import create_app
    from app.cli import run_reference_seeders
    from app.core.extensions import db
    from flask_migrate import upgrade

    app = create_app()
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        run_reference_seeders()
        db.engine.dispose()
    started = time.perf_counter()
    params = {
        "t0": T0,
        "days": DAYS,
        "heavy": args.heavy,
        "customers": args.customers,
        "postings": args.postings,
        "rule": args.rule,
    }
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(FILL % {k: _literal(v) for k, v in params.items()})
    print(f"wrote {args.postings:,} postings in {time.perf_counter() - started:.1f} s")


def _literal(value: object) -> str:
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'"
    if isinstance(value, str):
        return f"'{value}'"
    return str(value)


def status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def run_once(rule: str, days: int) -> None:
    """In a fresh process: the backtest over the first `days` days; one JSON line."""
    from app import create_app
    from app.compliance.backtests import backtest_report
    from app.core.extensions import db

    app = create_app()
    with app.app_context():
        db.session.execute(db.text("SELECT 1"))  # connect, import, warm before measuring
        before = status_kib("VmRSS")
        started = time.perf_counter()
        report = backtest_report(
            db.session(),
            rule=rule,
            params=PROPOSED[rule],
            start=T0,
            end=T0 + timedelta(days=days),
        )
        seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "days": days,
                "postings_read": report["postings_read"],
                "seconds": round(seconds, 1),
                "rss_before_mib": round(before / 1024, 1),
                "rss_peak_mib": round(status_kib("VmHWM") / 1024, 1),
                "counts": report["counts"],
            }
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postings", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--heavy", type=int, default=50_000)
    parser.add_argument("--rule", choices=sorted(PROPOSED), default="velocity")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--run-once", type=int, help=argparse.SUPPRESS)  # days, in the child
    args = parser.parse_args()
    if args.run_once:
        run_once(args.rule, args.run_once)
        return 0
    prepare(args)
    try:
        for days in (DAYS // 10, DAYS):
            subprocess.run(
                [sys.executable, __file__, "--rule", args.rule, "--run-once", str(days)],
                env=_env(db_url(DB_NAME)),
                cwd=BACKEND,
                check=True,
            )
    finally:
        if not args.keep:
            admin_sql(PG_ADMIN, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
