"""Sign-in and sessions: login with lockout, the MFA step, refresh, logout, step-up,
and the customer's own list of sessions.

Every public function is one use case and owns its unit of work (it commits), except the
helpers documented as flushing only. Failed security events are audited in a transaction that
commits before the error is raised.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_jwt_extended import decode_token
from jwt import ExpiredSignatureError, InvalidTokenError
from sqlalchemy.orm import Session

from app.auth import mfa, networks, oidc_client, passkey_checks
from app.auth.attempts import failed as _fail
from app.auth.attempts import refuse_if_locked as _raise_if_locked
from app.auth.errors import (
    InvalidCredentials,
    InvalidMfaCode,
    InvalidToken,
    TokenExpired,
    TokenRevoked,
)
from app.auth.models import AuthSession, User
from app.auth.one_time import MAGIC_MFA_LOGIN, MFA_LOGIN, find_one_time, issue_one_time
from app.auth.passwords import hash_password, needs_rehash, verify_password
from app.auth.tokens import TokenPair, lock_session, now, revoke_sessions, rotate, start_session
from app.auth.users import lock_user
from app.core import audit, context, uow
from app.core.db import for_update
from app.core.errors import NotFound, ValidationError

# --- login, lockout ----------------------------------------------------------------------------


@dataclass
class LoginResult:
    tokens: TokenPair | None = None
    mfa_token: str | None = None
    methods: list[str] | None = None


def _succeeded(user: User) -> None:
    if user.failed_login_count or user.locked_until or user.lockout_count:
        user.failed_login_count = 0
        user.locked_until = None
        user.lockout_count = 0
    user.last_login_at = now()


def _find_login(session: Session, login: str) -> User | None:
    login = login.strip().lower()
    column = User.email if "@" in login else User.username
    return session.scalar(for_update(sa.select(User).where(column == login)))


def issue_session(session: Session, user: User, *, method: str, fresh: bool = True) -> TokenPair:
    """Open a session for a login that succeeded and audit it (flushes)."""
    ctx = context.current()
    tokens = start_session(session, user=user, ip=ctx.ip, user_agent=ctx.user_agent, fresh=fresh)
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


def sign_in(session: Session, user: User, *, method: str) -> TokenPair:
    """A proven sign-in: the failure count starts again, a new session is opened (flushes).

    Staff sign in only from their networks (`networks`), whatever proved who they are."""
    networks.enforce_at_login(session, user=user, step=method)
    _succeeded(user)
    return issue_session(session, user, method=method)


def mfa_methods(session: Session, user: User) -> list[str]:
    """What the MFA step accepts from `user`: TOTP and backup codes, and a passkey if any."""
    methods = ["totp", "backup_code"]
    if passkey_checks.has_passkey(session, user.id):
        methods.append("passkey")
    return methods


def login(session: Session, *, login: str, password: str) -> LoginResult:
    """Check a password login; returns tokens, or an MFA challenge when 2FA is on."""
    user = _find_login(session, login)
    if user is not None and user.sso_only:
        # Signs in through the bank's identity provider only: answered like a wrong password.
        verify_password(None, password)
        audit.fail(
            session,
            InvalidCredentials(),
            "auth.login",
            resource_type="user",
            resource=user,
            changes={"reason": "sso_only"},
        )
    if user is None or not user.is_active:
        # Spend one Argon2 verification anyway: an unknown login costs what a wrong one costs.
        verify_password(None, password)
        key = "email" if "@" in login else "username"
        audit.fail(
            session,
            InvalidCredentials(),
            "auth.login",
            resource_type="user",
            changes={"reason": "unknown_user", key: login.strip().lower()},
        )
    _raise_if_locked(session, user, method="password")
    if not verify_password(user.password_hash, password):
        _fail(session, user, reason="wrong_password", method="password", error=InvalidCredentials())
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    networks.enforce_at_login(session, user=user, step="password")
    if user.mfa_enabled:
        token = issue_one_time(
            session, user=user, purpose=MFA_LOGIN, seconds=current_app.config["MFA_TOKEN_SECONDS"]
        )
        audit.record(session, "auth.mfa_challenge", resource_type="user", resource=user)
        methods = mfa_methods(session, user)
        uow.commit(session)
        return LoginResult(mfa_token=token, methods=methods)
    _succeeded(user)
    tokens = issue_session(session, user, method="password")
    uow.commit(session)
    return LoginResult(tokens=tokens)


def login_mfa(
    session: Session,
    *,
    mfa_token: str,
    code: str | None = None,
    credential: dict[str, Any] | None = None,
) -> TokenPair:
    """Second login step: the MFA token from `login` and a TOTP or backup code, or a passkey
    assertion (`credential`, signed over a challenge from `/passkeys/login/options`)."""
    first, row = "password", find_one_time(session, token=mfa_token, purpose=MFA_LOGIN)
    if row is None:
        # After a magic link: the mailbox is not a strong factor, so the session is not fresh.
        first, row = "magic_link", find_one_time(session, token=mfa_token, purpose=MAGIC_MFA_LOGIN)
    if row is None:
        uow.commit(session)
        raise InvalidToken("The MFA token is not valid or has expired; log in again.")
    user = lock_user(session, row.user_id)
    _raise_if_locked(session, user, method="mfa")
    networks.enforce_at_login(session, user=user, step="mfa")
    method: str | None
    if credential is not None:
        method = _passkey_factor(session, user, credential)
    else:
        method = mfa.verify_second_factor(session, user, code or "") if user.mfa_enabled else None
    if method is None:
        _fail(session, user, reason="wrong_mfa_code", method="mfa", error=InvalidMfaCode())
    row.used_at = now()
    _succeeded(user)
    tokens = issue_session(session, user, method=f"{first}+{method}", fresh=first == "password")
    uow.commit(session)
    return tokens


def _passkey_factor(session: Session, user: User, credential: dict[str, Any]) -> str | None:
    """A passkey as the second factor: one of `user`'s, over a live sign-in challenge."""
    parsed = passkey_checks.parse_assertion(credential)
    passkey = passkey_checks.find_passkey(session, parsed)
    if parsed is None or passkey is None or passkey.user_id != user.id:
        return None
    challenge_ok = passkey_checks.take_challenge(
        session, passkey_checks.client_challenge(parsed), purpose=passkey_checks.LOGIN
    )
    passkey_checks.check_assertion(
        session,
        passkey=passkey,
        parsed=parsed,
        challenge_ok=challenge_ok,
        method="mfa",
        error=InvalidMfaCode("The passkey could not be verified."),
    )
    return "passkey"


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
        uow.commit(session)
        raise TokenRevoked("The session has been revoked; log in again.")
    if auth_session.refresh_jti != payload.get("jti"):
        # A spent token came back: someone holds a copy. End the family for everyone.
        revoke_sessions(
            session, user_id=user.id, reason="refresh_reuse", only=[auth_session.public_id]
        )
        audit.fail(
            session,
            TokenRevoked("The refresh token was already used; the session is revoked."),
            "auth.refresh_reuse",
            resource_type="session",
            resource_id=str(auth_session.public_id),
            actor_id=str(user.public_id),
        )
    if not user.is_active or user.admin_locked_at is not None or auth_session.expires_at <= now():
        revoke_sessions(session, user_id=user.id, reason="expired", only=[auth_session.public_id])
        uow.commit(session)
        raise TokenRevoked("The session has ended; log in again.")
    networks.enforce_at_login(session, user=user, step="refresh")
    if not oidc_client.provider_allows(auth_session):
        revoke_sessions(session, user_id=user.id, reason="sso_ended", only=[auth_session.public_id])
        audit.fail(
            session,
            TokenRevoked("The identity provider ended the sign-in; log in again."),
            "auth.sso_session_ended",
            resource_type="session",
            resource_id=str(auth_session.public_id),
            actor_id=str(user.public_id),
            changes={"provider": auth_session.oidc_provider},
        )
    tokens = rotate(
        session, auth_session=auth_session, user=user, ip=context.current().ip, fresh=False
    )
    uow.commit(session)
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
    uow.commit(session)


def step_up(
    session: Session,
    *,
    user: User,
    session_id: str,
    code: str | None = None,
    password: str | None = None,
) -> TokenPair:
    """Re-authenticate (TOTP/backup code, or password when 2FA is off) for a fresh token."""
    user = lock_user(session, user.id)
    _raise_if_locked(session, user, method="step_up")
    if user.mfa_enabled:
        if not code:
            raise ValidationError(
                "A code is required.", details={"code": ["2FA is on: send a TOTP or backup code."]}
            )
        if mfa.verify_second_factor(session, user, code) is None:
            _fail(session, user, reason="wrong_mfa_code", method="step_up", error=InvalidMfaCode())
    else:
        if user.sso_only:  # no local password: a fresh token comes from signing in again
            audit.fail(
                session,
                InvalidCredentials("Sign in again through your identity provider."),
                "auth.step_up",
                resource_type="user",
                resource=user,
                changes={"reason": "sso_only"},
            )
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
    uow.commit(session)
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
    uow.commit(session)
