"""The transactions domain's part in the personal-data export and in the legal hold.

Export: every journal transaction from, to or started by the person. A transaction not settled
yet is a legal hold. Erasure leaves the ledger as it is: its rows carry no personal data of
their own beyond what the ledger must keep.
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
from app.ledger.models import JournalTransaction


def register(app: Flask) -> None:
    """Add the section(s) to the app's personal-data registry."""
    personal_data(app).add(
        Section("transactions", 300, export=_export, hold=_pending_transactions_hold)
    )


def _export(session: Session, user: User) -> list[dict[str, Any]]:
    own = sa.select(Account.id).where(Account.user_id == user.id)
    rows = session.execute(
        sa.select(JournalTransaction)
        .where(
            sa.or_(
                JournalTransaction.from_account_id.in_(own),
                JournalTransaction.to_account_id.in_(own),
                JournalTransaction.initiated_by_id == user.id,
            )
        )
        .order_by(JournalTransaction.id)
        .execution_options(yield_per=1000)
    ).scalars()
    return [
        {
            "id": str(row.public_id),
            "type": row.type,
            "status": row.status,
            "amount": format_amount(row.amount, row.currency),
            "currency": row.currency,
            "description": row.description,
            "reference": row.reference,
            "counterparty_iban": row.counterparty_iban,
            "counterparty_name": row.counterparty_name,
            "created_at": time_text(row.created_at),
        }
        for row in rows
    ]


def _pending_transactions_hold(session: Session, user: User) -> list[str]:
    own = sa.select(Account.id).where(Account.user_id == user.id)
    count = session.scalar(
        sa.select(sa.func.count())
        .select_from(JournalTransaction)
        .where(
            sa.or_(
                JournalTransaction.from_account_id.in_(own),
                JournalTransaction.to_account_id.in_(own),
            ),
            JournalTransaction.status.in_(["pending", "pending_review"]),
        )
    )
    return [f"{count} transaction(s) are not settled yet"] if count else []
