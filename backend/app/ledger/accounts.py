"""The ledger's accounts: customer accounts with a cached balance, and the bank's own system
accounts. (Their owners, statements and account-opening rules are the accounts domain's.)"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, PublicIdMixin, TimestampMixin


class AccountType(StrEnum):
    CHECKING = "checking"
    SAVINGS = "savings"
    CREDIT = "credit"
    INVESTMENT = "investment"
    SYSTEM = "system"


CUSTOMER_TYPES = (
    AccountType.CHECKING,
    AccountType.SAVINGS,
    AccountType.CREDIT,
    AccountType.INVESTMENT,
)


class AccountStatus(StrEnum):
    ACTIVE = "active"
    FROZEN = "frozen"
    CLOSED = "closed"


class SystemAccount(StrEnum):
    """The bank's side of every movement that enters or leaves the customer ledger."""

    SETTLEMENT = "settlement"  # money arriving from / leaving to other banks
    CARD_CLEARING = "card_clearing"  # card captures owed to the card network
    FEES = "fees"  # fee income
    SUSPENSE = "suspense"  # money that cannot be placed yet


class Account(PublicIdMixin, TimestampMixin, Base):
    """A ledger account.

    Customer accounts carry `balance` (sum of their ledger entries) and `held` (sum of their
    active holds), both updated in the same database transaction as the entries/holds, under a
    row lock. System accounts (`system_code` set, no owner) are never locked nor updated: their
    balance is the sum of their entries, computed when needed, so they are no hot row.
    """

    __tablename__ = "accounts"

    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    system_code: Mapped[str | None] = mapped_column(sa.String(32))
    account_number: Mapped[str] = mapped_column(sa.String(34), unique=True, nullable=False)
    iban: Mapped[str | None] = mapped_column(sa.String(34), unique=True)
    account_type: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    currency: Mapped[str] = mapped_column(sa.String(3), nullable=False)
    name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    balance: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    held: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    credit_limit: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    status: Mapped[str] = mapped_column(
        sa.String(16), nullable=False, default=AccountStatus.ACTIVE.value
    )
    closed_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        sa.UniqueConstraint("system_code", "currency", name="uq_accounts_system_code_currency"),
        sa.CheckConstraint("held >= 0", name="held_not_negative"),
        sa.CheckConstraint("credit_limit >= 0", name="credit_limit_not_negative"),
        # The floor no interleaving of requests may break: what is spent or held never
        # exceeds the balance plus the credit line.
        sa.CheckConstraint(
            "system_code IS NOT NULL OR balance - held + credit_limit >= 0", name="funds_floor"
        ),
        sa.CheckConstraint("status IN ('active', 'frozen', 'closed')", name="status_valid"),
        sa.CheckConstraint("(system_code IS NULL) = (user_id IS NOT NULL)", name="owner_or_system"),
    )

    @property
    def is_system(self) -> bool:
        return self.system_code is not None

    @hybrid_property
    def available_balance(self) -> int:
        """Balance − holds (+ the credit line of a credit account); also a SQL expression."""
        return self.balance - self.held + self.credit_limit

    @hybrid_property
    def display_credit_limit(self) -> int | None:
        """The credit line of a credit account, else None; also a SQL expression."""
        return self.credit_limit if self.account_type == AccountType.CREDIT else None

    @display_credit_limit.inplace.expression
    @classmethod
    def _display_credit_limit_expression(cls) -> sa.ColumnElement[int | None]:
        return sa.case((cls.account_type == AccountType.CREDIT.value, cls.credit_limit))
