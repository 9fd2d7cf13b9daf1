"""Compliance records raised by other domains (alerts on transactions held for review)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, PublicIdMixin, TimestampMixin

if TYPE_CHECKING:
    from app.ledger.models import JournalTransaction


class AlertStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class ComplianceAlert(PublicIdMixin, TimestampMixin, Base):
    """An alert for a compliance officer, e.g. a transfer the fraud rules held for review."""

    __tablename__ = "compliance_alerts"

    alert_type: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    severity: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    status: Mapped[str] = mapped_column(
        sa.String(16), nullable=False, default=AlertStatus.OPEN.value, index=True
    )
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    transaction_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("journal_transactions.id"), index=True
    )
    score: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    rules: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    resolution: Mapped[str | None] = mapped_column(sa.String(32))
    notes: Mapped[str | None] = mapped_column(sa.Text)
    resolved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column()

    transaction: Mapped[JournalTransaction | None] = relationship()
