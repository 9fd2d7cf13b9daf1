"""Identity services: registration, login, tokens, sessions, 2FA, passwords, e-mail.

Every public function here is one use case and owns its unit of work (it commits), except the
helpers documented as flushing only. Failed security events are audited in a transaction that
commits before the error is raised.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import smtplib
import uuid
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from typing import NoReturn

import sqlalchemy as sa
from flask import current_app
from flask_jwt_extended import decode_token
from itsdangerous import BadSignature, URLSafeSerializer
from jwt import ExpiredSignatureError, InvalidTokenError
from rq import Retry
from sqlalchemy.orm import Session

from app.auth import mfa
from app.auth.errors import (
    AccountLocked,
    InvalidCredentials,
    InvalidMfaCode,
    InvalidToken,
    TokenExpired,
    TokenRevoked,
)
from app.auth.models import AuthSession, BackupCode, EmailOutbox, OneTimeToken, Role, User
from app.auth.password_policy import check_password
from app.auth.passwords import hash_password, needs_rehash, verify_password
from app.auth.tokens import TokenPair, lock_session, now, revoke_sessions, rotate, start_session
from app.core import audit, context, crypto
from app.core.errors import Conflict, NotFound, ValidationError
from app.core.queue import enqueue

log = logging.getLogger("flowlet.auth")

VALID_ROLES = {role.value for role in Role}

MFA_LOGIN = "mfa_login"
VERIFY_EMAIL = "verify_email"
PASSWORD_RESET = "password_reset"


def normalize_email(email: str) -> str:
    return email.strip().lower()


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(sa.select(User).where(User.email == normalize_email(email)))


def get_user(session: Session, *, public_id: uuid.UUID | str) -> User:
    """A user by public id, or NotFound."""
    try:
        key = uuid.UUID(str(public_id))
    except ValueError as exc:
        raise NotFound("The user was not found.") from exc
    user = session.scalar(sa.select(User).where(User.public_id == key))
    if user is None:
        raise NotFound("The user was not found.")
    return user


def _lock_user(session: Session, user_id: int) -> User:
    return session.scalars(
        sa.select(User)
        .where(User.id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    roles: list[str] | None = None,
    username: str | None = None,
    email_verified: bool = False,
    policy_version: str | None = None,
) -> User:
    """Create a user with the given roles (flushes; the caller commits)."""
    roles = roles or [Role.CUSTOMER.value]
    unknown = set(roles) - VALID_ROLES
    if unknown:
        raise ValidationError(
            "Unknown role.", details={"roles": [f"unknown role(s): {', '.join(sorted(unknown))}"]}
        )
    email = normalize_email(email)
    clash = sa.select(User.id).where(
        sa.or_(User.email == email, User.username == username) if username else User.email == email
    )
    if session.scalar(clash) is not None:
        raise Conflict("An account with these details already exists.")
    moment = now()
    user = User(
        email=email,
        username=username,
        password_hash=hash_password(password),
        first_name=first_name,
        last_name=last_name,
        email_verified=email_verified,
        email_verified_at=moment if email_verified else None,
        terms_accepted_at=moment,
        privacy_accepted_at=moment,
        policy_version=policy_version,
    )
    user.set_roles(roles)
    session.add(user)
    session.flush()
    audit.record(
        session,
        "user.created",
        resource_type="user",
        resource=user,
        changes={"email": email, "roles": roles, "username": username},
    )
    return user


def enforce_password_policy(
    password: str, *, user: User | None = None, **identity: str | None
) -> None:
    """Raise a 422 naming every reason `password` fails the policy (for `user`, or identity)."""
    if user is not None:
        identity = {
            "email": user.email,
            "username": user.username,
            "first_name": user.first_name,
            "last_name": user.last_name,
        }
    reasons = check_password(password, **identity)
    if reasons:
        field = "new_password" if user is not None else "password"
        raise ValidationError("The password does not meet the policy.", details={field: reasons})


# --- one-time tokens (e-mail links, the MFA login step) ----------------------------------------


def _serializer(purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"flowlet.{purpose}")


def _digest(jti: str) -> str:
    return hashlib.sha256(jti.encode()).hexdigest()


def _issue_one_time(session: Session, *, user: User, purpose: str, seconds: int) -> str:
    """Create a signed, single-use token that expires after `seconds` (flushes)."""
    jti = secrets.token_urlsafe(32)
    moment = now()
    session.add(
        OneTimeToken(
            user_id=user.id,
            purpose=purpose,
            token_hash=_digest(jti),
            created_at=moment,
            expires_at=moment + timedelta(seconds=seconds),
        )
    )
    session.flush()
    return _serializer(purpose).dumps(jti)


def _find_one_time(session: Session, *, token: str, purpose: str) -> OneTimeToken | None:
    """The live token row (locked), or None when forged, unknown, used or expired."""
    try:
        jti = _serializer(purpose).loads(token)
    except BadSignature:
        return None
    if not isinstance(jti, str):
        return None
    row = session.scalar(
        sa.select(OneTimeToken)
        .where(OneTimeToken.token_hash == _digest(jti), OneTimeToken.purpose == purpose)
        .with_for_update()
    )
    if row is None or row.used_at is not None or row.expires_at <= now():
        return None
    return row


def _bad_link() -> ValidationError:
    return ValidationError(
        "The link is not valid.", details={"token": ["The link is invalid, used or expired."]}
    )


# --- e-mail outbox -----------------------------------------------------------------------------

_OUTBOX_AAD = b"email_outbox"


def queue_email(
    session: Session, *, to: str, subject: str, body: str, kind: str, user_id: int | None = None
) -> EmailOutbox:
    """Put an e-mail in the outbox; it is sent by a job after the transaction commits."""
    from app.auth.tasks import send_outbox_email

    message = EmailOutbox(
        user_id=user_id,
        to_address=to,
        subject=subject,
        kind=kind,
        body_encrypted=crypto.encrypt_str(body, aad=_OUTBOX_AAD),
        status="pending",
        attempts=0,
        created_at=now(),
    )
    session.add(message)
    session.flush()
    enqueue(session, send_outbox_email, message.id, retry=Retry(max=3, interval=[10, 60, 300]))
    return message


def _link(path: str, token: str) -> str:
    return f"{current_app.config['FRONTEND_URL']}{path}?token={token}"


def _mask_address(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def deliver_email(session: Session, *, outbox_id: int) -> str:
    """Send one outbox message through SMTP (or log it without SMTP); returns its status."""
    message = session.scalar(
        sa.select(EmailOutbox).where(EmailOutbox.id == outbox_id).with_for_update()
    )
    if message is None or message.status in {"sent", "logged"}:
        session.rollback()
        return message.status if message else "missing"
    config = current_app.config
    body = crypto.decrypt_str(message.body_encrypted, aad=_OUTBOX_AAD)
    message.attempts += 1
    if not config.get("SMTP_HOST"):
        if config["FLOWLET_ENV"] == "development":
            log.info(
                "e-mail (SMTP_HOST unset, development: logged, not sent)",
                extra={"to": message.to_address, "subject": message.subject, "email_body": body},
            )
        else:
            log.warning(
                "e-mail not sent: SMTP_HOST is unset",
                extra={"to": _mask_address(message.to_address), "subject": message.subject},
            )
        message.status = "logged"
        message.sent_at = now()
        session.commit()
        return message.status
    email = EmailMessage()
    email["From"] = config["SMTP_FROM"]
    email["To"] = message.to_address
    email["Subject"] = message.subject
    email.set_content(body)
    try:
        with smtplib.SMTP(
            config["SMTP_HOST"], config["SMTP_PORT"], timeout=config["SMTP_TIMEOUT"]
        ) as smtp:
            if config["SMTP_STARTTLS"]:
                smtp.starttls()
            if config.get("SMTP_USERNAME"):
                smtp.login(config["SMTP_USERNAME"], config.get("SMTP_PASSWORD") or "")
            smtp.send_message(email)
    except (OSError, smtplib.SMTPException) as exc:
        message.status = "failed"
        message.last_error = type(exc).__name__
        session.commit()
        log.warning(
            "e-mail delivery failed",
            extra={"to": _mask_address(message.to_address), "error": type(exc).__name__},
        )
        raise
    message.status = "sent"
    message.sent_at = now()
    message.last_error = None
    session.commit()
    return message.status


def _send_verification(session: Session, user: User) -> None:
    token = _issue_one_time(
        session,
        user=user,
        purpose=VERIFY_EMAIL,
        seconds=current_app.config["EMAIL_VERIFICATION_SECONDS"],
    )
    queue_email(
        session,
        to=user.email,
        subject="Confirm your e-mail address",
        body=(
            f"Hello {user.first_name},\n\nconfirm your e-mail address for Flowlet:\n"
            f"{_link('/verify-email', token)}\n\nIf you did not sign up, ignore this message.\n"
        ),
        kind=VERIFY_EMAIL,
        user_id=user.id,
    )


# --- registration and profile ------------------------------------------------------------------


def register(
    session: Session,
    *,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    username: str | None = None,
) -> User:
    """Register a customer (terms and privacy accepted); e-mails a verification link."""
    enforce_password_policy(
        password, email=email, username=username, first_name=first_name, last_name=last_name
    )
    user = create_user(
        session,
        email=email,
        password=password,
        first_name=first_name,
        last_name=last_name,
        username=username,
        policy_version=current_app.config["POLICY_VERSION"],
    )
    audit.record(
        session,
        "auth.registered",
        resource_type="user",
        resource=user,
        changes={"policy_version": user.policy_version, "terms_accepted": True},
    )
    _send_verification(session, user)
    session.commit()
    return user


def update_profile(session: Session, *, user: User, changes: dict) -> User:
    """Change the caller's names, phone or base currency."""
    if "first_name" in changes or "last_name" in changes:  # a new name is screened first
        from app.compliance.services import check_name_change

        check_name_change(
            session,
            user=user,
            first_name=changes.get("first_name"),
            last_name=changes.get("last_name"),
        )
    before = {key: getattr(user, key) for key in changes}
    for key, value in changes.items():
        setattr(user, key, value)
    audit.record(
        session,
        "user.profile_updated",
        resource_type="user",
        resource=user,
        changes={"before": before, "after": changes},
    )
    session.commit()
    return user


def verify_email(session: Session, *, token: str) -> None:
    """Mark the e-mail address verified with a link token (single use)."""
    row = _find_one_time(session, token=token, purpose=VERIFY_EMAIL)
    if row is None:
        session.commit()
        raise _bad_link()
    row.used_at = now()
    user = _lock_user(session, row.user_id)
    user.email_verified = True
    user.email_verified_at = now()
    audit.record(session, "auth.email_verified", resource_type="user", resource=user)
    session.commit()


# --- login, lockout ----------------------------------------------------------------------------


@dataclass
class LoginResult:
    tokens: TokenPair | None = None
    mfa_token: str | None = None


def _lock_remaining(user: User) -> int | None:
    """Seconds until an automatic lockout ends, None if not locked."""
    if user.locked_until is None:
        return None
    remaining = (user.locked_until - now()).total_seconds()
    return math.ceil(remaining) if remaining > 0 else None


def _raise_if_locked(session: Session, user: User, *, method: str) -> None:
    if user.admin_locked_at is not None:
        audit.record(
            session,
            "auth.login",
            resource_type="user",
            resource=user,
            outcome="failure",
            changes={"reason": "admin_locked", "method": method},
        )
        session.commit()
        raise AccountLocked("The account is locked; contact support.")
    remaining = _lock_remaining(user)
    if remaining is not None:
        audit.record(
            session,
            "auth.login",
            resource_type="user",
            resource=user,
            outcome="failure",
            changes={"reason": "locked", "method": method},
        )
        session.commit()
        raise AccountLocked(
            "Too many failed attempts; the account is locked for a while.",
            headers={"Retry-After": str(remaining)},
            details={"retry_after": remaining},
        )


def _fail(session: Session, user: User, *, reason: str, method: str, error: Exception) -> NoReturn:
    """Count a failed attempt (locking the account at the threshold), audit, commit, raise."""
    config = current_app.config
    user.failed_login_count += 1
    audit.record(
        session,
        "auth.login",
        resource_type="user",
        resource=user,
        outcome="failure",
        changes={"reason": reason, "method": method, "failed_attempts": user.failed_login_count},
    )
    if user.failed_login_count >= config["LOCKOUT_THRESHOLD"]:
        user.lockout_count += 1
        seconds = min(
            config["LOCKOUT_SECONDS"] * 2 ** (user.lockout_count - 1), config["LOCKOUT_MAX_SECONDS"]
        )
        user.locked_until = now() + timedelta(seconds=seconds)
        user.failed_login_count = 0
        audit.record(
            session,
            "auth.lockout",
            resource_type="user",
            resource=user,
            outcome="failure",
            changes={"locked_seconds": seconds, "lockout_count": user.lockout_count},
        )
        session.commit()
        raise AccountLocked(
            "Too many failed attempts; the account is locked for a while.",
            headers={"Retry-After": str(seconds)},
            details={"retry_after": seconds},
        )
    session.commit()
    raise error


def _succeeded(user: User) -> None:
    if user.failed_login_count or user.locked_until or user.lockout_count:
        user.failed_login_count = 0
        user.locked_until = None
        user.lockout_count = 0
    user.last_login_at = now()


def _find_login(session: Session, login: str) -> User | None:
    login = login.strip().lower()
    column = User.email if "@" in login else User.username
    return session.scalar(
        sa.select(User)
        .where(column == login)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _issue_session(session: Session, user: User, *, method: str) -> TokenPair:
    ctx = context.current()
    tokens = start_session(session, user=user, ip=ctx.ip, user_agent=ctx.user_agent, fresh=True)
    audit.record(
        session,
        "auth.login",
        resource_type="user",
        resource=user,
        actor_id=str(user.public_id),
        actor_role=",".join(user.roles) or None,
        changes={"method": method, "session_id": str(tokens.session_id)},
    )
    return tokens


def login(session: Session, *, login: str, password: str) -> LoginResult:
    """Check a password login; returns tokens, or an MFA challenge when 2FA is on."""
    user = _find_login(session, login)
    if user is None or not user.is_active:
        # Spend one Argon2 verification anyway: an unknown login costs what a wrong one costs.
        verify_password(None, password)
        key = "email" if "@" in login else "username"
        audit.record(
            session,
            "auth.login",
            resource_type="user",
            outcome="failure",
            changes={"reason": "unknown_user", key: login.strip().lower()},
        )
        session.commit()
        raise InvalidCredentials()
    _raise_if_locked(session, user, method="password")
    if not verify_password(user.password_hash, password):
        _fail(session, user, reason="wrong_password", method="password", error=InvalidCredentials())
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    if user.mfa_enabled:
        token = _issue_one_time(
            session, user=user, purpose=MFA_LOGIN, seconds=current_app.config["MFA_TOKEN_SECONDS"]
        )
        audit.record(session, "auth.mfa_challenge", resource_type="user", resource=user)
        session.commit()
        return LoginResult(mfa_token=token)
    _succeeded(user)
    tokens = _issue_session(session, user, method="password")
    session.commit()
    return LoginResult(tokens=tokens)


def login_mfa(session: Session, *, mfa_token: str, code: str) -> TokenPair:
    """Second login step: the MFA token from `login` and a TOTP or backup code."""
    row = _find_one_time(session, token=mfa_token, purpose=MFA_LOGIN)
    if row is None:
        session.commit()
        raise InvalidToken("The MFA token is not valid or has expired; log in again.")
    user = _lock_user(session, row.user_id)
    _raise_if_locked(session, user, method="mfa")
    method = mfa.verify_second_factor(session, user, code) if user.mfa_enabled else None
    if method is None:
        _fail(session, user, reason="wrong_mfa_code", method="mfa", error=InvalidMfaCode())
    row.used_at = now()
    _succeeded(user)
    tokens = _issue_session(session, user, method=f"password+{method}")
    session.commit()
    return tokens


# --- refresh, logout, step-up ------------------------------------------------------------------


def refresh(session: Session, *, refresh_token: str) -> TokenPair:
    """Exchange a refresh token for a new pair; a spent token revokes its whole family."""
    try:
        payload = decode_token(refresh_token)
    except ExpiredSignatureError as exc:
        raise TokenExpired("The refresh token has expired; log in again.") from exc
    except InvalidTokenError as exc:
        raise InvalidToken("The refresh token is not valid.") from exc
    if payload.get("type") != "refresh" or not payload.get("sid"):
        raise InvalidToken("The refresh token is not valid.")
    auth_session = lock_session(session, payload["sid"])
    if auth_session is None:
        raise InvalidToken("The refresh token is not valid.")
    user = auth_session.user
    if str(user.public_id) != payload.get("sub"):
        raise InvalidToken("The refresh token is not valid.")
    if auth_session.revoked_at is not None:
        session.commit()
        raise TokenRevoked("The session has been revoked; log in again.")
    if auth_session.refresh_jti != payload.get("jti"):
        # A spent token came back: someone holds a copy. End the family for everyone.
        revoke_sessions(
            session, user_id=user.id, reason="refresh_reuse", only=[auth_session.public_id]
        )
        audit.record(
            session,
            "auth.refresh_reuse",
            resource_type="session",
            resource_id=str(auth_session.public_id),
            outcome="failure",
            actor_id=str(user.public_id),
        )
        session.commit()
        raise TokenRevoked("The refresh token was already used; the session is revoked.")
    if not user.is_active or user.admin_locked_at is not None or auth_session.expires_at <= now():
        revoke_sessions(session, user_id=user.id, reason="expired", only=[auth_session.public_id])
        session.commit()
        raise TokenRevoked("The session has ended; log in again.")
    tokens = rotate(
        session, auth_session=auth_session, user=user, ip=context.current().ip, fresh=False
    )
    session.commit()
    return tokens


def logout(session: Session, *, user: User, session_id: str) -> None:
    """Revoke the caller's access token and its refresh family at once."""
    revoked = revoke_sessions(
        session, user_id=user.id, reason="logout", only=[uuid.UUID(str(session_id))]
    )
    audit.record(
        session,
        "auth.logout",
        resource_type="session",
        resource_id=str(session_id),
        changes={"revoked": len(revoked)},
    )
    session.commit()


def step_up(
    session: Session,
    *,
    user: User,
    session_id: str,
    code: str | None = None,
    password: str | None = None,
) -> TokenPair:
    """Re-authenticate (TOTP/backup code, or password when 2FA is off) for a fresh token."""
    user = _lock_user(session, user.id)
    _raise_if_locked(session, user, method="step_up")
    if user.mfa_enabled:
        if not code:
            raise ValidationError(
                "A code is required.", details={"code": ["2FA is on: send a TOTP or backup code."]}
            )
        if mfa.verify_second_factor(session, user, code) is None:
            _fail(session, user, reason="wrong_mfa_code", method="step_up", error=InvalidMfaCode())
    else:
        if not password:
            raise ValidationError(
                "The password is required.", details={"password": ["Missing data for field."]}
            )
        if not verify_password(user.password_hash, password):
            _fail(
                session, user, reason="wrong_password", method="step_up", error=InvalidCredentials()
            )
    auth_session = lock_session(session, session_id)
    if auth_session is None or auth_session.revoked_at is not None:
        raise TokenRevoked()
    tokens = rotate(
        session, auth_session=auth_session, user=user, ip=context.current().ip, fresh=True
    )
    audit.record(
        session, "auth.step_up", resource_type="session", resource_id=str(auth_session.public_id)
    )
    session.commit()
    return tokens


# --- sessions ----------------------------------------------------------------------------------


def list_sessions(session: Session, *, user: User, current_id: str | None) -> list[AuthSession]:
    """The caller's live sessions, most recently used first; `current` marks this one."""
    sessions = list(
        session.scalars(
            sa.select(AuthSession)
            .where(
                AuthSession.user_id == user.id,
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > now(),
            )
            .order_by(AuthSession.last_used_at.desc(), AuthSession.id.desc())
        )
    )
    for item in sessions:
        item.current = str(item.public_id) == str(current_id)  # type: ignore[attr-defined]
    return sessions


def revoke_session(session: Session, *, user: User, session_id: uuid.UUID) -> None:
    """Revoke one of the caller's sessions; another user's session id is not found."""
    owned = session.scalar(
        sa.select(AuthSession.id).where(
            AuthSession.public_id == session_id, AuthSession.user_id == user.id
        )
    )
    if owned is None:
        raise NotFound("The session was not found.")
    revoke_sessions(session, user_id=user.id, reason="user_revoked", only=[session_id])
    audit.record(session, "auth.session_revoked", resource_type="session", resource_id=session_id)
    session.commit()


# --- passwords ---------------------------------------------------------------------------------


def _set_password(user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    user.password_changed_at = now()


def change_password(
    session: Session, *, user: User, session_id: str, current_password: str, new_password: str
) -> None:
    """Change the caller's password; every other session is revoked."""
    user = _lock_user(session, user.id)
    if not verify_password(user.password_hash, current_password):
        audit.record(
            session,
            "auth.password_changed",
            resource_type="user",
            resource=user,
            outcome="failure",
            changes={"reason": "wrong_password"},
        )
        session.commit()
        raise InvalidCredentials("The current password is not correct.")
    enforce_password_policy(new_password, user=user)
    _set_password(user, new_password)
    revoked = revoke_sessions(
        session, user_id=user.id, reason="password_changed", keep=uuid.UUID(str(session_id))
    )
    audit.record(
        session,
        "auth.password_changed",
        resource_type="user",
        resource=user,
        changes={"sessions_revoked": len(revoked)},
    )
    queue_email(
        session,
        to=user.email,
        subject="Your Flowlet password was changed",
        body=(
            f"Hello {user.first_name},\n\nyour password was just changed. If this was not you, "
            "reset your password now and contact support.\n"
        ),
        kind="password_changed",
        user_id=user.id,
    )
    session.commit()


def request_password_reset(session: Session, *, email: str) -> None:
    """E-mail a reset link if the address belongs to an active account; silent otherwise."""
    user = get_user_by_email(session, email)
    if user is None or not user.is_active:
        session.commit()
        return
    session.execute(
        sa.update(OneTimeToken)
        .where(
            OneTimeToken.user_id == user.id,
            OneTimeToken.purpose == PASSWORD_RESET,
            OneTimeToken.used_at.is_(None),
        )
        .values(used_at=now())
        .execution_options(synchronize_session=False)
    )
    token = _issue_one_time(
        session,
        user=user,
        purpose=PASSWORD_RESET,
        seconds=current_app.config["PASSWORD_RESET_SECONDS"],
    )
    queue_email(
        session,
        to=user.email,
        subject="Reset your Flowlet password",
        body=(
            f"Hello {user.first_name},\n\nreset your password with this link (valid "
            f"{current_app.config['PASSWORD_RESET_SECONDS'] // 60} minutes, once):\n"
            f"{_link('/reset-password', token)}\n\nIf you did not ask for this, ignore it.\n"
        ),
        kind=PASSWORD_RESET,
        user_id=user.id,
    )
    audit.record(session, "auth.password_reset_requested", resource_type="user", resource=user)
    session.commit()


def confirm_password_reset(session: Session, *, token: str, new_password: str) -> None:
    """Set a new password with a reset token (single use); every session is revoked."""
    row = _find_one_time(session, token=token, purpose=PASSWORD_RESET)
    if row is None:
        session.commit()
        raise _bad_link()
    user = _lock_user(session, row.user_id)
    enforce_password_policy(new_password, user=user)
    row.used_at = now()
    _set_password(user, new_password)
    # Proving control of the mailbox ends an automatic lockout (not an administrator's).
    user.failed_login_count = 0
    user.locked_until = None
    revoke_sessions(session, user_id=user.id, reason="password_reset")
    audit.record(session, "auth.password_reset", resource_type="user", resource=user)
    session.commit()


# --- 2FA ---------------------------------------------------------------------------------------


@dataclass
class TotpSetup:
    secret: str
    otpauth_uri: str
    qr_svg: str


def setup_2fa(session: Session, *, user: User) -> TotpSetup:
    """Start 2FA enrolment: a new secret (sealed, pending until a code confirms it)."""
    user = _lock_user(session, user.id)
    if user.mfa_enabled:
        raise Conflict("Two-factor authentication is already on; disable it first.")
    secret = mfa.new_secret()
    user.totp_pending_secret = mfa.seal_secret(user, secret)
    audit.record(session, "auth.2fa_setup", resource_type="user", resource=user)
    session.commit()
    uri, svg = mfa.provisioning(user, secret)
    return TotpSetup(secret=secret, otpauth_uri=uri, qr_svg=svg)


def enable_2fa(session: Session, *, user: User, code: str) -> list[str]:
    """Confirm enrolment with a code from the app; returns ten one-time backup codes."""
    user = _lock_user(session, user.id)
    if user.mfa_enabled:
        raise Conflict("Two-factor authentication is already on.")
    if not user.totp_pending_secret:
        raise Conflict("Start with /auth/2fa/setup.")
    secret = mfa.open_secret(user, user.totp_pending_secret)
    counter = mfa.match_totp(secret, (code or "").strip(), last_counter=None)
    if counter is None:
        audit.record(
            session, "auth.2fa_enabled", resource_type="user", resource=user, outcome="failure"
        )
        session.commit()
        raise InvalidMfaCode()
    user.totp_secret = user.totp_pending_secret
    user.totp_pending_secret = None
    user.totp_last_counter = counter
    user.mfa_enabled = True
    user.mfa_changed_at = now()
    codes = mfa.new_backup_codes(session, user)
    audit.record(session, "auth.2fa_enabled", resource_type="user", resource=user)
    session.commit()
    return codes


def disable_2fa(session: Session, *, user: User, password: str, code: str) -> None:
    """Turn 2FA off (password and a current code; the route demands a fresh token)."""
    user = _lock_user(session, user.id)
    if not user.mfa_enabled:
        raise Conflict("Two-factor authentication is not on.")
    if not verify_password(user.password_hash, password):
        audit.record(
            session,
            "auth.2fa_disabled",
            resource_type="user",
            resource=user,
            outcome="failure",
            changes={"reason": "wrong_password"},
        )
        session.commit()
        raise InvalidCredentials("The password is not correct.")
    if mfa.verify_second_factor(session, user, code) is None:
        audit.record(
            session,
            "auth.2fa_disabled",
            resource_type="user",
            resource=user,
            outcome="failure",
            changes={"reason": "wrong_mfa_code"},
        )
        session.commit()
        raise InvalidMfaCode()
    user.mfa_enabled = False
    user.totp_secret = None
    user.totp_pending_secret = None
    user.totp_last_counter = None
    user.mfa_changed_at = now()
    session.execute(sa.delete(BackupCode).where(BackupCode.user_id == user.id))
    audit.record(session, "auth.2fa_disabled", resource_type="user", resource=user)
    session.commit()
