"""The accounts domain's part in the personal-data export and in erasure.

Export: the person's accounts with their balances. Erasure: a customer-chosen account name may
carry the person's name, so it becomes "<Type> <currency>"; the number and IBAN stay (ledger).
Money on an account, or held on it, is a legal hold.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from app.auth.models import User
from app.core.money import format_amount
from app.core.personal_data import Section, personal_data, time_text
from app.ledger.accounts import Account


def register(app: Flask) -> None:
    """Add the section(s) to the app's personal-data registry."""
    personal_data(app).add(
        Section("accounts", 200, export=_export, erase=_erase, hold=_balance_hold)
    )


def _export(session: Session, user: User) -> list[dict[str, Any]]:
    rows = session.scalars(
        sa.select(Account).where(Account.user_id == user.id).order_by(Account.id)
    )
    return [
        {
            "id": str(row.public_id),
            "account_number": row.account_number,
            "iban": row.iban,
            "account_type": row.account_type,
            "currency": row.currency,
            "name": row.name,
            "balance": format_amount(row.balance, row.currency),
            "status": row.status,
            "created_at": time_text(row.created_at),
        }
        for row in rows
    ]


def _erase(session: Session, user: User, pseudonym: str) -> None:
    for account in session.scalars(sa.select(Account).where(Account.user_id == user.id)):
        account.name = f"{account.account_type.title()} {account.currency}"


def _balance_hold(session: Session, user: User) -> list[str]:
    rows = session.scalars(
        sa.select(Account).where(
            Account.user_id == user.id, sa.or_(Account.balance != 0, Account.held != 0)
        )
    )
    return [
        f"account ***{a.account_number[-4:]} holds a balance of "
        f"{format_amount(a.balance, a.currency)} {a.currency}"
        + (f" ({format_amount(a.held, a.currency)} held)" if a.held else "")
        for a in rows
    ]
