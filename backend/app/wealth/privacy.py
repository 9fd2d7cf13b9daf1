"""The wealth domain's part in the personal-data export and in erasure (`app.core.personal_data`).

Export: the linked accounts (never their credentials) and every snapshot with its positions.
Erasure: credentials, broker session state and the data key are destroyed, every linked account
is marked deleted, and its snapshots and positions (account names and IBANs among them) are
deleted; the audit records of the linked accounts stay, as for every domain.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from app.auth.models import User
from app.core.db import utcnow
from app.core.money import format_amount
from app.core.personal_data import Section, personal_data, time_text
from app.wealth.models import (
    LinkedAccount,
    LinkStatus,
    UserDataKey,
    WealthPosition,
    WealthSnapshot,
)
from app.wealth.rates import rate_text


def register(app: Flask) -> None:
    """Add the section to the app's personal-data registry."""
    personal_data(app).add(Section("wealth", 800, export=export, erase=erase))


def export(session: Session, user: User) -> dict[str, Any]:
    links = session.scalars(
        sa.select(LinkedAccount).where(LinkedAccount.user_id == user.id).order_by(LinkedAccount.id)
    ).all()
    out = []
    for link in links:
        snapshots = session.scalars(
            sa.select(WealthSnapshot)
            .where(WealthSnapshot.linked_account_id == link.id)
            .order_by(WealthSnapshot.snapshot_date, WealthSnapshot.account_ref)
        ).all()
        out.append(
            {
                "id": str(link.public_id),
                "broker": link.broker.code,
                "status": link.status,
                "created_at": time_text(link.created_at),
                "last_synced_at": time_text(link.last_synced_at),
                "deleted_at": time_text(link.deleted_at),
                "snapshots": [
                    {
                        "date": s.snapshot_date.isoformat(),
                        "account": s.account_ref,
                        "name": s.account_name,
                        "balance": format_amount(s.balance, s.currency),
                        "currency": s.currency,
                        "value": format_amount(s.base_value, s.base_currency),
                        "base_currency": s.base_currency,
                        "rate": rate_text(s.rate),
                        "positions": [
                            {
                                "symbol": p.symbol,
                                "isin": p.isin,
                                "name": p.name,
                                "quantity": rate_text(p.quantity),
                                "value": format_amount(p.value, p.currency),
                                "currency": p.currency,
                                "asset_class": p.asset_class,
                            }
                            for p in s.positions
                        ],
                    }
                    for s in snapshots
                ],
            }
        )
    return {"linked_accounts": out}


def erase(session: Session, user: User, pseudonym: str) -> None:
    link_ids = list(
        session.scalars(sa.select(LinkedAccount.id).where(LinkedAccount.user_id == user.id))
    )
    if link_ids:
        snapshot_ids = sa.select(WealthSnapshot.id).where(
            WealthSnapshot.linked_account_id.in_(link_ids)
        )
        session.execute(
            sa.delete(WealthPosition).where(WealthPosition.snapshot_id.in_(snapshot_ids))
        )
        session.execute(
            sa.delete(WealthSnapshot).where(WealthSnapshot.linked_account_id.in_(link_ids))
        )
        now = utcnow()
        session.execute(
            sa.update(LinkedAccount)
            .where(LinkedAccount.id.in_(link_ids))
            .values(
                credentials_encrypted=None,
                auth_state_encrypted=None,
                challenge=None,
                last_error=None,
                status=LinkStatus.DELETED.value,
                deleted_at=sa.func.coalesce(LinkedAccount.deleted_at, now),
            )
        )
    session.execute(sa.delete(UserDataKey).where(UserDataKey.user_id == user.id))
