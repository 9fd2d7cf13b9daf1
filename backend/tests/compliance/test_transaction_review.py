"""Fraud rules hold risky transfers for review; a compliance officer approves or rejects."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.compliance.models import ComplianceAlert
from app.core import uow
from app.core.db import utcnow
from app.ledger.models import JournalTransaction
from tests.factories import auth_headers, make_user
from tests.money_helpers import (
    assert_ledger_consistent,
    audit_actions,
    balance_of,
    make_account,
    send_transfer,
)

pytestmark = pytest.mark.postgres


def _alert(db_session, txn_public_id) -> ComplianceAlert:
    db_session.expire_all()
    return db_session.scalar(
        sa.select(ComplianceAlert)
        .join(JournalTransaction, JournalTransaction.id == ComplianceAlert.transaction_id)
        .where(JournalTransaction.public_id == txn_public_id)
    )


@pytest.fixture
def officer(app, db_session):
    user = make_user(db_session, role="compliance_officer")
    return user, auth_headers(app, user)


def test_first_transfer_after_a_password_change_is_held(app, client, db_session, officer):
    user = make_user(db_session, password_changed_at=utcnow() - timedelta(minutes=5))
    headers = auth_headers(app, user)
    src = make_account(db_session, user, balance="100.00")
    dst = make_account(db_session, make_user(db_session))
    held = send_transfer(client, headers, src, dst, "30.00")
    assert held.status_code == 201
    body = held.json
    assert body["status"] == "pending_review"
    assert body["risk_rules"] == ["recent_security_change"] and body["risk_score"] >= 50
    assert body["entries"] == []
    assert balance_of(app, src.public_id) == (10000, 3000)
    shown = client.get(f"/api/v1/accounts/{src.public_id}", headers=headers).json
    assert shown["balance"] == "100.00" and shown["available_balance"] == "70.00"
    alert = _alert(db_session, body["id"])
    assert alert.status == "open" and alert.rules == ["recent_security_change"]
    # The next transfer is not "the first after the change" any more.
    assert send_transfer(client, headers, src, dst, "1.00").json["status"] == "completed"

    _, officer_headers = officer
    approved = client.post(
        f"/api/v1/compliance/transactions/{body['id']}/approve",
        json={"notes": "called the customer"},
        headers=officer_headers,
    )
    assert approved.status_code == 200, approved.json
    assert approved.json["status"] == "completed" and len(approved.json["entries"]) == 2
    assert balance_of(app, src.public_id) == (6900, 0)
    assert balance_of(app, dst.public_id) == (3100, 0)
    assert _alert(db_session, body["id"]).resolution == "approved"
    assert ("transaction.review_approved", "success") in audit_actions(app, body["id"])
    again = client.post(
        f"/api/v1/compliance/transactions/{body['id']}/approve", json={}, headers=officer_headers
    )
    assert again.status_code == 409
    assert_ledger_consistent(app)


def test_reject_releases_the_held_funds(app, client, db_session, officer):
    user = make_user(db_session, mfa_changed_at=utcnow() - timedelta(hours=1))
    headers = auth_headers(app, user)
    src = make_account(db_session, user, balance="100.00")
    dst = make_account(db_session, make_user(db_session))
    txn = send_transfer(client, headers, src, dst, "80.00").json
    assert txn["status"] == "pending_review"
    # Held funds are not available to another transfer.
    blocked = send_transfer(client, headers, src, dst, "30.00")
    assert blocked.json["error"]["code"] == "insufficient_funds"
    _, officer_headers = officer
    rejected = client.post(
        f"/api/v1/compliance/transactions/{txn['id']}/reject",
        json={"notes": "mule account"},
        headers=officer_headers,
    )
    assert rejected.status_code == 200 and rejected.json["status"] == "rejected"
    assert balance_of(app, src.public_id) == (10000, 0)
    assert balance_of(app, dst.public_id) == (0, 0)
    assert _alert(db_session, txn["id"]).resolution == "rejected"
    assert ("transaction.review_rejected", "success") in audit_actions(app, txn["id"])
    assert_ledger_consistent(app)


def test_velocity_holds_transfers(app, client, db_session, monkeypatch):
    monkeypatch.setitem(app.config, "FRAUD_VELOCITY_MAX", 3)
    user = make_user(db_session)
    headers = auth_headers(app, user)
    src = make_account(db_session, user, balance="100.00")
    dst = make_account(db_session, user)
    statuses = [send_transfer(client, headers, src, dst, "1.00").json for _ in range(4)]
    assert [s["status"] for s in statuses] == ["completed"] * 3 + ["pending_review"]
    assert statuses[-1]["risk_rules"] == ["velocity"]


def test_unusual_amount_and_new_beneficiary_add_up(app, client, db_session, monkeypatch):
    monkeypatch.setitem(app.config, "FRAUD_NEW_BENEFICIARY_AMOUNT", "100")
    user = make_user(db_session)
    headers = auth_headers(app, user)
    src = make_account(db_session, user, balance="900.00")
    usual = make_account(db_session, make_user(db_session))
    stranger = make_account(db_session, make_user(db_session))
    for _ in range(3):
        assert send_transfer(client, headers, src, usual, "10.00").json["status"] == "completed"
    # Far above the usual, to a known beneficiary: scored, not held.
    known = send_transfer(client, headers, src, usual, "100.00").json
    assert known["status"] == "completed"
    assert known["risk_rules"] == ["unusual_amount"] and known["risk_score"] == 40
    # Far above the usual and to someone new: held.
    new = send_transfer(client, headers, src, stranger, "200.00").json
    assert new["status"] == "pending_review"
    assert new["risk_rules"] == ["unusual_amount", "new_beneficiary_large_amount"]
    assert new["risk_score"] == 70


def test_officer_rules(app, client, db_session, officer):
    # A user who is both customer and officer may not decide their own transfer.
    both = make_user(db_session, password_changed_at=utcnow())
    both.set_roles(["customer", "compliance_officer"])
    uow.commit(db_session)
    headers = auth_headers(app, both)
    src = make_account(db_session, both, balance="10.00")
    dst = make_account(db_session, make_user(db_session))
    txn = send_transfer(client, headers, src, dst, "5.00").json
    assert txn["status"] == "pending_review"
    own = client.post(
        f"/api/v1/compliance/transactions/{txn['id']}/approve", json={}, headers=headers
    )
    assert own.status_code == 403 and own.json["error"]["code"] == "forbidden"
    customer = auth_headers(app, make_user(db_session))
    assert (
        client.post(
            f"/api/v1/compliance/transactions/{txn['id']}/reject", json={}, headers=customer
        ).status_code
        == 403
    )
    admin = auth_headers(app, make_user(db_session, role="admin"))
    assert (
        client.post(
            f"/api/v1/compliance/transactions/{txn['id']}/reject", json={}, headers=admin
        ).status_code
        == 403
    )
    _, officer_headers = officer
    missing = client.post(
        f"/api/v1/compliance/transactions/{uuid.uuid4()}/approve", json={}, headers=officer_headers
    )
    assert missing.status_code == 404
