"""Demo accounts with their opening deposits (`seed-demo`), after the demo users."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.users import get_user_by_email
from app.core.money import parse_amount
from app.ledger.accounts import Account, AccountType
from app.ledger.opening import open_account
from app.transactions.deposits import deposit

DEMO_ACCOUNTS = (
    ("alice@flowlet.test", AccountType.CHECKING, "USD", "Everyday", "2500.00"),
    ("alice@flowlet.test", AccountType.SAVINGS, "EUR", "Savings", "10000.00"),
    ("bob@flowlet.test", AccountType.CHECKING, "USD", "Main", "800.00"),
)


def seed_demo_accounts(session: Session) -> None:
    """Give the demo customers accounts with some money (once)."""
    for email, account_type, currency, name, amount in DEMO_ACCOUNTS:
        user = get_user_by_email(session, email)
        if user is None:
            continue
        exists = session.scalar(
            sa.select(Account.id).where(Account.user_id == user.id, Account.name == name)
        )
        if exists is not None:
            continue
        account = open_account(
            session, user=user, account_type=account_type.value, currency=currency, name=name
        )
        deposit(
            session,
            user=user,
            account_id=account.public_id,
            amount=parse_amount(amount, currency),
            currency=currency,
            reference="Opening deposit",
        )
