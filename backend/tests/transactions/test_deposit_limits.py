"""Deposits: limits per KYC status, `kyc_required`, the cap on any movement, and the channel."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from app.core import uow
from app.core.audit import AuditLog
from app.ledger.models import JournalTransaction
from tests.factories import auth_headers, make_user
from tests.money_helpers import (
    assert_ledger_consistent,
    balance_of,
    make_account,
    post,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

DEPOSIT = "/api/v1/transactions/deposit"


@pytest.fixture(autouse=True)
def _small_limits(app, monkeypatch):
    monkeypatch.setitem(
        app.config,
        "DEPOSIT_LIMITS",
        {
            "none": {"per_deposit": "100", "daily": "150"},
            "approved": {"per_deposit": "1000", "daily": "5000"},
            "rejected": None,
        },
    )


def _deposit(client, headers, account, amount, **extra):
    body = {"account_id": str(account.public_id), "amount": amount, "currency": "USD", **extra}
    return post(client, DEPOSIT, headers, body)


def test_deposits_are_limited_per_deposit_and_per_day_by_kyc_status(app, client, db_session):
    user = make_user(db_session)
    headers = auth_headers(app, user)
    account = make_account(db_session, user)
    too_big = _deposit(client, headers, account, "100.01")
    assert too_big.status_code == 422
    assert too_big.json["error"]["code"] == "limit_exceeded"
    assert too_big.json["error"]["details"] == {"amount": ["At most 100.00."]}
    assert _deposit(client, headers, account, "100.00").status_code == 201
    over_daily = _deposit(client, headers, account, "50.01")
    assert over_daily.status_code == 422
    assert over_daily.json["error"]["details"] == {"amount": ["50.00 left today."]}
    assert _deposit(client, headers, account, "50.00").status_code == 201
    assert balance_of(app, account.public_id) == (15000, 0)
    user.kyc_status = "approved"
    uow.commit(db_session)
    assert _deposit(client, headers, account, "1000.00").status_code == 201
    assert_ledger_consistent(app)


def test_a_kyc_status_that_may_not_deposit_gets_kyc_required(app, client, db_session):
    user = make_user(db_session, kyc_status="rejected")
    account = make_account(db_session, user)
    refused = _deposit(client, auth_headers(app, user), account, "10.00")
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "kyc_required"
    assert balance_of(app, account.public_id) == (0, 0)
    with app.app_context():
        from app.core.extensions import db

        last = db.session.execute(
            sa.select(AuditLog.action, AuditLog.outcome, AuditLog.changes)
            .order_by(AuditLog.id.desc())
            .limit(1)
        ).one()
        db.session.remove()
    assert (last.action, last.outcome) == ("transaction.deposit", "failure")
    assert last.changes["reason"] == "kyc_required"
    assert last.changes["to_account_id"] == str(account.public_id)


def test_no_movement_carries_more_than_the_cap(app, client, db_session, monkeypatch):
    monkeypatch.setitem(app.config, "DEPOSIT_LIMITS", {"none": {}})
    monkeypatch.setitem(app.config, "MAX_MOVEMENT_MINOR_UNITS", 10**6)
    user = make_user(db_session)
    account = make_account(db_session, user)
    refused = _deposit(client, auth_headers(app, user), account, "10000.01")
    assert refused.status_code == 422
    assert refused.json["error"]["details"] == {"amount": ["At most 10000.00."]}
    assert _deposit(client, auth_headers(app, user), account, "10000.00").status_code == 201
    assert balance_of(app, account.public_id) == (10**6, 0)


@pytest.mark.parametrize(
    ("given", "kept"), [(None, "cash"), ("card", "card"), ("transfer", "transfer")]
)
def test_the_deposit_channel_travels_with_the_movement(app, client, db_session, given, kept):
    user = make_user(db_session)
    account = make_account(db_session, user)
    extra = {"channel": given} if given else {}
    response = _deposit(client, auth_headers(app, user), account, "10.00", **extra)
    assert response.status_code == 201, response.json
    with app.app_context():
        from app.core.extensions import db

        attributes = db.session.scalar(
            sa.select(JournalTransaction.attributes).where(
                JournalTransaction.public_id == uuid.UUID(response.json["id"])
            )
        )
        db.session.remove()
    assert attributes["channel"] == kept


def test_an_unknown_channel_is_refused(app, client, db_session):
    user = make_user(db_session)
    account = make_account(db_session, user)
    refused = _deposit(client, auth_headers(app, user), account, "10.00", channel="crypto")
    assert refused.status_code == 422
    assert refused.json["error"]["code"] == "validation_error"
    assert "channel" in refused.json["error"]["details"]
