"""Cards, their controls, and the authorizations the card network asks for."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, PublicIdMixin, TimestampMixin, utcnow
from app.ledger.accounts import Account


class CardType(StrEnum):
    VIRTUAL = "virtual"
    PHYSICAL = "physical"


class CardStatus(StrEnum):
    INACTIVE = "inactive"  # a physical card until its holder activates it
    ACTIVE = "active"
    FROZEN = "frozen"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class CancelReason(StrEnum):
    LOST = "lost"
    STOLEN = "stolen"
    CLOSED = "closed"


class Channel(StrEnum):
    ONLINE = "online"
    POS = "pos"
    ATM = "atm"
    CONTACTLESS = "contactless"


class AuthorizationStatus(StrEnum):
    DECLINED = "declined"
    AUTHORIZED = "authorized"  # approved; the funds are held
    CAPTURED = "captured"
    REVERSED = "reversed"
    EXPIRED = "expired"  # neither captured nor reversed in time: the hold was released


def expiry_end(month: int, year: int) -> datetime:
    """The first instant after a card's expiry month (a card is valid through its last day)."""
    last_day = calendar.monthrange(year, month)[1]
    return datetime(year, month, last_day, tzinfo=UTC) + timedelta(days=1)


class Card(PublicIdMixin, TimestampMixin, Base):
    """A payment card on a customer account.

    The PAN is kept only as AES-GCM ciphertext (`pan_ciphertext`, `kid:…`) and as a keyed
    HMAC (`pan_fingerprint`) by which the card network's requests find the card. What may be
    shown — the first six digits and the last four — is kept in clear. The CVV is never
    stored: it is derived from the PAN and the expiry with a secret key (see `vault`).
    """

    __tablename__ = "cards"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="RESTRICT"), nullable=False
    )
    account_id: Mapped[int] = mapped_column(
        sa.ForeignKey("accounts.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    card_type: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    brand: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    bin: Mapped[str] = mapped_column(sa.String(6), nullable=False)
    last4: Mapped[str] = mapped_column(sa.String(4), nullable=False)
    pan_length: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False)
    pan_ciphertext: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    pan_fingerprint: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    expiry_month: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False)
    expiry_year: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False)
    cardholder_name: Mapped[str] = mapped_column(sa.String(26), nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    pin_hash: Mapped[str | None] = mapped_column(sa.String(255))
    pin_set_at: Mapped[datetime | None] = mapped_column()
    activated_at: Mapped[datetime | None] = mapped_column()
    cancelled_at: Mapped[datetime | None] = mapped_column()
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(16))
    replaces_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cards.id"))
    # Controls. Amounts are minor units of the account's currency; None = no limit.
    per_transaction_limit: Mapped[int | None] = mapped_column(sa.BigInteger)
    daily_limit: Mapped[int | None] = mapped_column(sa.BigInteger)
    monthly_limit: Mapped[int | None] = mapped_column(sa.BigInteger)
    blocked_mccs: Mapped[list[str]] = mapped_column(sa.JSON, nullable=False, default=list)
    allowed_countries: Mapped[list[str]] = mapped_column(sa.JSON, nullable=False, default=list)
    online_enabled: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    atm_enabled: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    contactless_enabled: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    international_enabled: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)

    account: Mapped[Account] = relationship(lazy="joined")

    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('inactive', 'active', 'frozen', 'cancelled', 'expired')",
            name="status_valid",
        ),
        sa.CheckConstraint("card_type IN ('virtual', 'physical')", name="card_type_valid"),
        sa.CheckConstraint("expiry_month BETWEEN 1 AND 12", name="expiry_month_valid"),
        sa.Index("ix_cards_user_created", "user_id", "created_at"),
    )

    @property
    def masked_pan(self) -> str:
        """At most the BIN and the last four digits (PCI DSS 3.4.1)."""
        return f"{self.bin}{'*' * (self.pan_length - 10)}{self.last4}"

    @property
    def expires_at(self) -> datetime:
        return expiry_end(self.expiry_month, self.expiry_year)

    def current_status(self, now: datetime | None = None) -> str:
        """The status as the holder sees it: a live card past its expiry month is `expired`."""
        live = (CardStatus.INACTIVE, CardStatus.ACTIVE, CardStatus.FROZEN)
        if self.status in live and (now or utcnow()) >= self.expires_at:
            return CardStatus.EXPIRED.value
        return self.status


class CardAuthorization(PublicIdMixin, Base):
    """One authorization request of the card network: approved (a hold) or declined (why).

    `counted_amount` is what the authorization counts against the card's daily and monthly
    limits: the authorized amount while held, the captured amount once captured, nothing once
    reversed or expired.
    """

    __tablename__ = "card_authorizations"

    card_id: Mapped[int] = mapped_column(sa.ForeignKey("cards.id"), nullable=False)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"), nullable=False)
    processor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    amount: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(sa.String(3), nullable=False)
    merchant_name: Mapped[str] = mapped_column(sa.String(140), nullable=False)
    mcc: Mapped[str] = mapped_column(sa.String(4), nullable=False)
    country: Mapped[str] = mapped_column(sa.String(2), nullable=False)
    channel: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    approved: Mapped[bool] = mapped_column(sa.Boolean, nullable=False)
    decline_reason: Mapped[str | None] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    counted_amount: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    captured_amount: Mapped[int | None] = mapped_column(sa.BigInteger)
    hold_id: Mapped[int | None] = mapped_column(sa.ForeignKey("holds.id"))
    transaction_id: Mapped[int | None] = mapped_column(sa.ForeignKey("journal_transactions.id"))
    capture_transaction_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("journal_transactions.id")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column()
    captured_at: Mapped[datetime | None] = mapped_column()
    released_at: Mapped[datetime | None] = mapped_column()

    card: Mapped[Card] = relationship(lazy="joined")

    __table_args__ = (
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint("counted_amount >= 0", name="counted_not_negative"),
        sa.CheckConstraint(
            "captured_amount IS NULL OR (captured_amount > 0 AND captured_amount <= amount)",
            name="captured_within_authorized",
        ),
        sa.CheckConstraint(
            "approved OR (decline_reason IS NOT NULL AND hold_id IS NULL)",
            name="declined_has_reason",
        ),
        # The limits sum a card's authorizations of a day or a month.
        sa.Index("ix_card_authorizations_card_created", "card_id", "created_at"),
        # The expiry job looks for held authorizations past their time.
        sa.Index("ix_card_authorizations_status_expires", "status", "expires_at"),
    )
