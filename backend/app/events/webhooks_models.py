"""Webhook endpoints, the deliveries fanned out to them, each delivery's attempts, and the
fan-out cursor (the last event position fanned out)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigIntPK, PublicIdMixin, TimestampMixin, utcnow

ACTIVE, DISABLED = "active", "disabled"
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


class WebhookEndpoint(PublicIdMixin, TimestampMixin, Base):
    """A partner's URL and the event types it receives; its signing secrets sealed at rest."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        sa.Index("ix_webhook_endpoints_created_at_public_id", "created_at", "public_id"),
    )

    url: Mapped[str] = mapped_column(sa.String(2048), nullable=False)
    event_types: Mapped[list[str]] = mapped_column(sa.JSON, nullable=False)
    description: Mapped[str | None] = mapped_column(sa.String(500))
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default=ACTIVE)
    # `crypto.encrypt_str` with the endpoint's public id as associated data.
    secret_sealed: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    # The secret before the last rotation; it also signs until `previous_secret_expires_at`.
    previous_secret_sealed: Mapped[str | None] = mapped_column(sa.String(255))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column()
    consecutive_failures: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    disabled_at: Mapped[datetime | None] = mapped_column()
    disabled_reason: Mapped[str | None] = mapped_column(sa.String(255))
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))


class WebhookDelivery(Base):
    """One event for one endpoint: pending until a 2xx answer, failed after its time ran out."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # One delivery per event and endpoint; also how the admin finds one (by the event's id).
        sa.UniqueConstraint("endpoint_id", "event_public_id"),
        # The due ones, soonest first.
        sa.Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        ),
        # An account's earlier pending delivery to the same endpoint holds the later ones back.
        sa.Index(
            "ix_webhook_deliveries_order",
            "endpoint_id",
            "account_id",
            "position",
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        ),
        sa.Index("ix_webhook_deliveries_event_id", "event_id"),
        # The finished ones, oldest first, for the purge.
        sa.Index(
            "ix_webhook_deliveries_finished",
            "updated_at",
            postgresql_where=sa.text("status <> 'pending'"),
            sqlite_where=sa.text("status <> 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False
    )
    event_id: Mapped[int] = mapped_column(
        sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False
    )
    event_public_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, nullable=False)
    # The event's position: deliveries of one account to one endpoint go out in this order.
    position: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    # The ordering key: the event's account (internal id); none for events of no account.
    account_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default=PENDING)
    attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(nullable=False)
    # Retried until then; a redelivery gives a new one.
    expires_at: Mapped[datetime] = mapped_column(nullable=False)
    last_status_code: Mapped[int | None] = mapped_column(sa.SmallInteger)
    last_error: Mapped[str | None] = mapped_column(sa.String(255))
    delivered_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow, onupdate=utcnow)


class WebhookAttempt(Base):
    """One POST of a delivery (or one refused before any connection), as the admin sees it."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (sa.Index("ix_webhook_attempts_endpoint_id_id", "endpoint_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), nullable=False, index=True
    )
    endpoint_id: Mapped[int] = mapped_column(
        sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False
    )
    attempt: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    status_code: Mapped[int | None] = mapped_column(sa.SmallInteger)
    duration_ms: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    error: Mapped[str | None] = mapped_column(sa.String(255))
    at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)


class WebhookFanoutCursor(Base):
    """One row: the position of the last event fanned out to the endpoints."""

    __tablename__ = "webhook_fanout_cursor"
    __table_args__ = (sa.CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)


def as_attempt(attempt: WebhookAttempt, delivery: WebhookDelivery) -> dict[str, Any]:
    """An attempt as the deliveries list shows it."""
    return {
        "id": attempt.id,
        "event_id": delivery.event_public_id,
        "attempt": attempt.attempt,
        "status_code": attempt.status_code,
        "duration_ms": attempt.duration_ms,
        "error": attempt.error,
        "at": attempt.at,
        "delivery_status": delivery.status,
    }
