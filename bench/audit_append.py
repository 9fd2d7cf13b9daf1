"""The audit append's cost inside the minimal transfer, measured with pgbench.

    .venv/bin/python bench/audit_append.py [--clients 32] [--seconds 15] [--rounds 2]

The minimal transfer a ledger cannot do without, in one transaction with synchronous_commit on:
lock two account rows in id order, update both balances, insert the transaction, its two
entries, one idempotency row and one audit row. Three variants of the audit row run against a
scratch database (`flowlet_bench_append`, dropped afterwards) with audit_log's real indexes:

* `none`   — no audit row (the ceiling);
* `locked` — the previous design: lock the `audit_chain_head` row, insert the record with its
  sequence and hashes, move the head (the lock is held through COMMIT);
* `sealed` — the current design: insert the record with its transaction id and digest, no
  shared lock (the sealer chains it after commit, off the transfer's path).

Rounds interleave the variants, so that the machine's load hits them alike; the best round of
each is printed with its ratio to `none`.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile

PG = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DB = "flowlet_bench_append"
ACCOUNTS = 10_000

SCHEMA = f"""
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE TABLE accounts (id bigint PRIMARY KEY, balance bigint NOT NULL, updated_at timestamptz);
INSERT INTO accounts SELECT g, 1000000000, now() FROM generate_series(1, {ACCOUNTS}) g;
CREATE TABLE journal_transactions (id bigserial PRIMARY KEY, public_id uuid UNIQUE NOT NULL,
  amount bigint NOT NULL, from_account_id bigint, to_account_id bigint,
  created_at timestamptz NOT NULL);
CREATE INDEX ON journal_transactions (from_account_id, created_at);
CREATE TABLE ledger_entries (id bigserial PRIMARY KEY, transaction_id bigint NOT NULL,
  account_id bigint NOT NULL, amount bigint NOT NULL, created_at timestamptz NOT NULL);
CREATE INDEX ON ledger_entries (account_id, created_at);
CREATE TABLE idempotency_keys (id bigserial PRIMARY KEY, key text NOT NULL, status text,
  created_at timestamptz, UNIQUE (key));
-- the previous audit_log (sequence and hashes in the row) and its head
CREATE TABLE audit_log_locked (id bigserial PRIMARY KEY, public_id uuid UNIQUE NOT NULL,
  sequence bigint UNIQUE NOT NULL, occurred_at timestamptz NOT NULL, actor_id varchar(64),
  action varchar(64) NOT NULL, resource_type varchar(64), resource_id varchar(64),
  outcome varchar(16) NOT NULL, changes json, prev_hash varchar(64) NOT NULL,
  hash varchar(64) UNIQUE NOT NULL);
CREATE INDEX ON audit_log_locked (occurred_at);
CREATE INDEX ON audit_log_locked (actor_id);
CREATE INDEX ON audit_log_locked (action);
CREATE INDEX ON audit_log_locked (resource_type, resource_id);
CREATE TABLE audit_chain_head (id int PRIMARY KEY, sequence bigint NOT NULL, hash text NOT NULL);
INSERT INTO audit_chain_head VALUES (1, 0, repeat('0', 64));
-- the current audit_log (txid and digest; the seal lives in audit_seal)
CREATE TABLE audit_log (id bigserial PRIMARY KEY, public_id uuid UNIQUE NOT NULL,
  txid bigint NOT NULL, occurred_at timestamptz NOT NULL, actor_id varchar(64),
  action varchar(64) NOT NULL, resource_type varchar(64), resource_id varchar(64),
  outcome varchar(16) NOT NULL, changes json, digest varchar(64) NOT NULL);
CREATE INDEX ON audit_log (occurred_at);
CREATE INDEX ON audit_log (actor_id);
CREATE INDEX ON audit_log (action);
CREATE INDEX ON audit_log (resource_type, resource_id);
CREATE INDEX ON audit_log (txid, id);
"""

TRANSFER = """
\\set a random(1, {accounts})
\\set b random(1, {accounts})
BEGIN;
SELECT id FROM accounts WHERE id IN (:a, :b) ORDER BY id FOR UPDATE;
UPDATE accounts SET balance = balance - 1, updated_at = now() WHERE id = :a;
UPDATE accounts SET balance = balance + 1, updated_at = now() WHERE id = :b;
WITH t AS (INSERT INTO journal_transactions (public_id, amount, from_account_id, to_account_id,
    created_at) VALUES (gen_random_uuid(), 1, :a, :b, now()) RETURNING id)
INSERT INTO ledger_entries (transaction_id, account_id, amount, created_at)
  SELECT id, :a, -1, now() FROM t UNION ALL SELECT id, :b, 1, now() FROM t;
INSERT INTO idempotency_keys (key, status, created_at)
  VALUES (gen_random_uuid()::text, 'committed', now());
{audit}
COMMIT;
"""

AUDIT = {
    "none": "",
    "locked": """SELECT sequence, hash FROM audit_chain_head WHERE id = 1 FOR UPDATE;
WITH appended AS (
  INSERT INTO audit_log_locked (public_id, sequence, occurred_at, actor_id, action,
    resource_type, resource_id, outcome, changes, prev_hash, hash)
  SELECT gen_random_uuid(), sequence + 1, now(), 'bench', 'transaction.transfer',
    'transaction', 'x', 'success', '{"amount":"1.00"}', hash,
    md5(random()::text) || md5(random()::text)
  FROM audit_chain_head WHERE id = 1)
UPDATE audit_chain_head SET sequence = sequence + 1,
  hash = md5(random()::text) || md5(random()::text) WHERE id = 1;""",
    "sealed": """INSERT INTO audit_log (public_id, txid, occurred_at, actor_id, action,
    resource_type, resource_id, outcome, changes, digest)
  VALUES (gen_random_uuid(), pg_current_xact_id()::text::bigint, now(), 'bench',
    'transaction.transfer', 'transaction', 'x', 'success', '{"amount":"1.00"}',
    md5(random()::text) || md5(random()::text));""",
}


def psql(dbname: str, sql: str) -> None:
    url = PG.rsplit("/", 1)[0] + "/" + dbname
    subprocess.run(["psql", url, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True)


def pgbench(script: str, clients: int, seconds: int) -> float:
    url = PG.rsplit("/", 1)[0] + "/" + DB
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as handle:
        handle.write(script)
    try:
        out = subprocess.run(
            [
                "pgbench",
                "-n",
                "-c",
                str(clients),
                "-j",
                "2",
                "-T",
                str(seconds),
                "-f",
                handle.name,
                url,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        os.unlink(handle.name)
    match = re.search(r"tps = ([\d.]+)", out)
    if match is None:
        raise RuntimeError(out)
    return float(match.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    psql("postgres", f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    psql("postgres", f"CREATE DATABASE {DB}")
    try:
        psql(DB, SCHEMA)
        best: dict[str, float] = {}
        for round_ in range(1, args.rounds + 1):
            for name, audit in AUDIT.items():
                tps = pgbench(
                    TRANSFER.format(accounts=ACCOUNTS, audit=audit), args.clients, args.seconds
                )
                best[name] = max(best.get(name, 0.0), tps)
                print(f"round {round_}  {name:<7} {tps:8.0f} tps", flush=True)
        print(f"\nbest of {args.rounds}, {args.clients} clients, {args.seconds} s each:")
        for name, tps in best.items():
            print(f"  {name:<7} {tps:8.0f} tps  {tps / best['none']:.2f} × none")
    finally:
        psql("postgres", f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
