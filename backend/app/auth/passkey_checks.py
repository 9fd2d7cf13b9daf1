"""WebAuthn checks: challenges handed out once, assertions verified against a stored passkey.

The use cases (`passkeys`, the MFA step in `sessions`, payment confirmations) call these
helpers, which flush only. Every assertion is a check of a secret the user holds: it refuses
while the account is locked and counts a wrong answer on the one counter (`attempts`). A
signature counter that does not move forward means a cloned authenticator: refused, counted
and audited as `auth.passkey_counter_regressed`.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session
from webauthn import verify_authentication_response
from webauthn.helpers import (
    parse_authentication_credential_json,
    parse_client_data_json,
)
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidJSONStructure
from webauthn.helpers.structs import (
    AuthenticationCredential,
    PublicKeyCredentialDescriptor,
)

from app.auth import attempts
from app.auth.models import Passkey, User, WebauthnChallenge
from app.auth.tokens import now
from app.auth.users import lock_user
from app.core import uow
from app.core.db import for_update

REGISTER = "register"
LOGIN = "login"
STEP_UP = "step_up"


def rp_id() -> str:
    value: str = current_app.config["WEBAUTHN_RP_ID"]
    return value


def origins() -> list[str]:
    value: list[str] = current_app.config["WEBAUTHN_ORIGINS"]
    return value


def digest(challenge: bytes) -> str:
    return hashlib.sha256(challenge).hexdigest()


def user_handle(user: User) -> bytes:
    """The WebAuthn user handle: the user's public id (no personal data)."""
    return user.public_id.bytes


def issue_challenge(session: Session, *, purpose: str, user: User | None = None) -> bytes:
    """A new random challenge for `purpose`, good once until it expires (flushes)."""
    challenge = secrets.token_bytes(32)
    moment = now()
    session.add(
        WebauthnChallenge(
            user_id=user.id if user is not None else None,
            purpose=purpose,
            challenge_hash=digest(challenge),
            created_at=moment,
            expires_at=moment + timedelta(seconds=current_app.config["WEBAUTHN_CHALLENGE_SECONDS"]),
        )
    )
    session.flush()
    return challenge


def take_challenge(
    session: Session, challenge: bytes | None, *, purpose: str, user: User | None = None
) -> bool:
    """Spend a live challenge of `purpose` (and of `user`, when it was issued to one)."""
    if not challenge:
        return False
    row = session.scalar(
        for_update(
            sa.select(WebauthnChallenge).where(
                WebauthnChallenge.challenge_hash == digest(challenge),
                WebauthnChallenge.purpose == purpose,
            )
        )
    )
    if row is None or row.used_at is not None or row.expires_at <= now():
        return False
    if row.user_id is not None and (user is None or row.user_id != user.id):
        return False
    row.used_at = now()
    return True


def descriptors(session: Session, user: User) -> list[PublicKeyCredentialDescriptor]:
    """The user's passkeys as WebAuthn credential descriptors."""
    return [
        PublicKeyCredentialDescriptor(id=key.credential_id)
        for key in session.scalars(sa.select(Passkey).where(Passkey.user_id == user.id))
    ]


def has_passkey(session: Session, user_id: int) -> bool:
    return (
        session.scalar(sa.select(sa.literal(True)).where(Passkey.user_id == user_id).limit(1))
        is not None
    )


def parse_assertion(credential: dict[str, Any]) -> AuthenticationCredential | None:
    """The assertion as py_webauthn reads it, None when it is not one."""
    try:
        return parse_authentication_credential_json(credential)
    except (InvalidJSONStructure, InvalidAuthenticationResponse, ValueError, TypeError, KeyError):
        return None


def client_challenge(parsed: AuthenticationCredential) -> bytes | None:
    """The challenge the browser says it signed (checked against the signature later)."""
    try:
        return parse_client_data_json(parsed.response.client_data_json).challenge
    except Exception:  # malformed clientDataJSON: no challenge at all
        return None


def find_passkey(session: Session, parsed: AuthenticationCredential | None) -> Passkey | None:
    if parsed is None:
        return None
    return session.scalar(sa.select(Passkey).where(Passkey.credential_id == parsed.raw_id))


def check_assertion(
    session: Session,
    *,
    passkey: Passkey,
    parsed: AuthenticationCredential,
    challenge_ok: bool,
    method: str,
    error: Exception,
    action: str = "auth.login",
) -> User:
    """Verify `parsed` (an assertion by `passkey`) and move its counter; returns its user.

    The caller has found the passkey and spent (or compared) the challenge: `challenge_ok`.
    Refused while the account is locked; a wrong assertion counts on the one counter.
    """
    user = lock_user(session, passkey.user_id)
    attempts.refuse_if_locked(session, user, method=method)
    if not challenge_ok:
        attempts.failed(
            session, user, reason="unknown_challenge", method=method, error=error, action=action
        )
    challenge = client_challenge(parsed) or b""
    try:
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=rp_id(),
            expected_origin=origins(),
            credential_public_key=passkey.public_key,
            credential_current_sign_count=0,  # the counter is checked below, audited on its own
            require_user_verification=True,
        )
    except InvalidAuthenticationResponse as exc:
        reason = "bad_assertion"
        if "origin" in str(exc).lower():
            reason = "wrong_origin"
        elif "rp id" in str(exc).lower():
            reason = "wrong_rp_id"
        attempts.failed(session, user, reason=reason, method=method, error=error, action=action)
    if parsed.response.user_handle and parsed.response.user_handle != user_handle(user):
        attempts.failed(
            session, user, reason="wrong_user_handle", method=method, error=error, action=action
        )
    new_count = verified.new_sign_count
    if (new_count or passkey.sign_count) and new_count <= passkey.sign_count:
        # A counter that did not move forward: the authenticator was copied.
        attempts.failed(
            session,
            user,
            reason="counter_regressed",
            method=method,
            error=error,
            action="auth.passkey_counter_regressed",
        )
    passkey.sign_count = new_count
    passkey.backed_up = verified.credential_backed_up
    passkey.last_used_at = now()
    attempts.reset(user)
    return user


def purge_challenges(session: Session, *, older_than_seconds: int = 3600) -> int:
    """Delete challenges expired for more than `older_than_seconds` (used or not); commits."""
    cutoff = now() - timedelta(seconds=older_than_seconds)
    deleted = session.execute(
        sa.delete(WebauthnChallenge)
        .where(WebauthnChallenge.expires_at < cutoff)
        .returning(WebauthnChallenge.id)
    ).all()
    uow.commit(session)
    return len(deleted)
