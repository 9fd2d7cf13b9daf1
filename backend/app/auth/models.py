"""User and role models."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, BigIntPK, PublicIdMixin, TimestampMixin


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
    # none / basic / full, set by compliance KYC decisions; the transfer limits read it.
    kyc_level: Mapped[str] = mapped_column(
        sa.String(8), nullable=False, default="none", server_default="none"
    )
    terms_accepted_at: Mapped[datetime | None] = mapped_column()
    privacy_accepted_at: Mapped[datetime | None] = mapped_column()
    policy_version: Mapped[str | None] = mapped_column(sa.String(32))
    # Security events that risk rules look at (a transfer right after one is suspicious).
    password_changed_at: Mapped[datetime | None] = mapped_column()
    mfa_changed_at: Mapped[datetime | None] = mapped_column()
    email_verified_at: Mapped[datetime | None] = mapped_column()
    # Brute-force protection: consecutive failures, the current lockout, how many so far.
    failed_login_count: Mapped[int] = mapped_column(
        sa.Integer, nullable=False, default=0, server_default="0"
    )
    locked_until: Mapped[datetime | None] = mapped_column()
    lockout_count: Mapped[int] = mapped_column(
        sa.Integer, nullable=False, default=0, server_default="0"
    )
    # Locked by an administrator until unlocked (no expiry).
    admin_locked_at: Mapped[datetime | None] = mapped_column()
    last_login_at: Mapped[datetime | None] = mapped_column()
    # TOTP: secrets sealed with core.crypto (the key id is part of the value).
    mfa_enabled: Mapped[bool] = mapped_column(
        sa.Boolean, nullable=False, default=False, server_default=sa.false()
    )
    totp_secret: Mapped[str | None] = mapped_column(sa.String(255))
    totp_pending_secret: Mapped[str | None] = mapped_column(sa.String(255))
    # The last accepted TOTP time step: a code is never accepted twice.
    totp_last_counter: Mapped[int | None] = mapped_column(sa.BigInteger)
    # Signs in only through the bank's identity provider: no local password is accepted.
    sso_only: Mapped[bool] = mapped_column(
        sa.Boolean, nullable=False, default=False, server_default=sa.false()
    )

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


class AuthSession(PublicIdMixin, Base):
    """A login: one refresh-token family, listed to the user as a session.

    Only the refresh token whose id is `refresh_jti` may be exchanged; presenting an older one
    of the family means it was copied, and the whole session is revoked. Access tokens carry the
    session's public id (`sid`) and die with it.
    """

    __tablename__ = "auth_sessions"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    refresh_jti: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    user_agent: Mapped[str | None] = mapped_column(sa.String(512))
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(nullable=False)
    last_used_at: Mapped[datetime] = mapped_column(nullable=False)
    expires_at: Mapped[datetime] = mapped_column(nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_reason: Mapped[str | None] = mapped_column(sa.String(32))
    # A session opened by single sign-on: the provider, and its refresh token sealed with
    # core.crypto. Each refresh of this session asks the provider first (docs/sso.md).
    oidc_provider: Mapped[str | None] = mapped_column(sa.String(32))
    oidc_refresh_token: Mapped[str | None] = mapped_column(sa.Text)

    user: Mapped[User] = relationship()

    __table_args__ = (sa.Index("ix_auth_sessions_user_active", "user_id", "revoked_at"),)


class OneTimeToken(Base):
    """A single-use, expiring token (e-mail verification, password reset, MFA login step).

    The token handed out is the signed random `jti`; only its SHA-256 is stored.
    """

    __tablename__ = "one_time_tokens"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    purpose: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    token_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False)
    expires_at: Mapped[datetime] = mapped_column(nullable=False)
    used_at: Mapped[datetime | None] = mapped_column()


class MagicLink(Base):
    """A magic sign-in link: single use, expiring, bound to the browser that asked for it.

    Only hashes are stored: the SHA-256 of the random id the e-mailed token signs, and of the
    browser-binding secret the requesting browser keeps in an HttpOnly cookie.
    """

    __tablename__ = "magic_links"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    token_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    browser_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    requested_ip: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(nullable=False)
    expires_at: Mapped[datetime] = mapped_column(nullable=False)
    used_at: Mapped[datetime | None] = mapped_column()


class BackupCode(Base):
    """A one-time 2FA recovery code, stored as a keyed hash."""

    __tablename__ = "mfa_backup_codes"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    code_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False)
    used_at: Mapped[datetime | None] = mapped_column()


class EmailOutbox(PublicIdMixin, Base):
    """An e-mail waiting for (or done with) delivery; the body is sealed at rest."""

    __tablename__ = "email_outbox"

    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    to_address: Mapped[str] = mapped_column(sa.String(254), nullable=False)
    subject: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    kind: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    body_encrypted: Mapped[str] = mapped_column(sa.Text, nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column()


class Passkey(PublicIdMixin, Base):
    """A WebAuthn credential (passkey): its public key and signature counter, nothing secret."""

    __tablename__ = "passkeys"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    credential_id: Mapped[bytes] = mapped_column(sa.LargeBinary, nullable=False, unique=True)
    public_key: Mapped[bytes] = mapped_column(sa.LargeBinary, nullable=False)
    sign_count: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    transports: Mapped[list[str]] = mapped_column(sa.JSON, nullable=False, default=list)
    name: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    aaguid: Mapped[str | None] = mapped_column(sa.String(36))
    backed_up: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(nullable=False)
    last_used_at: Mapped[datetime | None] = mapped_column()


class WebauthnChallenge(Base):
    """A WebAuthn challenge handed to a browser: single use, expiring; only its SHA-256 is kept.

    The browser signs the challenge into its response, so the response names its challenge.
    """

    __tablename__ = "webauthn_challenges"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    challenge_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False)
    expires_at: Mapped[datetime] = mapped_column(nullable=False, index=True)
    used_at: Mapped[datetime | None] = mapped_column()


class PaymentConfirmation(PublicIdMixin, Base):
    """A payment the customer confirmed with a passkey (dynamic linking, PSD2 RTS art. 5).

    The WebAuthn challenge commits to the amount, currency, paying account and payee; the
    payment is executed only with exactly these, once, before `expires_at`.
    """

    __tablename__ = "payment_confirmations"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    account_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, nullable=False)
    amount: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)  # minor units
    currency: Mapped[str] = mapped_column(sa.String(3), nullable=False)
    payee: Mapped[str] = mapped_column(sa.Text, nullable=False)  # canonical JSON
    challenge_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    # pending → used, or voided (a mismatching payment used it)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="pending")
    created_at: Mapped[datetime] = mapped_column(nullable=False)
    expires_at: Mapped[datetime] = mapped_column(nullable=False)
    used_at: Mapped[datetime | None] = mapped_column()
    transaction_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)


class ExternalIdentity(PublicIdMixin, Base):
    """An account at an identity provider linked to a user; (provider, subject) is one person.

    A link is made only after the user proved the account is theirs (docs/sso.md), never
    because an e-mail address matched.
    """

    __tablename__ = "external_identities"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    provider: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    subject: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    email: Mapped[str | None] = mapped_column(sa.String(254))  # as the provider said at link time
    linked_at: Mapped[datetime] = mapped_column(nullable=False)
    last_used_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (sa.UniqueConstraint("provider", "subject"),)


class OidcLogin(Base):
    """One single sign-on in flight: first the authorization request (found by its `state`),
    then, once the provider answered, the one-time code the web app exchanges for tokens.

    Only digests of the state, nonce, browser binding and code are kept; the PKCE verifier and
    the provider's refresh token are sealed. A row is deleted when it is used.
    """

    __tablename__ = "oidc_logins"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    provider: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    purpose: Mapped[str] = mapped_column(sa.String(8), nullable=False)  # login / link
    state_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    nonce_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    binding_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    code_verifier: Mapped[str] = mapped_column(sa.Text, nullable=False)
    # login: set once the provider answered; link: the user who asked for the link.
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    code_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    refresh_token: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(nullable=False)
    expires_at: Mapped[datetime] = mapped_column(nullable=False, index=True)
