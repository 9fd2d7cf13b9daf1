"""The statements a movement costs are pinned: a change that adds a round trip fails here.

Counted with SQLAlchemy's `before_cursor_execute` on the app's engine, for the whole request
(the token check included), on PostgreSQL with a warm process (system accounts and prepared
statements already known).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.core.extensions import db
from tests.money_helpers import own_transfer, post

pytestmark = pytest.mark.postgres

# The key lookup, the accounts' lock with the payer's lock (the payer is read there, not by the
# edge) and the next transaction id, every fact the policies and observers read (the limits'
# and fraud rules' counters, the AML window aggregates), and one write of everything: the
# transaction, its entries, both balances, counters, activity, payee, AML feed, audit record,
# the key with its answer. (The token's session is checked from the process's cache.)
TRANSFER_STATEMENTS = 4


def _statements_of(app, send, *, status: int = 201) -> list[str]:
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        seen.append(" ".join(statement.split()))

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        response = send()
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == status, response.json
    return seen


def assert_inserted_by(statement: str, *tables: str) -> None:
    """Every one of `tables` gets its rows from `statement` (the unit of work's one write)."""
    for table in tables:
        assert f"INSERT INTO {table}" in statement, f"{table} is not in the one write: {statement}"


def test_an_internal_transfer_costs_a_pinned_number_of_statements(app, client, db_session):
    headers, _, body = own_transfer(app, db_session, amount="1.00")
    post(client, "/api/v1/transactions/transfer", headers, body)  # warm: system rows, caches
    seen = _statements_of(app, lambda: post(client, "/api/v1/transactions/transfer", headers, body))
    assert len(seen) == TRANSFER_STATEMENTS, "\n".join(seen)
    last = seen[-1]
    assert_inserted_by(
        last,
        "journal_transactions",
        "ledger_entries",
        "daily_counters",
        "aml_postings",
        "audit_log",
        "idempotency_keys",
    )
    assert "UPDATE accounts SET balance" in last
    lock = seen[1]  # the accounts first, then their customer, in one statement
    assert "FOR UPDATE" in lock and "FOR NO KEY UPDATE" in lock and "nextval" in lock
    assert "daily_counters" in seen[2] and "aml_postings" in seen[2]  # every fact, once


def test_a_warm_transfer_converts_no_statement_text_again(app, client, db_session):
    """psycopg converts each statement's placeholders once per text (`core.db`): the composed
    write and the facts are longer than its default limits, so without the raised limits it
    parsed both on every transfer."""
    from psycopg import _queries

    headers, _, body = own_transfer(app, db_session, amount="1.00")
    post(client, "/api/v1/transactions/transfer", headers, body)  # warm
    before = _queries._query2pg.cache_info()
    seen = _statements_of(app, lambda: post(client, "/api/v1/transactions/transfer", headers, body))
    after = _queries._query2pg.cache_info()
    assert max(len(statement) for statement in seen) > 4096  # past psycopg's default limit
    assert after.misses == before.misses
    assert after.hits - before.hits == len(seen)
