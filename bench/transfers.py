"""Transfer benchmark: the real HTTP stack (gunicorn, PostgreSQL, Redis) against pgbench.

    .venv/bin/python bench/transfers.py        # or: make bench

1. Creates a dedicated PostgreSQL database (`flowlet_bench`), migrates it, seeds customers with
   one funded USD account each, plus one "hot" account, and copies it (`flowlet_bench_pg`) for
   pgbench.
2. Starts gunicorn on 127.0.0.1 (all traffic stays on this machine) and drives
   `POST /api/v1/transactions/transfer` with 8, 32 and 64 concurrent keep-alive clients, for a
   bounded time and number of requests, in three scenarios: random accounts, every transfer
   from one hot account (both quiet: no business rule fires), and **alert**: random accounts
   with the AML velocity line at 1 (`AML_VELOCITY_MAX_COUNT`), so that every transfer raises a
   velocity alert on both sides (gunicorn restarted with that setting).
3. Runs pgbench on the copy with the minimal transfer (`transfer.pgbench.sql`: lock two
   accounts in id order, update both, insert the transaction, its two entries, one audit row
   and one idempotency row) at the same concurrency, and prints API/pgbench as a ratio; and
   the alert path against the quiet one (alert/random) at each client count.
4. Checks the invariants afterwards (`harness.verify_books`): `flask ledger verify` (balances,
   holds and running counters) and `flask audit verify` are clean and the total of the
   customers' money is what it was; and that every transfer of the alert scenario is behind a
   velocity alert.
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
    NO_RULE_FIRES,
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
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
DB_NAME = db_name()  # BENCH_DB_PREFIX: two checkouts can run side by side
PG_COPY = db_name("pg")

ENV = {
    "FLOWLET_ENV": "development",
    "DATABASE_URL": db_url(DB_NAME),
    "REDIS_URL": REDIS_URL,
    "LOG_LEVEL": "WARNING",
    "RATELIMIT_ENABLED": "false",
    "GUNICORN_ACCESS_LOG": "/dev/null",
    # The benchmark measures the machinery, not the business rules: no limit or rule fires.
    **NO_RULE_FIRES,
    "DB_POOL_SIZE": "2",
    "JWT_ACCESS_TOKEN_SECONDS": "7200",  # the seeded tokens outlive the run
    "DB_MAX_OVERFLOW": "2",
}
# The alert path: the AML velocity line at one payment, so every transfer is a velocity hit on
# both sides (the payer's payments out, the payee's payments in), each added to that customer's
# open velocity case with its transactions; everything else as quiet as in ENV.
ALERT_ENV = {"AML_VELOCITY_MAX_COUNT": "1"}
SCENARIO_ENV = {"random": {}, "hot": {}, "alert": ALERT_ENV}


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
from app.ledger.opening import open_account
from app.ledger.accounts import Account
from app.transactions.deposits import deposit
from app.core.extensions import db

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


def _pgbench(
    clients: int, seconds: int, lo: int, hi: int, hot_id: int | None, uid: int
) -> tuple[float, float]:
    url = db_url(PG_COPY)
    defines = {"lo": lo, "hi": hi, "hot": 1 if hot_id else 0, "hot_id": hot_id or lo, "uid": uid}
    return pgbench(PGBENCH_SCRIPT, url, clients, seconds, defines)


def _journal_high_water() -> int:
    import psycopg

    with psycopg.connect(ENV["DATABASE_URL"]) as conn:
        return conn.execute("SELECT coalesce(max(id), 0) FROM journal_transactions").fetchone()[0]


def _velocity_line(max_count: str) -> None:
    """The AML velocity line as a new approved version of the rule: the environment is only
    the rule's version 1, written by `flask init-db`, so a restart with another value does not
    change it (docs/compliance.md, "Rule settings")."""
    import psycopg

    with psycopg.connect(ENV["DATABASE_URL"]) as conn:
        conn.execute(
            """
            INSERT INTO aml_rule_versions (rule, status, version, params, reason, public_id,
                                           created_at, updated_at, decided_at)
            SELECT rule, 'approved', version + 1,
                   (params::jsonb || jsonb_build_object('max_count', %s::int))::json,
                   'bench/transfers.py', gen_random_uuid(), now(), now(), now()
            FROM aml_rule_versions
            WHERE rule = 'velocity' AND status = 'approved'
            ORDER BY version DESC LIMIT 1
            """,
            (int(max_count),),
        )


def alerts_match(spans: list[tuple[int, int]]) -> bool:
    """Every transfer made with the alert settings (journal ids in `spans`, each (after, up
    to)) raised a velocity hit on both sides: it is linked to a velocity alert, and the velocity
    alerts' hits number two per transfer (the quiet scenarios raise none). Held ones keep their
    money on hold, which `ledger verify` checks (held = active holds)."""
    import psycopg

    with psycopg.connect(ENV["DATABASE_URL"]) as conn:
        transfers, held, unlinked = conn.execute(
            """
            SELECT count(*), count(*) FILTER (WHERE t.status = 'pending_review'),
              count(*) FILTER (WHERE NOT EXISTS (
                SELECT 1 FROM compliance_alert_transactions l
                JOIN compliance_alerts a ON a.id = l.alert_id
                WHERE l.transaction_id = t.id AND a.alert_type = 'velocity'))
            FROM journal_transactions t
            WHERE t.type = 'transfer' AND EXISTS (
              SELECT 1 FROM unnest(%s::bigint[], %s::bigint[]) s(after, upto)
              WHERE t.id > s.after AND t.id <= s.upto)
            """,
            ([a for a, _ in spans], [b for _, b in spans]),
        ).fetchone()
        alerts, hits = conn.execute(
            "SELECT count(*), coalesce(sum(hit_count), 0) FROM compliance_alerts "
            "WHERE alert_type = 'velocity'"
        ).fetchone()
        by_type = dict(
            conn.execute(
                "SELECT alert_type, count(*) FROM compliance_alerts GROUP BY 1 ORDER BY 1"
            ).fetchall()
        )
    print(
        f"alert scenario: {transfers} transfers ({held} held for review), {unlinked} without a "
        f"velocity alert; {alerts} velocity alerts with {hits} hits (expected {2 * transfers}); "
        f"alerts by type: {by_type}"
    )
    return transfers > 0 and unlinked == 0 and hits == 2 * transfers


# --- main --------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--max-requests", type=int, default=20_000)
    parser.add_argument("--clients", default="8,32,64")
    parser.add_argument(
        "--scenarios",
        default="random,hot,alert",
        help="comma-separated, run in this order: random, hot, alert (random with every "
        "transfer an AML velocity hit; compared with random at the same clients)",
    )
    # gunicorn's defaults on PostgreSQL: sync workers, two per core (gunicorn.conf.py).
    workers = os.environ.get("BENCH_WORKERS", str(2 * os.cpu_count()))
    parser.add_argument("--workers", type=int, default=int(workers))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", "1")))
    args = parser.parse_args()
    levels = [int(c) for c in args.clients.split(",")]
    scenarios = args.scenarios.split(",")
    unknown = set(scenarios) - set(SCENARIO_ENV)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    # A pooled connection per thread: a smaller pool opens and closes connections under load.
    ENV["DB_POOL_SIZE"] = str(max(args.threads, 2))

    data = setup(args.customers)
    users, hot = data["users"], data["hot"]
    ids = [u["id"] for u in users]
    lo, hi = min(ids), max(ids)
    before = money(ENV["DATABASE_URL"])

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

    picks = {"random": pick_random, "hot": pick_hot, "alert": pick_random}
    port = free_port()
    rows = []
    proc, running_env, alert_spans = None, None, []
    try:
        for scenario in scenarios:
            env = {**ENV, **SCENARIO_ENV[scenario]}
            if env != running_env:  # (re)start gunicorn with this scenario's settings
                if proc is not None:
                    stop(proc)
                    if running_env.items() >= ALERT_ENV.items():
                        alert_spans[-1] = (alert_spans[-1][0], _journal_high_water())
                if scenario == "alert":
                    alert_spans.append((_journal_high_water(), 0))
                extra = " ".join(f"{k}={v}" for k, v in SCENARIO_ENV[scenario].items())
                print(
                    f"gunicorn: {args.workers} workers × {args.threads} threads on "
                    f"{HOST}:{port} {extra}".rstrip(),
                    flush=True,
                )
                _velocity_line(env["AML_VELOCITY_MAX_COUNT"])
                proc = start_gunicorn(BACKEND, VENV_BIN, env, port, args.workers, args.threads)
                running_env = env
                _drive(port, 8, picks[scenario], 2, 400)  # warm up pools, caches, statements
            for clients in levels:
                with CpuMeter(proc) as meter:
                    api = _drive(port, clients, picks[scenario], args.seconds, args.max_requests)
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
        if proc is not None:
            stop(proc)
    if alert_spans and alert_spans[-1][1] == 0:
        alert_spans[-1] = (alert_spans[-1][0], _journal_high_water())
    # pgbench's tps and PostgreSQL CPU per transfer; the alert path's reference is random's.
    reference: dict[tuple[str, int], tuple[float, float]] = {}
    for row in rows:
        kind = "hot" if row["scenario"] == "hot" else "random"
        if (kind, row["clients"]) not in reference:
            reference[kind, row["clients"]] = _pgbench(
                row["clients"],
                int(args.seconds),
                lo,
                hi,
                hot["id"] if kind == "hot" else None,
                users[0]["uid"],
            )
            tps, cpu = reference[kind, row["clients"]]
            print(
                f"  pgbench {kind:6} c={row['clients']:<3} {tps:8.1f} tps  "
                f"PostgreSQL CPU per transfer {cpu:.2f} ms",
                flush=True,
            )
        row["pg_tps"], row["pg_ref_cpu_ms"] = reference[kind, row["clients"]]

    print_table(rows, "transfers/s")
    compare_alert_path(rows)

    print()
    ok = verify_books(BACKEND, VENV_BIN, ENV, money_before=before)
    if alert_spans:
        ok = alerts_match(alert_spans) and ok
    failures = sum(n for r in rows for s, n in r["statuses"].items() if s != 201)
    print(f"non-201 responses: {failures}")
    print(
        f"mean API/pgbench ratio: "
        f"{statistics.mean(r['tps'] / r['pg_tps'] for r in rows if r['pg_tps']):.2f}"
    )
    return 0 if ok else 1


def compare_alert_path(rows: list[dict]) -> None:
    """The alert path against the quiet one at each client count where both ran."""
    quiet = {r["clients"]: r for r in rows if r["scenario"] == "random"}
    alert = [r for r in rows if r["scenario"] == "alert"]
    if not alert:
        return
    print()
    print(
        "| clients | quiet transfers/s | quiet p99 ms | alert transfers/s | alert p99 ms "
        "| alert / quiet |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for a in alert:
        q = quiet.get(a["clients"])
        if q is None:
            print(f"| {a['clients']} | (no random run) | | {a['tps']:.0f} | {a['p99']:.1f} | |")
            continue
        ratio = a["tps"] / q["tps"] if q["tps"] else 0
        print(
            f"| {a['clients']} | {q['tps']:.0f} | {q['p99']:.1f} | {a['tps']:.0f} | "
            f"{a['p99']:.1f} | {ratio:.2f} |"
        )


if __name__ == "__main__":
    sys.exit(main())
