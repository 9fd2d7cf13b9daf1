"""Wealth: broker catalogue, linked accounts, per-user data keys, snapshots, positions, rates."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, BigIntPK, PublicIdMixin, TimestampMixin, utcnow

# Quantities and prices carry more digits than any currency (fractional shares, FX rates).
Quantity = sa.Numeric(28, 10)


class IntegrationType(StrEnum):
    FINTS = "fints"
    REST = "rest"
    SANDBOX = "sandbox"


class LinkStatus(StrEnum):
    PENDING = "pending"  # linked, first sync not finished yet
    ACTIVE = "active"  # last sync succeeded
    PENDING_AUTH = "pending_auth"  # the broker asked for a second factor
    ERROR = "error"  # last sync failed; `last_error` says why
    DELETED = "deleted"  # unlinked; credentials destroyed


class Broker(Base):
    """One entry of the broker catalogue, loaded from `fixtures/brokers.json` by `init-db`."""

    __tablename__ = "brokers"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    integration_type: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    country: Mapped[str] = mapped_column(sa.String(2), nullable=False)
    supports_2fa: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    credentials_schema: Mapped[dict[str, Any]] = mapped_column(sa.JSON, nullable=False)
    # Integration settings: REST base URL, auth style and field mapping; FinTS server and BLZ.
    settings: Mapped[dict[str, Any]] = mapped_column(sa.JSON, nullable=False, default=dict)
    active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)

    __table_args__ = (
        sa.CheckConstraint(
            "integration_type IN ('fints', 'rest', 'sandbox')", name="integration_type_known"
        ),
    )


class UserDataKey(Base):
    """A customer's data key, wrapped (AES-GCM) by the master key from the environment."""

    __tablename__ = "user_data_keys"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), unique=True, nullable=False
    )
    wrapped_key: Mapped[str] = mapped_column(sa.Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)


class LinkedAccount(PublicIdMixin, TimestampMixin, Base):
    """A customer's login at an outside broker or bank; its credentials sealed by the data key."""

    __tablename__ = "linked_accounts"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="RESTRICT"), index=True, nullable=False
    )
    broker_id: Mapped[int] = mapped_column(
        sa.ForeignKey("brokers.id", ondelete="RESTRICT"), nullable=False
    )
    status: Mapped[str] = mapped_column(
        sa.String(16), nullable=False, default=LinkStatus.PENDING.value
    )
    credentials_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    # Broker session state between a 2FA challenge and its answer (sealed like credentials).
    auth_state_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    # What the customer is asked to do for the second factor (no secret in it).
    challenge: Mapped[str | None] = mapped_column(sa.String(500))
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    last_synced_at: Mapped[datetime | None] = mapped_column()
    last_job_id: Mapped[str | None] = mapped_column(sa.String(64))
    deleted_at: Mapped[datetime | None] = mapped_column()

    broker: Mapped[Broker] = relationship(lazy="select")

    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('pending', 'active', 'pending_auth', 'error', 'deleted')",
            name="status_known",
        ),
    )


class WealthSnapshot(Base):
    """One outside account's value on one day; a second sync that day updates it."""

    __tablename__ = "wealth_snapshots"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    linked_account_id: Mapped[int] = mapped_column(
        sa.ForeignKey("linked_accounts.id", ondelete="CASCADE"), nullable=False
    )
    account_ref: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    account_name: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    snapshot_date: Mapped[date] = mapped_column(sa.Date, nullable=False)
    balance: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)  # minor units
    currency: Mapped[str] = mapped_column(sa.String(3), nullable=False)
    base_currency: Mapped[str] = mapped_column(sa.String(3), nullable=False)
    base_value: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)  # minor units
    rate: Mapped[Decimal] = mapped_column(Quantity, nullable=False)
    rate_date: Mapped[date] = mapped_column(sa.Date, nullable=False)
    synced_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)

    positions: Mapped[list[WealthPosition]] = relationship(
        back_populates="snapshot", cascade="all, delete-orphan", passive_deletes=True
    )

    __table_args__ = (
        sa.UniqueConstraint(
            "linked_account_id",
            "account_ref",
            "snapshot_date",
            name="uq_wealth_snapshots_account_day",
        ),
    )


class WealthPosition(Base):
    """A holding inside a snapshot: quantity × price = value, in the position's currency."""

    __tablename__ = "wealth_positions"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(
        sa.ForeignKey("wealth_snapshots.id", ondelete="CASCADE"), index=True, nullable=False
    )
    symbol: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    isin: Mapped[str | None] = mapped_column(sa.String(12))
    name: Mapped[str | None] = mapped_column(sa.String(200))
    quantity: Mapped[Decimal] = mapped_column(Quantity, nullable=False)
    price: Mapped[Decimal] = mapped_column(Quantity, nullable=False)
    value: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)  # minor units
    cost_basis: Mapped[int | None] = mapped_column(sa.BigInteger)  # minor units
    currency: Mapped[str] = mapped_column(sa.String(3), nullable=False)
    asset_class: Mapped[str] = mapped_column(sa.String(16), nullable=False)

    snapshot: Mapped[WealthSnapshot] = relationship(back_populates="positions")


class ExchangeRate(Base):
    """Units of `quote` for one `base` on `rate_date`, as published by the rates service."""

    __tablename__ = "exchange_rates"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    base: Mapped[str] = mapped_column(sa.String(3), nullable=False)
    quote: Mapped[str] = mapped_column(sa.String(3), nullable=False)
    rate_date: Mapped[date] = mapped_column(sa.Date, nullable=False)
    rate: Mapped[Decimal] = mapped_column(Quantity, nullable=False)
    source: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)

    __table_args__ = (
        sa.UniqueConstraint("base", "quote", "rate_date", name="uq_exchange_rates_pair_day"),
    )
