"""Customer due diligence records: the risk rating, periodic reviews, enhanced due diligence."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, PublicIdMixin, TimestampMixin, utcnow

if TYPE_CHECKING:
    from app.auth.models import User


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class EddStatus(StrEnum):
    NOT_REQUIRED = "not_required"  # the rating is not high
    REQUIRED = "required"  # high, nobody has proposed a sign-off yet
    PROPOSED = "proposed"  # an officer proposed it; another decides
    APPROVED = "approved"
    REJECTED = "rejected"


class ReviewStatus(StrEnum):
    DUE = "due"
    OVERDUE = "overdue"
    COMPLETED = "completed"


class CustomerRisk(Base):
    """A customer's current risk rating: one row per rated customer."""

    __tablename__ = "customer_risk"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), primary_key=True)
    level: Mapped[str] = mapped_column(sa.String(8), nullable=False, index=True)
    score: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    # [{factor, value, weight}] as the rating computed them.
    factors: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, nullable=False, default=list)
    rated_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    # The date the periodic review counts from: the first rating, then each completed review.
    reviewed_on: Mapped[date] = mapped_column(sa.Date, nullable=False)
    next_review_due: Mapped[date] = mapped_column(sa.Date, nullable=False, index=True)
    edd_status: Mapped[str] = mapped_column(
        sa.String(16), nullable=False, default=EddStatus.NOT_REQUIRED.value
    )

    user: Mapped[User] = relationship()


class RiskReview(PublicIdMixin, TimestampMixin, Base):
    """A periodic KYC review that fell due: an officer's task until completed."""

    __tablename__ = "risk_reviews"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), nullable=False, index=True)
    level: Mapped[str] = mapped_column(sa.String(8), nullable=False)
    due_on: Mapped[date] = mapped_column(sa.Date, nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, index=True)
    completed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    completed_at: Mapped[datetime | None] = mapped_column()
    notes: Mapped[str | None] = mapped_column(sa.Text)

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")
    completed_by: Mapped[User | None] = relationship(foreign_keys=[completed_by_id])
    # The customer's current rating, shown with the review (read only).
    user_risk: Mapped[CustomerRisk | None] = relationship(
        primaryjoin="foreign(RiskReview.user_id) == CustomerRisk.user_id",
        viewonly=True,
        uselist=False,
    )

    __table_args__ = (
        sa.Index("ix_risk_reviews_created_public", "created_at", "public_id"),
        # At most one open review per customer.
        sa.Index(
            "uq_risk_reviews_open",
            "user_id",
            unique=True,
            postgresql_where=sa.text("status <> 'completed'"),
            sqlite_where=sa.text("status <> 'completed'"),
        ),
    )


class EddReview(PublicIdMixin, TimestampMixin, Base):
    """Enhanced due diligence of a high-risk customer: proposed by one officer, decided by
    another."""

    __tablename__ = "edd_reviews"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), nullable=False, index=True)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    reason: Mapped[str] = mapped_column(sa.Text, nullable=False)
    proposed_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), nullable=False)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decision_reason: Mapped[str | None] = mapped_column(sa.Text)
    decided_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    proposed_by: Mapped[User] = relationship(foreign_keys=[proposed_by_id], lazy="joined")
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id], lazy="joined")

    __table_args__ = (
        sa.Index(
            "uq_edd_reviews_proposed",
            "user_id",
            unique=True,
            postgresql_where=sa.text("status = 'proposed'"),
            sqlite_where=sa.text("status = 'proposed'"),
        ),
    )
