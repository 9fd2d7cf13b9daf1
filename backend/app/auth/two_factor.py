"""Two-factor authentication: TOTP setup, enabling with backup codes, disabling.

Every public function is one use case and owns its unit of work (it commits), except the
helpers documented as flushing only. Failed security events are audited in a transaction that
commits before the error is raised.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth import attempts, mfa
from app.auth.errors import (
    InvalidCredentials,
    InvalidMfaCode,
)
from app.auth.models import BackupCode, User
from app.auth.passwords import verify_password
from app.auth.tokens import now
from app.auth.users import lock_user
from app.core import audit, uow
from app.core.errors import Conflict

# --- 2FA ---------------------------------------------------------------------------------------


@dataclass
class TotpSetup:
    secret: str
    otpauth_uri: str
    qr_svg: str


def setup_2fa(session: Session, *, user: User) -> TotpSetup:
    """Start 2FA enrolment: a new secret (sealed, pending until a code confirms it)."""
    user = lock_user(session, user.id)
    if user.mfa_enabled:
        raise Conflict("Two-factor authentication is already on; disable it first.")
    secret = mfa.new_secret()
    user.totp_pending_secret = mfa.seal_secret(user, secret)
    audit.record(session, "auth.2fa_setup", resource_type="user", resource=user)
    uow.commit(session)
    uri, svg = mfa.provisioning(user, secret)
    return TotpSetup(secret=secret, otpauth_uri=uri, qr_svg=svg)


def enable_2fa(session: Session, *, user: User, code: str) -> list[str]:
    """Confirm enrolment with a code from the app; returns ten one-time backup codes."""
    user = lock_user(session, user.id)
    if user.mfa_enabled:
        raise Conflict("Two-factor authentication is already on.")
    if not user.totp_pending_secret:
        raise Conflict("Start with /auth/2fa/setup.")
    secret = mfa.open_secret(user, user.totp_pending_secret)
    counter = mfa.match_totp(secret, (code or "").strip(), last_counter=None)
    if counter is None:
        audit.fail(
            session, InvalidMfaCode(), "auth.2fa_enabled", resource_type="user", resource=user
        )
    user.totp_secret = user.totp_pending_secret
    user.totp_pending_secret = None
    user.totp_last_counter = counter
    user.mfa_enabled = True
    user.mfa_changed_at = now()
    codes = mfa.new_backup_codes(session, user)
    audit.record(session, "auth.2fa_enabled", resource_type="user", resource=user)
    uow.commit(session)
    return codes


def disable_2fa(session: Session, *, user: User, password: str, code: str) -> None:
    """Turn 2FA off (password and a current code; the route demands a fresh token)."""
    user = lock_user(session, user.id)
    if not user.mfa_enabled:
        raise Conflict("Two-factor authentication is not on.")
    attempts.refuse_if_locked(session, user, method="disable_2fa")
    if not verify_password(user.password_hash, password):
        attempts.failed(
            session,
            user,
            reason="wrong_password",
            method="disable_2fa",
            error=InvalidCredentials("The password is not correct."),
            action="auth.2fa_disabled",
        )
    if mfa.verify_second_factor(session, user, code) is None:
        attempts.failed(
            session,
            user,
            reason="wrong_mfa_code",
            method="disable_2fa",
            error=InvalidMfaCode(),
            action="auth.2fa_disabled",
        )
    attempts.reset(user)
    user.mfa_enabled = False
    user.totp_secret = None
    user.totp_pending_secret = None
    user.totp_last_counter = None
    user.mfa_changed_at = now()
    session.execute(sa.delete(BackupCode).where(BackupCode.user_id == user.id))
    audit.record(session, "auth.2fa_disabled", resource_type="user", resource=user)
    uow.commit(session)
