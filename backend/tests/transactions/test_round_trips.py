"""The statements a movement costs are pinned: a change that adds a round trip fails here.

Counted with SQLAlchemy's `before_cursor_execute` on the app's engine, for the whole request
(the token check included), on PostgreSQL with a warm process (system accounts and prepared
statements already known).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from tests.money_helpers import own_transfer, post

pytestmark = pytest.mark.postgres

# The token check's user, the key lookup, the accounts' lock, the customer's lock with the next
# transaction id, the limits' and fraud rules' facts, the AML facts, and one write of
# everything: the transaction, its entries, both balances, counters, activity, payee, AML feed,
# audit record, the key with its answer.
TRANSFER_STATEMENTS = 7


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


def test_an_internal_transfer_costs_a_pinned_number_of_statements(app, client, db_session):
    headers, _, body = own_transfer(app, db_session, amount="1.00")
    post(client, "/api/v1/transactions/transfer", headers, body)  # warm: system rows, caches
    seen = _statements_of(app, lambda: post(client, "/api/v1/transactions/transfer", headers, body))
    assert len(seen) == TRANSFER_STATEMENTS, "\n".join(seen)
    last = seen[-1]
    for table in (
        "journal_transactions",
        "ledger_entries",
        "daily_counters",
        "aml_postings",
        "audit_log",
        "idempotency_keys",
    ):
        assert f"INSERT INTO {table}" in last, f"{table} is not in the one write: {last}"
    assert "UPDATE accounts SET balance" in last
    assert "FOR NO KEY UPDATE OF users" in seen[3] and "nextval" in seen[3]
