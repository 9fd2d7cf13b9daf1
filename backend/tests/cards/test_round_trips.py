"""The statements one approved card authorization costs are pinned, as a transfer's are
(tests/transactions/test_round_trips.py): a change that adds a round trip fails here.

Counted for the whole `POST /api/v1/card-network/authorizations` request on PostgreSQL, with a
warm process (the card clearing account's id and the prepared statements already known).
"""

from __future__ import annotations

import pytest

from tests.cards.conftest import authorize, issue, purchase, reveal
from tests.transactions.test_round_trips import _statements_of

pytestmark = pytest.mark.postgres

# The token check's user, the key lookup, the card by fingerprint (locked), the card's spending
# of the day and the month, the account's lock, the card clearing account, the customer's lock
# with the next transaction and hold ids, the fraud rules' facts, the AML facts, and one write
# of everything: the transaction, the hold, the account's held amount, the authorization row,
# the AML feed, the audit records, the key with its answer. (15 before the hold and the
# authorization row were staged: the audit record was written before the account's lock, the
# hold and its transaction by a flush, the authorization row by another.)
AUTHORIZATION_STATEMENTS = 10


def test_an_approved_authorization_costs_a_pinned_number_of_statements(
    app, client, customer, processor_headers
):
    issued = issue(client, customer)
    secret = reveal(app, client, customer, issued["id"])
    body = purchase(secret, amount="1.00")
    warm = authorize(client, processor_headers, body)  # warm: the clearing account, caches
    assert warm.json["approved"] is True, warm.json
    seen = _statements_of(app, lambda: authorize(client, processor_headers, body), status=200)
    assert len(seen) == AUTHORIZATION_STATEMENTS, "\n".join(seen)
    last = seen[-1]
    for table in (
        "journal_transactions",
        "holds",
        "card_authorizations",
        "aml_postings",
        "audit_log",
        "idempotency_keys",
    ):
        assert f"INSERT INTO {table}" in last, f"{table} is not in the one write: {last}"
    assert "UPDATE accounts SET held" in last
    lock = seen[-4]
    assert "FOR NO KEY UPDATE OF users" in lock, lock
    assert lock.count("nextval(") == 2, lock
    assert not any(s.startswith(("INSERT", "UPDATE")) for s in seen[:-1]), "\n".join(seen)
