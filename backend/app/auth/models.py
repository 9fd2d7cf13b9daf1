"""User and role models."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, PublicIdMixin, TimestampMixin


class Role(StrEnum):
    CUSTOMER = "customer"
    COMPLIANCE_OFFICER = "compliance_officer"
    ADMIN = "admin"
    CARD_PROCESSOR = "card_processor"


class KycStatus(StrEnum):
    NONE = "none"
    PENDING = "pending"
    MANUAL_REVIEW = "manual_review"
    APPROVED = "approved"
    REJECTED = "rejected"


class User(PublicIdMixin, TimestampMixin, Base):
    __tablename__ = "users"

    email: Mapped[str] = mapped_column(sa.String(254), unique=True, nullable=False)
    username: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    first_name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    last_name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    phone: Mapped[str | None] = mapped_column(sa.String(32))
    base_currency: Mapped[str] = mapped_column(sa.String(3), nullable=False, default="USD")
    email_verified: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    kyc_status: Mapped[str] = mapped_column(
        sa.String(20), nullable=False, default=KycStatus.NONE.value
    )
    terms_accepted_at: Mapped[datetime | None] = mapped_column()
    privacy_accepted_at: Mapped[datetime | None] = mapped_column()
    policy_version: Mapped[str | None] = mapped_column(sa.String(32))
    # Security events that risk rules look at (a transfer right after one is suspicious).
    password_changed_at: Mapped[datetime | None] = mapped_column()
    mfa_changed_at: Mapped[datetime | None] = mapped_column()

    role_links: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def roles(self) -> list[str]:
        return sorted(link.role for link in self.role_links)

    def has_role(self, role: str) -> bool:
        return any(link.role == role for link in self.role_links)

    def set_roles(self, roles: list[str]) -> None:
        wanted = set(roles)
        self.role_links = [link for link in self.role_links if link.role in wanted]
        present = {link.role for link in self.role_links}
        for role in sorted(wanted - present):
            self.role_links.append(UserRole(role=role))


class UserRole(Base):
    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(sa.String(32), primary_key=True)

    user: Mapped[User] = relationship(back_populates="role_links")
