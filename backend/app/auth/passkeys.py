"""Passkeys (WebAuthn): registering and removing them, signing in and stepping up with one.

A passkey is a possession factor with user verification required (a PIN or biometric on the
device), so a passkey sign-in gives tokens at once. Every public function is one use case and
owns its unit of work (it commits). Failed checks are counted and audited by `passkey_checks`.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_registration_response,
)
from webauthn.helpers import (
    options_to_json_dict,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import InvalidJSONStructure, InvalidRegistrationResponse
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from app.auth import attempts, passkey_checks, sessions
from app.auth.errors import InvalidCredentials, TokenRevoked
from app.auth.models import Passkey, User
from app.auth.tokens import TokenPair, lock_session, now, rotate
from app.auth.users import lock_user
from app.core import audit, context, uow
from app.core.errors import Conflict, NotFound, ValidationError

MAX_PASSKEYS = 20


def _options(options: Any) -> dict[str, Any]:
    result: dict[str, Any] = options_to_json_dict(options)
    return result


def _bad_credential(message: str) -> ValidationError:
    return ValidationError(message, details={"credential": [message]})


# --- registering, listing, removing ------------------------------------------------------------


def registration_options(session: Session, *, user: User) -> dict[str, Any]:
    """Options for `navigator.credentials.create`: a discoverable credential, verified user."""
    existing = passkey_checks.descriptors(session, user)
    if len(existing) >= MAX_PASSKEYS:
        raise Conflict(f"At most {MAX_PASSKEYS} passkeys; remove one first.")
    challenge = passkey_checks.issue_challenge(session, purpose=passkey_checks.REGISTER, user=user)
    options = generate_registration_options(
        rp_id=passkey_checks.rp_id(),
        rp_name=current_app.config["WEBAUTHN_RP_NAME"],
        user_id=passkey_checks.user_handle(user),
        user_name=user.email,
        user_display_name=f"{user.first_name} {user.last_name}",
        challenge=challenge,
        exclude_credentials=existing,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            require_resident_key=True,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
    )
    uow.commit(session)
    return _options(options)


def _parse_registration(credential: dict[str, Any]) -> RegistrationCredential:
    try:
        return parse_registration_credential_json(credential)
    except (InvalidJSONStructure, InvalidRegistrationResponse, ValueError, TypeError, KeyError):
        raise _bad_credential("Not a WebAuthn registration response.") from None


def register(session: Session, *, user: User, credential: dict[str, Any], name: str) -> Passkey:
    """Keep a new passkey: its public key and counter, after checking the attestation."""
    user = lock_user(session, user.id)
    parsed = _parse_registration(credential)
    try:
        challenge = parse_client_data_json(parsed.response.client_data_json).challenge
    except Exception:
        raise _bad_credential("Not a WebAuthn registration response.") from None
    if not passkey_checks.take_challenge(
        session, challenge, purpose=passkey_checks.REGISTER, user=user
    ):
        audit.fail(
            session,
            _bad_credential("The registration challenge is unknown, used or expired."),
            "auth.passkey_registered",
            resource_type="user",
            resource=user,
            changes={"reason": "unknown_challenge"},
        )
    try:
        verified = verify_registration_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=passkey_checks.rp_id(),
            expected_origin=passkey_checks.origins(),
            require_user_verification=True,
        )
    except InvalidRegistrationResponse as exc:
        audit.fail(
            session,
            _bad_credential("The passkey could not be verified."),
            "auth.passkey_registered",
            resource_type="user",
            resource=user,
            changes={"reason": type(exc).__name__, "detail": str(exc)[:200]},
        )
    if session.scalar(sa.select(Passkey.id).where(Passkey.credential_id == verified.credential_id)):
        raise Conflict("This passkey is already registered.")
    transports = [
        t.value if isinstance(t, AuthenticatorTransport) else str(t)
        for t in (parsed.response.transports or [])
    ]
    passkey = Passkey(
        user_id=user.id,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=transports,
        name=name,
        aaguid=verified.aaguid or None,
        backed_up=verified.credential_backed_up,
        created_at=now(),
    )
    session.add(passkey)
    session.flush()
    audit.record(
        session,
        "auth.passkey_registered",
        resource_type="passkey",
        resource=passkey,
        changes={"name": name, "aaguid": passkey.aaguid},
    )
    uow.commit(session)
    return passkey


def list_passkeys(session: Session, *, user: User) -> list[Passkey]:
    """The caller's passkeys, newest first."""
    return list(
        session.scalars(
            sa.select(Passkey)
            .where(Passkey.user_id == user.id)
            .order_by(Passkey.created_at.desc(), Passkey.id.desc())
        )
    )


def remove(session: Session, *, user: User, passkey_id: uuid.UUID) -> None:
    """Remove one of the caller's passkeys (another user's is not found)."""
    passkey = session.scalar(
        sa.select(Passkey).where(Passkey.public_id == passkey_id, Passkey.user_id == user.id)
    )
    if passkey is None:
        raise NotFound("The passkey was not found.")
    audit.record(
        session,
        "auth.passkey_removed",
        resource_type="passkey",
        resource_id=str(passkey.public_id),
        changes={"name": passkey.name},
    )
    session.delete(passkey)
    uow.commit(session)


# --- signing in, stepping up -------------------------------------------------------------------


def login_options(session: Session) -> dict[str, Any]:
    """Options for `navigator.credentials.get` with a discoverable passkey (no user named)."""
    challenge = passkey_checks.issue_challenge(session, purpose=passkey_checks.LOGIN)
    options = generate_authentication_options(
        rp_id=passkey_checks.rp_id(),
        challenge=challenge,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    uow.commit(session)
    return _options(options)


def login(session: Session, *, credential: dict[str, Any]) -> TokenPair:
    """Sign in with a passkey: its assertion over a live sign-in challenge gives tokens."""
    parsed = passkey_checks.parse_assertion(credential)
    passkey = passkey_checks.find_passkey(session, parsed)
    if parsed is None or passkey is None:
        audit.fail(
            session,
            InvalidCredentials("The passkey is not known."),
            "auth.login",
            resource_type="user",
            changes={"reason": "unknown_passkey", "method": "passkey"},
        )
    challenge_ok = passkey_checks.take_challenge(
        session, passkey_checks.client_challenge(parsed), purpose=passkey_checks.LOGIN
    )
    user = passkey_checks.check_assertion(
        session,
        passkey=passkey,
        parsed=parsed,
        challenge_ok=challenge_ok,
        method="passkey",
        error=InvalidCredentials("The passkey could not be verified."),
    )
    if not user.is_active:
        audit.fail(
            session,
            InvalidCredentials(),
            "auth.login",
            resource_type="user",
            resource=user,
            changes={"reason": "inactive", "method": "passkey"},
        )
    tokens = sessions.sign_in(session, user, method="passkey")
    uow.commit(session)
    return tokens


def step_up_options(session: Session, *, user: User) -> dict[str, Any]:
    """Options for `navigator.credentials.get` with one of the caller's passkeys."""
    allowed = passkey_checks.descriptors(session, user)
    if not allowed:
        raise Conflict("No passkey is registered; use /auth/step-up.")
    challenge = passkey_checks.issue_challenge(session, purpose=passkey_checks.STEP_UP, user=user)
    options = generate_authentication_options(
        rp_id=passkey_checks.rp_id(),
        challenge=challenge,
        allow_credentials=allowed,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    uow.commit(session)
    return _options(options)


def step_up(
    session: Session, *, user: User, session_id: str, credential: dict[str, Any]
) -> TokenPair:
    """Re-authenticate with a passkey for a fresh access token, as `/auth/step-up`."""
    error = InvalidCredentials("The passkey could not be verified.")
    parsed = passkey_checks.parse_assertion(credential)
    passkey = passkey_checks.find_passkey(session, parsed)
    if parsed is None or passkey is None or passkey.user_id != user.id:
        user = lock_user(session, user.id)
        attempts.refuse_if_locked(session, user, method="step_up")
        attempts.failed(session, user, reason="unknown_passkey", method="step_up", error=error)
    challenge_ok = passkey_checks.take_challenge(
        session,
        passkey_checks.client_challenge(parsed),
        purpose=passkey_checks.STEP_UP,
        user=user,
    )
    user = passkey_checks.check_assertion(
        session,
        passkey=passkey,
        parsed=parsed,
        challenge_ok=challenge_ok,
        method="step_up",
        error=error,
    )
    auth_session = lock_session(session, session_id)
    if auth_session is None or auth_session.revoked_at is not None:
        raise TokenRevoked()
    tokens = rotate(
        session, auth_session=auth_session, user=user, ip=context.current().ip, fresh=True
    )
    audit.record(
        session,
        "auth.step_up",
        resource_type="session",
        resource_id=str(auth_session.public_id),
        changes={"method": "passkey"},
    )
    uow.commit(session)
    return tokens
