"""Audit chain benchmark: seal and verify N records (default 1,000,000).

    .venv/bin/python bench/audit_verify.py [--records 1000000] [--python]

1. Creates a dedicated PostgreSQL database (`flowlet_bench_audit`), migrates it, and writes N
   audit records in SQL (realistic sizes: a UUID, an actor, a request id, a `changes` document
   of about 120 bytes, the canonical digest computed by PostgreSQL).
2. Seals them with the application's sealer (`audit.seal`): the time per record is reported.
3. Times `audit.verify` (the checks run in SQL), and with `--python` the same checks walked
   in Python over the same rows (`verify_in_python`: the reference, hashing in Python).
4. Tampers with one record in the middle (trigger disabled) and checks that verify names it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

BACKEND = Path(__file__).resolve().parent.parent / "backend"
sys.path.insert(0, str(BACKEND))
os.environ.setdefault("FLOWLET_ENV", "development")
os.environ.setdefault("LOG_LEVEL", "WARNING")

PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DB_NAME = "flowlet_bench_audit"


def _admin(sql: str) -> None:
    import psycopg

    conn = psycopg.connect(PG_ADMIN)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql)
    conn.close()


def fill(engine, records: int) -> None:
    """N records in one INSERT … SELECT, digests computed by PostgreSQL's canonical form."""
    import sqlalchemy as sa
    from app.core.audit import DIGEST_SQL

    stmt = f"""
    INSERT INTO audit_log (public_id, txid, occurred_at, actor_id, actor_role, action,
        resource_type, resource_id, outcome, ip, user_agent, request_id, changes, digest)
    SELECT l.public_id, l.txid, l.occurred_at, l.actor_id, l.actor_role, l.action,
        l.resource_type, l.resource_id, l.outcome, NULL, NULL, l.request_id, l.changes,
        {DIGEST_SQL}
    FROM (
        SELECT gen_random_uuid() AS public_id, 1 AS txid,
               now() - interval '1 second' * (:n - g) AS occurred_at,
               md5(g::text)::uuid::text AS actor_id, 'customer' AS actor_role,
               'transaction.transfer' AS action, 'transaction' AS resource_type,
               md5((g * 7)::text)::uuid::text AS resource_id, 'success' AS outcome,
               md5((g * 13)::text) AS request_id,
               ('{{"amount":"' || (g % 1000) || '.00","currency":"USD","from_account":"'
                 || md5((g * 3)::text) || '","status":"completed","to_account":"'
                 || md5((g * 5)::text) || '"}}')::json AS changes,
               NULL::text AS personal_digest
        FROM generate_series(1, :n) g
    ) l
    """
    with engine.begin() as conn:
        conn.execute(sa.text(stmt), {"n": records})
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("VACUUM ANALYZE"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--python", action="store_true", help="also time the Python walk")
    args = parser.parse_args()

    import sqlalchemy as sa

    _admin(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    _admin(f"CREATE DATABASE {DB_NAME}")
    os.environ["DATABASE_URL"] = PG_ADMIN.rsplit("/", 1)[0] + "/" + DB_NAME
    os.environ.pop("REDIS_URL", None)

    from app import create_app
    from app.core import audit
    from app.core.extensions import db
    from flask_migrate import upgrade

    app = create_app()
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        engine = db.engine
        started = time.perf_counter()
        fill(engine, args.records)
        print(f"wrote {args.records:,} records in {time.perf_counter() - started:.1f} s")

        started = time.perf_counter()
        sealed = audit.seal(engine)
        took = time.perf_counter() - started
        print(
            f"sealed {sealed:,} records in {took:.1f} s ({took / max(sealed, 1) * 1e6:.1f} µs each)"
        )

        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                sa.text("VACUUM ANALYZE audit_seal")
            )
        for attempt in (1, 2):
            started = time.perf_counter()
            result = audit.verify(db.session, settle_seconds=0)
            took = time.perf_counter() - started
            print(
                f"audit verify (SQL), run {attempt}: {result.records_checked:,} records in "
                f"{took:.1f} s ({took / max(result.records_checked, 1) * 1e6:.2f} µs each), "
                f"valid={result.valid}"
            )
        if not result.valid:
            print(result)
            return 1
        if args.python:
            started = time.perf_counter()
            reference = audit.verify_in_python(db.session)
            took = time.perf_counter() - started
            print(
                f"reference, the same checks in Python: {reference.records_checked:,} records in "
                f"{took:.1f} s ({took / max(reference.records_checked, 1) * 1e6:.2f} µs each)"
            )
        db.session.remove()

        victim = args.records // 2
        with engine.begin() as conn:
            conn.execute(
                sa.text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete")
            )
            conn.execute(
                sa.text(
                    'UPDATE audit_log SET changes = \'{"amount":"999999.00"}\' WHERE id = '
                    "(SELECT record_id FROM audit_seal WHERE sequence = :s)"
                ),
                {"s": victim},
            )
            conn.execute(sa.text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_delete"))
        started = time.perf_counter()
        broken = audit.verify(db.session, settle_seconds=0)
        took = time.perf_counter() - started
        print(
            f"after editing sequence {victim:,}: valid={broken.valid}, named sequence "
            f"{broken.first_invalid_sequence} ({broken.reason}) in {took:.1f} s"
        )
        db.session.remove()
        engine.dispose()
    if os.environ.get("KEEP_BENCH_DATABASE") != "1":
        _admin(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    return 0 if broken.first_invalid_sequence == victim else 1


if __name__ == "__main__":
    sys.exit(main())
