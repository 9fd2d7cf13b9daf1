"""The statements one approved card authorization costs are pinned, as a transfer's are
(tests/transactions/test_round_trips.py): a change that adds a round trip fails here.

Counted for the whole `POST /api/v1/card-network/authorizations` request on PostgreSQL, with a
warm process (the card clearing account's id and the prepared statements already known).
"""

from __future__ import annotations

import pytest

from tests.cards.conftest import authorize, issue, purchase, reveal
from tests.transactions.test_round_trips import _statements_of, assert_inserted_by

pytestmark = pytest.mark.postgres

# The key lookup, the card by fingerprint (locked), the card's spending of the day and the
# month, one lock of the account and then its customer with the next transaction and hold ids,
# the card clearing account, every fact the fraud and AML rules read, and one write of
# everything: the transaction, the hold, the account's held amount, the authorization row, the
# AML feed, the audit records, the key with its answer. (15 before the hold and the
# authorization row were staged, 10 before the processor's row was left unread, the fraud
# rules' counters joined the other facts and the account and customer were locked together.)
AUTHORIZATION_STATEMENTS = 7


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
    assert_inserted_by(
        last,
        "journal_transactions",
        "holds",
        "card_authorizations",
        "aml_postings",
        "audit_log",
        "idempotency_keys",
    )
    assert "UPDATE accounts SET held" in last
    lock = seen[-4]
    assert "FOR UPDATE" in lock and "FOR NO KEY UPDATE" in lock, lock
    assert lock.count("nextval(") == 2, lock
    assert not any(s.startswith(("INSERT", "UPDATE")) for s in seen[:-1]), "\n".join(seen)
