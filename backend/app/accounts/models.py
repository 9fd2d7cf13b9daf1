"""Accounts: statement documents. The account model itself is the ledger's
(`app.ledger.accounts`), named here too for the domains that import it from accounts."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, PublicIdMixin, utcnow
from app.ledger.accounts import (
    CUSTOMER_TYPES,
    Account,
    AccountStatus,
    AccountType,
    SystemAccount,
)

__all__ = [
    "CUSTOMER_TYPES",
    "Account",
    "AccountStatus",
    "AccountType",
    "StatementDocument",
    "SystemAccount",
]


class StatementDocument(PublicIdMixin, Base):
    """A statement rendered by a background job (large PDFs), kept for its owner to download."""

    __tablename__ = "statement_documents"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"), nullable=False)
    start: Mapped[date] = mapped_column(sa.Date, nullable=False)
    end: Mapped[date] = mapped_column(sa.Date, nullable=False)
    format: Mapped[str] = mapped_column(sa.String(8), nullable=False)
    job_id: Mapped[str | None] = mapped_column(sa.String(64))
    content: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    ready_at: Mapped[datetime | None] = mapped_column()
