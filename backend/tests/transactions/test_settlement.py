"""External (IBAN) transfers: held as pending, posted by the settlement job, reversed on failure."""

from __future__ import annotations

import uuid

import pytest

from app.core.db import utcnow
from app.core.extensions import db
from app.ledger.models import JournalTransaction
from app.transactions.tasks import settle_external_transfer
from tests.factories import auth_headers, make_user
from tests.money_helpers import (
    assert_ledger_consistent,
    audit_actions,
    balance_of,
    make_account,
    post,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

TRANSFER = "/api/v1/transactions/transfer"


def _external(src, iban="GB33BUKB20201555555555", amount="40.00"):
    return {
        "from_account_id": str(src.public_id),
        "to_iban": iban,
        "beneficiary_name": "Jane Doe",
        "amount": amount,
        "currency": "USD",
        "description": "Invoice 42",
    }


def test_external_transfer_is_pending_until_settled(app, client, db_session, run_jobs):
    user = make_user(db_session)
    headers = auth_headers(app, user)
    src = make_account(db_session, user, balance="100.00")
    response = post(client, TRANSFER, headers, _external(src, "gb33 bukb 2020 1555 5555 55"))
    assert response.status_code == 201, response.json
    txn = response.json
    assert txn["status"] == "pending" and txn["entries"] == []
    assert txn["to_iban"] == "GB33BUKB20201555555555" and txn["to_account_id"] is None
    assert balance_of(app, src.public_id) == (10000, 4000)
    shown = client.get(f"/api/v1/accounts/{src.public_id}", headers=headers).json
    assert shown["available_balance"] == "60.00"
    run_jobs()
    settled = client.get(f"/api/v1/transactions/{txn['id']}", headers=headers).json
    assert settled["status"] == "completed"
    assert sorted(e["direction"] for e in settled["entries"]) == ["credit", "debit"]
    assert balance_of(app, src.public_id) == (6000, 0)
    assert ("transaction.settled", "success") in audit_actions(app, txn["id"])
    # Running the job again changes nothing.
    with app.app_context():
        internal_id = (
            db.session.query(JournalTransaction.id)
            .filter_by(public_id=uuid.UUID(txn["id"]))
            .scalar()
        )
    assert settle_external_transfer(internal_id) == "completed"
    assert balance_of(app, src.public_id) == (6000, 0)
    assert_ledger_consistent(app)


def test_a_refused_settlement_is_reversed(app, client, db_session, run_jobs, monkeypatch):
    monkeypatch.setitem(app.config, "SETTLEMENT_REJECTED_COUNTRIES", ["FR"])
    user = make_user(db_session)
    headers = auth_headers(app, user)
    src = make_account(db_session, user, balance="100.00")
    txn = post(client, TRANSFER, headers, _external(src, "FR1420041010050500013M02606")).json
    assert txn["status"] == "pending"
    run_jobs()
    reversed_ = client.get(f"/api/v1/transactions/{txn['id']}", headers=headers).json
    assert reversed_["status"] == "reversed"
    assert "not served" in reversed_["failure_reason"]
    assert balance_of(app, src.public_id) == (10000, 0)
    history = client.get(
        f"/api/v1/transactions?account_id={src.public_id}&type=reversal", headers=headers
    ).json["items"]
    assert len(history) == 1 and history[0]["amount"] == "40.00"
    assert ("transaction.reversed", "success") in audit_actions(app, txn["id"])
    assert_ledger_consistent(app)


def test_an_approved_external_transfer_goes_on_to_settlement(app, client, db_session, run_jobs):
    user = make_user(db_session, password_changed_at=utcnow())
    headers = auth_headers(app, user)
    src = make_account(db_session, user, balance="100.00")
    txn = post(client, TRANSFER, headers, _external(src)).json
    assert txn["status"] == "pending_review"
    officer = auth_headers(app, make_user(db_session, role="compliance_officer"))
    approved = client.post(
        f"/api/v1/compliance/transactions/{txn['id']}/approve", json={}, headers=officer
    )
    assert approved.json["status"] == "pending"
    run_jobs()
    done = client.get(f"/api/v1/transactions/{txn['id']}", headers=headers).json
    assert done["status"] == "completed"
    assert balance_of(app, src.public_id) == (6000, 0)
    assert_ledger_consistent(app)
