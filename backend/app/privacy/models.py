"""Erasure requests (GDPR article 17) and their decisions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, PublicIdMixin, utcnow


class ErasureStatus(StrEnum):
    PENDING = "pending"
    LEGAL_HOLD = "legal_hold"  # an approval was refused for now; the reasons are kept
    APPROVED = "approved"
    REJECTED = "rejected"


class ErasureRequest(PublicIdMixin, Base):
    """A person's request to be erased, decided by a compliance officer."""

    __tablename__ = "erasure_requests"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), nullable=False, index=True)
    status: Mapped[str] = mapped_column(
        sa.String(16), nullable=False, default=ErasureStatus.PENDING.value, index=True
    )
    requested_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column()
    decision_reason: Mapped[str | None] = mapped_column(sa.Text)
    hold_reasons: Mapped[list | None] = mapped_column(sa.JSON)

    __table_args__ = (
        sa.Index("ix_erasure_requests_requested_public", "requested_at", "public_id"),
    )
