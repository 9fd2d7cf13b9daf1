"""Journal transactions, their ledger entries, and holds on customer funds."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, BigIntPK, PublicIdMixin, TimestampMixin, utcnow
from app.ledger.accounts import Account


class TxnType(StrEnum):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    TRANSFER = "transfer"
    CARD_AUTHORIZATION = "card_authorization"
    CARD_CAPTURE = "card_capture"
    FEE = "fee"
    REVERSAL = "reversal"


class TxnStatus(StrEnum):
    COMPLETED = "completed"
    PENDING = "pending"
    PENDING_REVIEW = "pending_review"
    REJECTED = "rejected"
    REVERSED = "reversed"


class HoldStatus(StrEnum):
    ACTIVE = "active"
    RELEASED = "released"  # voided, rejected or expired: the funds are available again
    CAPTURED = "captured"


class JournalTransaction(PublicIdMixin, TimestampMixin, Base):
    """One money movement. Its entries (once posted) sum to zero per currency."""

    __tablename__ = "journal_transactions"

    type: Mapped[str] = mapped_column(sa.String(24), nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    amount: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(sa.String(3), nullable=False)
    from_account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts.id"))
    to_account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts.id"))
    initiated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    description: Mapped[str] = mapped_column(sa.String(255), nullable=False, default="")
    reference: Mapped[str | None] = mapped_column(sa.String(140))
    counterparty_iban: Mapped[str | None] = mapped_column(sa.String(34))
    counterparty_name: Mapped[str | None] = mapped_column(sa.String(140))
    # Where the money went, as the fraud rules see a beneficiary (account id or IBAN).
    beneficiary_key: Mapped[str | None] = mapped_column(sa.String(64))
    risk_score: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    risk_rules: Mapped[list[str]] = mapped_column(sa.JSON, nullable=False, default=list)
    # At most one reversal per transaction (the unique index backs the 409 already_reversed).
    reversal_of_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("journal_transactions.id"), unique=True
    )
    posted_at: Mapped[datetime | None] = mapped_column()
    failure_reason: Mapped[str | None] = mapped_column(sa.String(255))
    # What the movement carried besides its accounts and amount (channel, mcc, country, …),
    # for the rules that read it later (AML, reports).
    attributes: Mapped[dict[str, Any]] = mapped_column(sa.JSON, nullable=False, default=dict)

    entries: Mapped[list[LedgerEntry]] = relationship(
        back_populates="transaction", lazy="selectin", order_by="LedgerEntry.id"
    )
    from_account: Mapped[Account | None] = relationship(
        foreign_keys=[from_account_id], lazy="joined"
    )
    to_account: Mapped[Account | None] = relationship(foreign_keys=[to_account_id], lazy="joined")

    __table_args__ = (
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.Index("ix_journal_transactions_initiator_created", "initiated_by_id", "created_at"),
        sa.Index("ix_journal_transactions_created_public", "created_at", "public_id"),
        # One account's history, newest first, a page at a time (keyset on the row value).
        sa.Index(
            "ix_journal_transactions_from_created", "from_account_id", "created_at", "public_id"
        ),
        sa.Index("ix_journal_transactions_to_created", "to_account_id", "created_at", "public_id"),
    )


class LedgerEntry(Base):
    """One leg of a journal transaction: a signed amount on one account.

    Positive = credit (money arrives in the account), negative = debit (money leaves).
    """

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(
        sa.ForeignKey("journal_transactions.id"), nullable=False, index=True
    )
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"), nullable=False)
    amount: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(sa.String(3), nullable=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    # The account's balance once this entry is booked (customer accounts; NULL for system
    # accounts, whose balance is never cached). A balance at any instant is one index probe.
    balance_after: Mapped[int | None] = mapped_column(sa.BigInteger)

    transaction: Mapped[JournalTransaction] = relationship(back_populates="entries")
    account: Mapped[Account] = relationship(lazy="joined")

    __table_args__ = (
        sa.CheckConstraint("amount <> 0", name="amount_not_zero"),
        sa.Index("ix_ledger_entries_account_created", "account_id", "created_at", "id"),
    )

    @property
    def direction(self) -> str:
        return "credit" if self.amount > 0 else "debit"


class Hold(PublicIdMixin, Base):
    """Funds reserved on a customer account (pending transfer, review, card authorization)."""

    __tablename__ = "holds"

    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"), nullable=False)
    transaction_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("journal_transactions.id"), index=True
    )
    amount: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(sa.String(3), nullable=False)
    status: Mapped[str] = mapped_column(
        sa.String(16), nullable=False, default=HoldStatus.ACTIVE.value
    )
    reason: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    released_at: Mapped[datetime | None] = mapped_column()
    # An active hold past this instant is released by the expiry job (NULL: never expires).
    expires_at: Mapped[datetime | None] = mapped_column()
    captured_amount: Mapped[int | None] = mapped_column(sa.BigInteger)

    transaction: Mapped[JournalTransaction | None] = relationship()

    __table_args__ = (
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint(
            "captured_amount IS NULL OR (captured_amount > 0 AND captured_amount <= amount)",
            name="captured_within_held",
        ),
        sa.Index("ix_holds_account_status", "account_id", "status"),
        sa.Index("ix_holds_account_released", "account_id", "released_at"),
        sa.Index("ix_holds_status_expires", "status", "expires_at"),
    )
