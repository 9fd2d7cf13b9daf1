"""A customer's recent outgoing activity, read in one round trip under the customer's lock.

The limits (what was sent today) and the fraud rules (how many transfers lately, what amount is
usual) all look at the same history; one query with scalar subqueries answers them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.ledger.models import JournalTransaction, TxnStatus, TxnType

# What counts against the outgoing limits.
OUTGOING_TYPES = (TxnType.TRANSFER.value, TxnType.WITHDRAWAL.value)
COUNTED_STATUSES = (
    TxnStatus.COMPLETED.value,
    TxnStatus.PENDING.value,
    TxnStatus.PENDING_REVIEW.value,
)
# What counts as money actually sent (for "the usual amount").
SENT_STATUSES = (TxnStatus.COMPLETED.value, TxnStatus.PENDING.value)
RECENT = 20


@dataclass(frozen=True)
class Activity:
    sent_today: int  # minor units, withdrawals and transfers, UTC day, this currency
    transfers_in_window: int  # transfers (any currency/status) in the velocity window
    recent_count: int  # of the last RECENT sent transfers in this currency …
    recent_average: Decimal | None  # … and their average amount


def _build_query() -> sa.Select:
    """The activity query, built once; the customer, currency and times are bound per call."""
    jt = JournalTransaction.__table__.c
    mine = jt.initiated_by_id == sa.bindparam("user_id")
    currency = jt.currency == sa.bindparam("currency")
    sent_today = (
        sa.select(sa.func.coalesce(sa.func.sum(jt.amount), 0))
        .where(
            mine,
            jt.created_at >= sa.bindparam("day_start"),
            jt.type.in_(OUTGOING_TYPES),
            jt.status.in_(COUNTED_STATUSES),
            currency,
        )
        .scalar_subquery()
    )
    in_window = (
        sa.select(sa.func.count())
        .select_from(JournalTransaction.__table__)
        .where(mine, jt.type == TxnType.TRANSFER.value, jt.created_at >= sa.bindparam("since"))
        .scalar_subquery()
    )
    recent = (
        sa.select(jt.amount)
        .where(mine, jt.type == TxnType.TRANSFER.value, jt.status.in_(SENT_STATUSES), currency)
        .order_by(jt.created_at.desc())
        .limit(RECENT)
        .subquery()
    )
    return sa.select(
        sent_today,
        in_window,
        sa.select(sa.func.count()).select_from(recent).scalar_subquery(),
        sa.select(sa.func.avg(recent.c.amount)).scalar_subquery(),
    )


_QUERY = _build_query()


def outgoing_activity(
    session: Session, *, user_id: int, currency: str, now: datetime, window: timedelta
) -> Activity:
    """The customer's outgoing activity as the limits and the fraud rules need it.

    A read under locks the caller already holds: it runs on the session's connection without
    an autoflush (the movement has written nothing yet when it asks).
    """
    day_start = datetime.combine(now.astimezone(UTC).date(), time.min, tzinfo=UTC)
    row = (
        session.connection()
        .execute(
            _QUERY,
            {
                "user_id": user_id,
                "currency": currency,
                "day_start": day_start,
                "since": now - window,
            },
        )
        .one()
    )
    return Activity(
        sent_today=int(row[0]),
        transfers_in_window=int(row[1]),
        recent_count=int(row[2]),
        recent_average=Decimal(row[3]) if row[3] is not None else None,
    )
