"""Deposits and withdrawals: money arriving from, or leaving to, the settlement account."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from app.auth.models import User
from app.ledger import engine
from app.ledger.accounts import SystemAccount
from app.ledger.models import JournalTransaction, TxnType
from app.transactions.transfers import check_step_up, own_account


def deposit(
    session: Session,
    *,
    user: User,
    account_id: uuid.UUID,
    amount: int,
    currency: str,
    reference: str | None = None,
    channel: str = "cash",
) -> JournalTransaction:
    """Credit the caller's account with money arriving from the external settlement account.

    `channel` (cash, transfer, card) travels in the movement for the AML and CTR rules.
    """
    account = own_account(session, user, account_id, currency)
    movement = engine.Movement(
        kind=TxnType.DEPOSIT.value,
        debit_account_id=engine.system_account_id(session, SystemAccount.SETTLEMENT, currency),
        credit_account_id=account.id,
        amount=amount,
        currency=currency,
        initiator_id=user.id,
        metadata={"reference": reference, "description": reference, "channel": channel},
    )
    return engine.execute(session, movement).transaction


def withdraw(
    session: Session,
    *,
    user: User,
    account_id: uuid.UUID,
    amount: int,
    currency: str,
    reference: str | None = None,
    fresh: bool = False,
) -> JournalTransaction:
    """Pay money out of the caller's account to the external settlement account."""
    account = own_account(session, user, account_id, currency)
    check_step_up(amount, currency, fresh)
    movement = engine.Movement(
        kind=TxnType.WITHDRAWAL.value,
        debit_account_id=account.id,
        credit_account_id=engine.system_account_id(session, SystemAccount.SETTLEMENT, currency),
        amount=amount,
        currency=currency,
        initiator_id=user.id,
        metadata={"reference": reference, "description": reference, "channel": "cash"},
    )
    return engine.execute(session, movement).transaction
