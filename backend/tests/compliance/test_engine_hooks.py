"""The adapter between the movement engine and compliance: a posted movement becomes AML
postings; an IBAN beneficiary is screened before the transfer is accepted."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.compliance import engine_hooks
from app.compliance.models import ComplianceAlert, MonitoredPosting
from app.core.db import utcnow
from app.core.money import parse_amount
from app.transactions.services import deposit
from tests.factories import make_user
from tests.money_helpers import make_account

pytestmark = pytest.mark.postgres


def _movement(**fields):
    base = {
        "kind": "transfer",
        "amount": 0,
        "currency": "USD",
        "initiator_id": None,
        "metadata": {},
    }
    return SimpleNamespace(**{**base, **fields})


def test_each_customer_side_of_a_posting_is_monitored(db_session):
    payer, payee = make_user(db_session), make_user(db_session)
    src, dst = make_account(db_session, payer), make_account(db_session, payee)
    txn = deposit(
        db_session,
        user=payer,
        account_id=src.public_id,
        amount=parse_amount("50.00", "USD"),
        currency="USD",
    )
    ctx = SimpleNamespace(
        session=db_session,
        movement=_movement(amount=5000, initiator_id=payer.id, metadata={"channel": "transfer"}),
        debit_account=src,
        credit_account=dst,
        now=utcnow(),
    )
    sides = list(engine_hooks.posting_sides(ctx, txn))
    assert [(p.user_id, p.direction) for p, _ in sides] == [(payer.id, "out"), (payee.id, "in")]
    assert sides[0][0].counterparty == str(dst.public_id)
    engine_hooks.aml_observer(ctx, txn)
    db_session.commit()
    rows = db_session.scalars(
        sa.select(MonitoredPosting).where(MonitoredPosting.transaction_id == txn.id)
    ).all()
    assert sorted(r.direction for r in rows) == ["in", "out"]


def test_own_transfers_and_system_accounts(db_session):
    user = make_user(db_session)
    a, b = make_account(db_session, user), make_account(db_session, user)
    txn = deposit(
        db_session,
        user=user,
        account_id=a.public_id,
        amount=parse_amount("5.00", "USD"),
        currency="USD",
    )
    ctx = SimpleNamespace(
        session=db_session,
        movement=_movement(amount=500),
        debit_account=a,
        credit_account=b,
        now=utcnow(),
    )
    assert {p.counterparty for p, _ in engine_hooks.posting_sides(ctx, txn)} == {"own"}
    settlement = SimpleNamespace(user_id=None, system_code="settlement", id=0)
    ctx = SimpleNamespace(
        session=db_session,
        movement=_movement(amount=500, kind="deposit"),
        debit_account=settlement,
        credit_account=a,
        now=utcnow(),
    )
    assert [p.direction for p, _ in engine_hooks.posting_sides(ctx, txn)] == ["in"]


def test_an_iban_beneficiary_on_the_list_is_caught_with_an_alert(db_session, sanctions_list):
    user = make_user(db_session)
    movement = _movement(
        amount=10000,
        initiator_id=user.id,
        metadata={
            "beneficiary_name": "Hamid Reza Jafarzade",
            "counterparty_iban": "DE89370400440532013000",
        },
    )
    name, iban = engine_hooks.beneficiary_of(movement)
    assert name == "Hamid Reza Jafarzade" and iban.startswith("DE")
    matches = engine_hooks.screen_beneficiary(db_session, user_id=user.id, name=name, iban=iban)
    db_session.commit()
    assert matches and matches[0].name == "JAFARZADEH, Hamid Reza"
    alert = db_session.scalar(sa.select(ComplianceAlert).where(ComplianceAlert.user_id == user.id))
    assert alert.alert_type == "sanctions_hit" and "is held" in alert.explanation
    clean = engine_hooks.screen_beneficiary(
        db_session, user_id=user.id, name="Greta Lindqvist", iban=iban
    )
    assert clean == []
    assert engine_hooks.beneficiary_of(_movement()) == (None, None)


def test_the_dormant_rule_uses_the_account_opening_through_the_adapter(db_session):
    user = make_user(db_session)
    account = make_account(db_session, user)
    account.created_at = utcnow() - timedelta(days=365)
    db_session.commit()
    txn = deposit(
        db_session,
        user=user,
        account_id=account.public_id,
        amount=parse_amount("900.00", "USD"),
        currency="USD",
    )
    settlement = SimpleNamespace(user_id=None, system_code="settlement", id=0)
    ctx = SimpleNamespace(
        session=db_session,
        movement=_movement(amount=90000, kind="deposit"),
        debit_account=settlement,
        credit_account=account,
        now=utcnow(),
    )
    engine_hooks.aml_observer(ctx, txn)
    db_session.commit()
    types = db_session.scalars(
        sa.select(ComplianceAlert.alert_type).where(ComplianceAlert.user_id == user.id)
    ).all()
    assert types == ["dormant_account"]
