"""The auth domain's part in the personal-data export and in erasure (`app.core.personal_data`).

Export: the profile, the consents, the sessions, the passkeys and the linked sign-ins.
Erasure: the profile is pseudonymized and the login disabled for good, the sessions lose their
IP, user agent and provider refresh token (and end), the passkeys and the linked sign-ins are
removed, and the e-mails to the person lose their address and body (pending ones are
cancelled).
"""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from app.auth import mail
from app.auth.models import (
    AuthSession,
    BackupCode,
    EmailOutbox,
    ExternalIdentity,
    MagicLink,
    OidcLogin,
    OneTimeToken,
    Passkey,
    User,
    WebauthnChallenge,
)
from app.core.db import utcnow
from app.core.personal_data import Section, personal_data, time_text


def register(app: Flask) -> None:
    """Add the section(s) to the app's personal-data registry."""
    registry = personal_data(app)
    registry.add(Section("profile", 100, export=_profile, erase=_erase_profile))
    registry.add(Section("consents", 110, export=_consents))
    registry.add(Section("sessions", 120, export=_sessions, erase=_erase_sessions))
    registry.add(Section("passkeys", 125, export=_passkeys, erase=_erase_passkeys))
    registry.add(
        Section("linked_sign_ins", 126, export=_linked_sign_ins, erase=_erase_linked_sign_ins)
    )
    registry.add(Section("email_outbox", 500, erase=_erase_outbox))


def _profile(session: Session, user: User) -> dict[str, Any]:
    return {
        "id": str(user.public_id),
        "email": user.email,
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "phone": user.phone,
        "base_currency": user.base_currency,
        "roles": sorted(user.roles),
        "kyc_status": user.kyc_status,
        "email_verified": user.email_verified,
        "mfa_enabled": user.mfa_enabled,
        "created_at": time_text(user.created_at),
        "last_login_at": time_text(user.last_login_at),
    }


def _consents(session: Session, user: User) -> dict[str, Any]:
    return {
        "terms_accepted_at": time_text(user.terms_accepted_at),
        "privacy_accepted_at": time_text(user.privacy_accepted_at),
        "policy_version": user.policy_version,
    }


def _sessions(session: Session, user: User) -> list[dict[str, Any]]:
    rows = session.scalars(
        sa.select(AuthSession).where(AuthSession.user_id == user.id).order_by(AuthSession.id)
    )
    return [
        {
            "id": str(row.public_id),
            "ip": row.ip,
            "user_agent": row.user_agent,
            "created_at": time_text(row.created_at),
            "last_used_at": time_text(row.last_used_at),
            "expires_at": time_text(row.expires_at),
            "revoked_at": time_text(row.revoked_at),
        }
        for row in rows
    ]


def _passkeys(session: Session, user: User) -> list[dict[str, Any]]:
    """The person's passkeys: names and times (a public key and a counter are not personal)."""
    rows = session.scalars(
        sa.select(Passkey).where(Passkey.user_id == user.id).order_by(Passkey.id)
    )
    return [
        {
            "id": str(row.public_id),
            "name": row.name,
            "created_at": time_text(row.created_at),
            "last_used_at": time_text(row.last_used_at),
        }
        for row in rows
    ]


def _erase_passkeys(session: Session, user: User, pseudonym: str) -> None:
    """The passkeys and their open challenges go: nothing signs in as the person again."""
    session.execute(sa.delete(Passkey).where(Passkey.user_id == user.id))
    session.execute(sa.delete(WebauthnChallenge).where(WebauthnChallenge.user_id == user.id))


def _linked_sign_ins(session: Session, user: User) -> list[dict[str, Any]]:
    rows = session.scalars(
        sa.select(ExternalIdentity)
        .where(ExternalIdentity.user_id == user.id)
        .order_by(ExternalIdentity.id)
    )
    return [
        {
            "provider": row.provider,
            "subject": row.subject,
            "email": row.email,
            "linked_at": time_text(row.linked_at),
            "last_used_at": time_text(row.last_used_at),
        }
        for row in rows
    ]


def _erase_linked_sign_ins(session: Session, user: User, pseudonym: str) -> None:
    """No provider account signs in to, or points at, the erased person any more."""
    session.execute(sa.delete(ExternalIdentity).where(ExternalIdentity.user_id == user.id))
    session.execute(sa.delete(OidcLogin).where(OidcLogin.user_id == user.id))


def _erase_profile(session: Session, user: User, pseudonym: str) -> None:
    user.email = f"{pseudonym}@erased.invalid"
    user.username = None
    user.first_name = "Erased"
    user.last_name = "Person"
    user.phone = None
    user.is_active = False  # the login is disabled for good
    user.admin_locked_at = user.admin_locked_at or utcnow()
    user.password_hash = "!erased:" + secrets.token_hex(16)  # matches no password
    user.totp_secret = None
    user.totp_pending_secret = None
    user.mfa_enabled = False
    session.execute(sa.delete(BackupCode).where(BackupCode.user_id == user.id))
    session.execute(sa.delete(OneTimeToken).where(OneTimeToken.user_id == user.id))
    session.execute(sa.delete(MagicLink).where(MagicLink.user_id == user.id))  # and their IPs


def _erase_sessions(session: Session, user: User, pseudonym: str) -> None:
    session.execute(
        sa.update(AuthSession)
        .where(AuthSession.user_id == user.id)
        .values(
            ip=None,
            user_agent=None,
            oidc_refresh_token=None,
            revoked_at=sa.func.coalesce(AuthSession.revoked_at, utcnow()),
            revoked_reason=sa.func.coalesce(AuthSession.revoked_reason, "erased"),
        )
    )


def _erase_outbox(session: Session, user: User, pseudonym: str) -> None:
    """E-mails to the person: the address and the sealed body go; pending ones are cancelled."""
    emails = session.scalars(
        sa.select(EmailOutbox).where(
            sa.or_(EmailOutbox.user_id == user.id, EmailOutbox.to_address == user.email)
        )
    )
    for message in emails:
        message.to_address = f"{pseudonym}@erased.invalid"
        message.body_encrypted = mail.seal_body("")
        if message.status == "pending":
            message.status = "cancelled"
        message.last_error = None
