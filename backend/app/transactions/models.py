"""Running counters of a customer's activity, kept in the movement's own transaction.

The limits and the fraud rules read these instead of summing the customer's history, so a
movement costs the same whether the customer made none or 100,000 today. `flask ledger verify`
recounts the daily totals from the journal and names any difference.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base


class DailyCounter(Base):
    """What one customer moved in one currency, one direction, on one UTC day.

    `direction` is `out` (withdrawals and transfers: completed, pending and held for review,
    what the outgoing limits count) or `in` (completed deposits, what the deposit limits count).
    """

    __tablename__ = "daily_counters"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    currency: Mapped[str] = mapped_column(sa.String(3), primary_key=True)
    direction: Mapped[str] = mapped_column(sa.String(3), primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    amount: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)


class RecentActivity(Base):
    """One row per customer: what the fraud rules ask about recent transfers.

    `transfer_times` holds the instants of the last few transfers (as many as the velocity rule
    needs), `recent_amounts` the last sent amounts per currency (for "the usual amount"), and
    `last_transfer_at` the latest transfer (for "the first transfer after a security change").
    """

    __tablename__ = "recent_activity"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    last_transfer_at: Mapped[datetime | None] = mapped_column()
    transfer_times: Mapped[list[str]] = mapped_column(sa.JSON, nullable=False, default=list)
    recent_amounts: Mapped[dict[str, list[int]]] = mapped_column(
        sa.JSON, nullable=False, default=dict
    )


class Payee(Base):
    """A beneficiary this customer has sent money to (account id or `iban:…`)."""

    __tablename__ = "payees"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    beneficiary_key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    first_paid_at: Mapped[datetime] = mapped_column(nullable=False)
