"""Reads of the ledger a domain shares: a customer's own account."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.ledger.accounts import Account
from app.ledger.errors import AccountNotFound
from app.ledger.owners import Customer


def get_own_account(session: Session, *, user: Customer, account_id: uuid.UUID) -> Account:
    """The caller's account `account_id`; any other account is "not found"."""
    account = session.scalar(
        sa.select(Account).where(Account.public_id == account_id, Account.user_id == user.id)
    )
    if account is None:
        raise AccountNotFound()
    return account
