"""Compliance in the movement engine: every posting goes through the AML rules, and an IBAN
beneficiary on the sanctions list holds the transfer for review with an alert."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.compliance.models import AlertTransaction, ComplianceAlert, MonitoredPosting
from app.core import uow
from app.core.db import utcnow
from app.ledger.models import JournalTransaction
from tests.factories import auth_headers, make_user
from tests.money_helpers import assert_ledger_consistent, balance_of, make_account, post

pytestmark = pytest.mark.postgres

DEPOSIT = "/api/v1/transactions/deposit"
TRANSFER = "/api/v1/transactions/transfer"
GERMAN_IBAN = "DE89370400440532013000"


@pytest.fixture
def approved(app, db_session):
    user = make_user(db_session, kyc_status="approved", kyc_level="full")
    return user, auth_headers(app, user, fresh=True)


def _alerts(db_session, user):
    db_session.expire_all()
    return db_session.scalars(
        sa.select(ComplianceAlert)
        .where(ComplianceAlert.user_id == user.id)
        .order_by(ComplianceAlert.id)
    ).all()


def test_cash_deposits_over_the_day_threshold_raise_a_ctr_alert(app, client, db_session, approved):
    user, headers = approved
    account = make_account(db_session, user)
    body = {"account_id": str(account.public_id), "currency": "USD"}
    first = post(client, DEPOSIT, headers, {**body, "amount": "6000.00"})
    assert first.status_code == 201, first.json
    assert _alerts(db_session, user) == []
    second = post(client, DEPOSIT, headers, {**body, "amount": "4000.01"})
    assert second.status_code == 201
    (alert,) = _alerts(db_session, user)
    assert alert.alert_type == "cash_threshold"
    linked = db_session.scalars(
        sa.select(JournalTransaction.public_id)
        .join(AlertTransaction, AlertTransaction.transaction_id == JournalTransaction.id)
        .where(AlertTransaction.alert_id == alert.id)
    ).all()
    assert sorted(str(p) for p in linked) == sorted([first.json["id"], second.json["id"]])
    rows = db_session.scalars(
        sa.select(MonitoredPosting).where(MonitoredPosting.user_id == user.id)
    ).all()
    assert [(r.direction, r.channel) for r in rows] == [("in", "cash"), ("in", "cash")]
    assert_ledger_consistent(app)


def test_both_sides_of_a_transfer_are_monitored_and_own_transfers_are_marked(
    client, db_session, approved
):
    user, headers = approved
    payee = make_user(db_session)
    src, savings = make_account(db_session, user, balance="500.00"), make_account(db_session, user)
    dst = make_account(db_session, payee)
    for to in (dst, savings):
        response = post(
            client,
            TRANSFER,
            headers,
            {
                "from_account_id": str(src.public_id),
                "to_account_id": str(to.public_id),
                "amount": "20.00",
                "currency": "USD",
            },
        )
        assert response.status_code == 201, response.json
    db_session.expire_all()
    rows = db_session.execute(
        sa.select(
            MonitoredPosting.user_id,
            MonitoredPosting.direction,
            MonitoredPosting.counterparty,
            MonitoredPosting.kind,
        )
        .where(
            MonitoredPosting.kind == "transfer", MonitoredPosting.user_id.in_([user.id, payee.id])
        )
        .order_by(MonitoredPosting.id)
    ).all()
    assert [(r.user_id, r.direction) for r in rows] == [
        (user.id, "out"),
        (payee.id, "in"),
        (user.id, "out"),
        (user.id, "in"),
    ]
    assert rows[0].counterparty == str(dst.public_id)
    assert {r.counterparty for r in rows[2:]} == {"own"}


def test_a_listed_iban_beneficiary_holds_the_transfer_for_review_with_an_alert(
    app, client, db_session, approved, officer, sanctions_list
):
    user, headers = approved
    src = make_account(db_session, user, balance="1000.00")
    response = post(
        client,
        TRANSFER,
        headers,
        {
            "from_account_id": str(src.public_id),
            "to_iban": GERMAN_IBAN,
            "beneficiary_name": "Hamid Reza Jafarzade",
            "amount": "250.00",
            "currency": "USD",
        },
    )
    assert response.status_code == 201, response.json
    assert response.json["status"] == "pending_review"
    assert "sanctions_hit" in response.json["risk_rules"]
    assert balance_of(app, src.public_id) == (100000, 25000)
    types = sorted(a.alert_type for a in _alerts(db_session, user))
    assert types == ["sanctions_hit", "transaction_review"]
    sanction = next(a for a in _alerts(db_session, user) if a.alert_type == "sanctions_hit")
    assert "JAFARZADEH, Hamid Reza" in sanction.explanation

    _, officer_headers = officer
    rejected = client.post(
        f"/api/v1/compliance/transactions/{response.json['id']}/reject",
        json={"notes": "beneficiary confirmed on the list"},
        headers=officer_headers,
    )
    assert rejected.status_code == 200 and rejected.json["status"] == "rejected"
    assert balance_of(app, src.public_id) == (100000, 0)

    clean = post(
        client,
        TRANSFER,
        headers,
        {
            "from_account_id": str(src.public_id),
            "to_iban": GERMAN_IBAN,
            "beneficiary_name": "Greta Lindqvist",
            "amount": "25.00",
            "currency": "USD",
        },
    )
    assert clean.json["status"] == "pending"  # on to settlement as usual
    assert_ledger_consistent(app)


def test_the_initiator_cannot_approve_their_own_held_transfer(
    app, client, db_session, sanctions_list
):
    from app.auth.models import UserRole

    user = make_user(db_session, kyc_status="approved", kyc_level="full")
    db_session.add(UserRole(user_id=user.id, role="compliance_officer"))
    uow.commit(db_session)
    headers = auth_headers(app, user, fresh=True)
    src = make_account(db_session, user, balance="100.00")
    held = post(
        client,
        TRANSFER,
        headers,
        {
            "from_account_id": str(src.public_id),
            "to_iban": GERMAN_IBAN,
            "beneficiary_name": "Nikolai Petrenko",
            "amount": "10.00",
            "currency": "USD",
        },
    ).json
    assert held["status"] == "pending_review"
    own = client.post(
        f"/api/v1/compliance/transactions/{held['id']}/approve", json={}, headers=headers
    )
    assert own.status_code == 403 and own.json["error"]["code"] == "forbidden"


def test_a_transfer_to_a_high_risk_country_alerts_when_it_is_accepted(
    app, client, db_session, approved, run_jobs, aml_rule_params
):
    aml_rule_params("high_risk_country", countries=["DE"])
    user, headers = approved
    src = make_account(db_session, user, balance="300.00")
    response = post(
        client,
        TRANSFER,
        headers,
        {
            "from_account_id": str(src.public_id),
            "to_iban": GERMAN_IBAN,
            "beneficiary_name": "Greta Lindqvist",
            "amount": "80.00",
            "currency": "USD",
        },
    )
    assert response.json["status"] == "pending"
    (alert,) = _alerts(db_session, user)
    assert alert.alert_type == "high_risk_country" and "to DE" in alert.explanation
    run_jobs()  # settlement posts it; it is not counted twice
    db_session.expire_all()
    assert (
        db_session.scalar(
            sa.select(sa.func.count())
            .select_from(MonitoredPosting)
            .where(MonitoredPosting.user_id == user.id, MonitoredPosting.direction == "out")
        )
        == 1
    )
    assert [a.hit_count for a in _alerts(db_session, user)] == [1]


def test_a_dormant_account_waking_up_alerts(client, db_session, approved):
    user, headers = approved
    account = make_account(db_session, user)
    account.created_at = utcnow() - timedelta(days=365)
    uow.commit(db_session)
    response = post(
        client,
        DEPOSIT,
        headers,
        {"account_id": str(account.public_id), "amount": "900.00", "currency": "USD"},
    )
    assert response.status_code == 201
    assert [a.alert_type for a in _alerts(db_session, user)] == ["dormant_account"]
