"""The AML batch's reading of the journal: each customer side of the ledger's movements of a
period, as the rules see it (`rules.Posting`).

The per-posting rules read the monitoring feed; the batch (`batch.run_period`) judges a period
as the ledger records it, so it reads the journal itself: completed, pending and held
movements (and those reversed since), bank-side bookings (reversals, fees) left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm
from sqlalchemy.orm import Session

from app.compliance.aml.rules import IN, OUT, OWN, Posting
from app.ledger.accounts import Account
from app.ledger.models import JournalTransaction

# The journal statuses of a movement that has moved money or is committed to move it.
MONITORED_STATUSES = frozenset({"completed", "pending", "pending_review"})
# Bank-side bookings that are not a customer's own payments.
UNMONITORED_KINDS = frozenset({"reversal", "fee"})


def country_of(meta: Mapping[str, Any]) -> str | None:
    """The country of a movement: its `country`, else the counterparty IBAN's."""
    country = meta.get("country")
    if country:
        return str(country).upper()[:2]
    iban = meta.get("counterparty_iban") or meta.get("to_iban")
    return str(iban)[:2].upper() if iban else None


def ledger_last_activity(session: Session, *, account_id: int, before: datetime) -> datetime | None:
    """When the account last moved money before `before` per the journal, else its opening.

    Two index look-ups (`from_account_id`/`to_account_id`, `created_at`), one row each.
    """
    times = [
        session.scalar(
            sa.select(JournalTransaction.created_at)
            .where(column == account_id, JournalTransaction.created_at < before)
            .order_by(JournalTransaction.created_at.desc())
            .limit(1)
        )
        for column in (JournalTransaction.from_account_id, JournalTransaction.to_account_id)
    ]
    found = [t for t in times if t is not None]
    if found:
        return max(found)
    return session.scalar(sa.select(Account.created_at).where(Account.id == account_id))


def _sides(start: datetime, end: datetime) -> list[sa.Select[Any]]:
    """Each customer side of the journal's movements in [start, end) (debit, then credit)."""
    sides = []
    for direction, account_column, other_column in (
        (OUT, JournalTransaction.from_account_id, JournalTransaction.to_account_id),
        (IN, JournalTransaction.to_account_id, JournalTransaction.from_account_id),
    ):
        mine, other = sa.orm.aliased(Account), sa.orm.aliased(Account)
        sides.append(
            sa.select(
                JournalTransaction.id.label("transaction_id"),
                mine.user_id.label("user_id"),
                mine.id.label("account_id"),
                JournalTransaction.type.label("kind"),
                sa.literal(direction).label("direction"),
                JournalTransaction.amount.label("amount"),
                JournalTransaction.currency.label("currency"),
                JournalTransaction.created_at.label("at"),
                JournalTransaction.attributes.label("attributes"),
                JournalTransaction.counterparty_iban.label("iban"),
                other.user_id.label("other_user_id"),
                other.public_id.label("other_public_id"),
            )
            .join(mine, mine.id == account_column)
            .outerjoin(other, other.id == other_column)
            .where(
                mine.user_id.is_not(None),
                JournalTransaction.created_at >= start,
                JournalTransaction.created_at < end,
                JournalTransaction.status.in_(sorted(MONITORED_STATUSES | {"reversed"})),
                JournalTransaction.type.not_in(sorted(UNMONITORED_KINDS)),
            )
        )
    return sides


def ledger_customers(session: Session, *, start: datetime, end: datetime) -> list[int]:
    """The customers with movements in [start, end), by id."""
    union = sa.union_all(*_sides(start, end)).subquery()
    return list(session.scalars(sa.select(union.c.user_id).distinct().order_by(union.c.user_id)))


def ledger_postings(
    session: Session, *, user_id: int, start: datetime, end: datetime
) -> list[Posting]:
    """One customer's sides of the journal's movements in [start, end), in time order.

    What the batch reads: the journal itself (completed, pending and held movements), so it
    judges the period as the ledger records it.
    """
    union = sa.union_all(*_sides(start, end)).subquery()
    rows = session.execute(
        sa.select(union)
        .where(union.c.user_id == user_id)
        .order_by(union.c.at, union.c.transaction_id)
    )
    postings = []
    for row in rows:
        meta = dict(row.attributes or {})
        if row.iban:
            meta["counterparty_iban"] = row.iban
        own = row.other_user_id is not None and row.other_user_id == row.user_id
        counterparty = row.iban or (str(row.other_public_id) if row.other_user_id else None)
        postings.append(
            Posting(
                transaction_id=row.transaction_id,
                user_id=row.user_id,
                account_id=row.account_id,
                kind=row.kind,
                direction=row.direction,
                amount=row.amount,
                currency=row.currency,
                at=row.at,
                channel=meta.get("channel"),
                country=country_of(meta),
                counterparty=OWN if own else counterparty,
            )
        )
    return postings
