"""Single sign-on with OpenID Connect: staff through the bank's identity provider, customers
through the configured social providers (docs/sso.md).

The flow: `start` writes the login in flight (digests of state, nonce and browser binding, the
sealed PKCE verifier) and returns the provider's URL; `callback` checks the provider's answer,
decides who signs in (or links) and turns the row into a one-time code for the web app;
`exchange` spends that code for tokens. No token ever travels in a URL the browser keeps.

An external identity signs in only the user it is linked to. A link is made by the account's
owner, signed in with a fresh token, never because an e-mail address matched. Staff accounts
the bank's provider knows are created on their first sign-in, SSO-only, with the roles their
groups map to.

Every public function is one use case and owns its unit of work (it commits). Failed security
events are audited in a transaction that commits before the error is raised.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NoReturn

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.auth import mfa, networks, oidc_client
from app.auth.attempts import failed, refuse_if_locked
from app.auth.errors import InvalidMfaCode, InvalidToken
from app.auth.models import ExternalIdentity, OidcLogin, Role, User
from app.auth.oidc_client import ProviderUnavailable, SsoFailed
from app.auth.sessions import _succeeded, issue_session
from app.auth.tokens import TokenPair, lock_session, now
from app.auth.users import create_user, get_user_by_email, lock_user
from app.core import audit, crypto, uow
from app.core.db import for_update
from app.core.errors import Conflict, DomainError, Forbidden, NotFound

LOGIN = "login"
LINK = "link"
BINDING_COOKIE = "flowlet_oidc"
BINDING_COOKIE_PATH = "/api/v1/auth/oidc"


class InvalidState(DomainError):
    status, code, message = 400, "invalid_state", "The sign-in is unknown, used or expired."


class NotLinked(DomainError):
    status, code, message = (
        403,
        "sso_not_linked",
        "No Flowlet account is linked to this sign-in. Sign in with your password and link it "
        "from the Security page, or register first.",
    )


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class Started:
    """Where to send the browser, and the value the browser keeps (as a cookie) meanwhile."""

    authorization_url: str
    binding: str


def providers() -> list[str]:
    """The sign-in providers this deployment offers."""
    return oidc_client.configured()


def start(session: Session, *, provider: str, user: User | None = None) -> Started:
    """Begin a sign-in (or, with `user`, the linking of an identity to that user)."""
    p = oidc_client.provider(provider)
    state, nonce, binding = (secrets.token_urlsafe(32) for _ in range(3))
    verifier = secrets.token_urlsafe(64)
    url = oidc_client.authorization_url(p, state=state, nonce=nonce, code_verifier=verifier)
    moment = now()
    session.execute(sa.delete(OidcLogin).where(OidcLogin.expires_at <= moment))
    state_hash = _digest(state)
    session.add(
        OidcLogin(
            provider=p.name,
            purpose=LINK if user is not None else LOGIN,
            state_hash=state_hash,
            nonce_hash=_digest(nonce),
            binding_hash=_digest(binding),
            code_verifier=crypto.encrypt_str(verifier, aad=b"oidc-verifier:" + state_hash.encode()),
            user_id=user.id if user is not None else None,
            created_at=moment,
            expires_at=moment + timedelta(seconds=current_app.config["OIDC_LOGIN_SECONDS"]),
        )
    )
    audit.record(
        session,
        "auth.oidc_start",
        resource_type="user",
        resource=user,
        changes={"provider": p.name, "purpose": LINK if user is not None else LOGIN},
    )
    uow.commit(session)
    return Started(authorization_url=url, binding=binding)


# --- the provider's answer ---------------------------------------------------------------------


def _refuse(
    session: Session,
    exc: DomainError,
    *,
    provider: str,
    reason: str,
    user: User | None = None,
    **changes: Any,
) -> NoReturn:
    audit.fail(
        session,
        exc,
        "auth.oidc_sign_in",
        resource_type="user",
        resource=user,
        changes={"provider": provider, "reason": reason, **changes},
    )


def _identity(session: Session, provider: str, subject: str) -> ExternalIdentity | None:
    return session.scalar(
        for_update(
            sa.select(ExternalIdentity).where(
                ExternalIdentity.provider == provider, ExternalIdentity.subject == subject
            )
        )
    )


def _link(session: Session, user: User, provider: str, claims: dict[str, Any]) -> ExternalIdentity:
    identity = ExternalIdentity(
        user_id=user.id,
        provider=provider,
        subject=str(claims["sub"]),
        email=_email(claims),
        linked_at=now(),
    )
    session.add(identity)
    session.flush()
    audit.record(
        session,
        "auth.oidc_linked",
        resource_type="user",
        resource=user,
        changes={"provider": provider, "identity_id": str(identity.public_id)},
    )
    return identity


def _email(claims: dict[str, Any]) -> str | None:
    email = claims.get("email")
    return email.strip().lower()[:254] if isinstance(email, str) and email.strip() else None


def _staff_user(session: Session, row: OidcLogin, claims: dict[str, Any]) -> User:
    """The staff member the bank's provider vouches for: linked, or created SSO-only."""
    roles = oidc_client.staff_roles(claims)
    if not roles:
        _refuse(
            session,
            Forbidden(
                "Your groups at the identity provider grant no Flowlet role.", code="no_role"
            ),
            provider=row.provider,
            reason="no_role",
        )
    identity = _identity(session, row.provider, str(claims["sub"]))
    if identity is not None:
        user = lock_user(session, identity.user_id)
    else:
        email = _email(claims)
        if email is None or claims.get("email_verified") is False:
            _refuse(session, SsoFailed(), provider=row.provider, reason="no_verified_email")
        if get_user_by_email(session, email) is not None:
            # The address is taken: only its owner may link this identity (docs/sso.md).
            _refuse(session, NotLinked(), provider=row.provider, reason="email_matches_user")
        user = create_user(
            session,
            email=email,
            password=secrets.token_urlsafe(48),  # never told to anyone; sso_only refuses it
            first_name=str(claims.get("given_name") or claims.get("name") or "Staff")[:100],
            last_name=str(claims.get("family_name") or "-")[:100],
            roles=roles,
            email_verified=True,
        )
        user.sso_only = True
        identity = _link(session, user, row.provider, claims)
        audit.record(
            session,
            "auth.oidc_provisioned",
            resource_type="user",
            resource=user,
            changes={"provider": row.provider, "roles": roles},
        )
    staff = {Role.COMPLIANCE_OFFICER.value, Role.ADMIN.value}
    wanted = sorted({role for role in user.roles if role not in staff} | set(roles))
    if wanted != user.roles:
        audit.record(
            session,
            "auth.oidc_roles",
            resource_type="user",
            resource=user,
            changes={"provider": row.provider, "before": user.roles, "after": wanted},
        )
        user.set_roles(wanted)
    identity.last_used_at = now()
    return user


def _customer_user(session: Session, row: OidcLogin, claims: dict[str, Any]) -> User:
    """The user this identity is linked to; an unknown identity signs in no one."""
    identity = _identity(session, row.provider, str(claims["sub"]))
    if identity is None:
        email = _email(claims)
        matches = email is not None and get_user_by_email(session, email) is not None
        # The same answer either way: a matching address proves nothing and reveals nothing.
        _refuse(
            session,
            NotLinked(),
            provider=row.provider,
            reason="email_matches_user" if matches else "unknown_identity",
        )
    identity.last_used_at = now()
    return lock_user(session, identity.user_id)


def callback(
    session: Session,
    *,
    provider: str,
    state: str,
    binding: str | None,
    code: str | None = None,
    error: str | None = None,
    error_description: str | None = None,
) -> str:
    """Check the provider's answer; returns where the browser goes next in the web app.

    A sign-in ends at `/sign-in/sso#code=…` (the one-time code for `exchange`), a link at
    `/security#linked=<provider>`. `error_description` is the provider's free text: it is
    accepted and kept out of the audit record (only the `error` code is kept).
    """
    p = oidc_client.provider(provider)
    row = _answered_login(session, p, state=state, binding=binding, code=code, error=error)
    tokens, claims = _verified_answer(session, p, row, code=code or "")
    frontend = current_app.config["FRONTEND_URL"]
    if row.purpose == LINK:
        return _finish_link(session, row, claims, frontend)
    user = _staff_user(session, row, claims) if p.staff else _customer_user(session, row, claims)
    if not user.is_active or user.admin_locked_at is not None:
        _refuse(
            session,
            Forbidden("The account is disabled.", code="account_disabled"),
            provider=p.name,
            reason="account_disabled",
            user=user,
        )
    one_time = _hand_over(session, p, row, user, tokens.get("refresh_token"))
    audit.record(
        session,
        "auth.oidc_sign_in",
        resource_type="user",
        resource=user,
        changes={"provider": p.name},
    )
    uow.commit(session)
    return f"{frontend}/sign-in/sso#code={one_time}"


def _answered_login(
    session: Session,
    p: oidc_client.Provider,
    *,
    state: str,
    binding: str | None,
    code: str | None,
    error: str | None,
) -> OidcLogin:
    """The sign-in the provider answers (by its `state`), spent now: refused unless it is
    live, was started in this browser and the provider sent a code."""
    row = session.scalar(
        for_update(
            sa.select(OidcLogin).where(
                OidcLogin.state_hash == _digest(state), OidcLogin.provider == p.name
            )
        )
    )
    if row is None:
        _refuse(session, InvalidState(), provider=p.name, reason="unknown_state")
    session.delete(row)  # a state is answered once, whatever the answer
    session.flush()
    if row.expires_at <= now():
        _refuse(session, InvalidState(), provider=p.name, reason="expired")
    if binding is None or not secrets.compare_digest(_digest(binding), row.binding_hash):
        _refuse(
            session,
            InvalidState("The sign-in was started in another browser; start it again here."),
            provider=p.name,
            reason="browser_mismatch",
        )
    if error is not None or not code:
        _refuse(
            session,
            SsoFailed("The identity provider did not sign you in."),
            provider=p.name,
            reason="provider_error",
            error=(error or "no_code")[:64],
        )
    return row


def _verified_answer(
    session: Session, p: oidc_client.Provider, row: OidcLogin, *, code: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The provider's tokens for `code` and the ID token's checked claims, nonce included."""
    verifier = crypto.decrypt_str(
        row.code_verifier, aad=b"oidc-verifier:" + str(row.state_hash).encode()
    )
    try:
        tokens = oidc_client.exchange_code(p, code=code, code_verifier=verifier)
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise SsoFailed("The identity provider sent no ID token.")
        claims = oidc_client.verify_id_token(
            p, id_token, now=now(), access_token=tokens.get("access_token")
        )
    except (SsoFailed, ProviderUnavailable) as exc:
        _refuse(session, exc, provider=p.name, reason=exc.code)
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not secrets.compare_digest(_digest(nonce), row.nonce_hash):
        _refuse(
            session,
            SsoFailed("The ID token does not answer this sign-in."),
            provider=p.name,
            reason="nonce_mismatch",
        )
    return tokens, claims


def _hand_over(
    session: Session, p: oidc_client.Provider, row: OidcLogin, user: User, refresh_token: Any
) -> str:
    """A one-time code for the web app, kept (as a digest) with the provider's refresh token
    (sealed) until `exchange` spends it."""
    one_time = secrets.token_urlsafe(32)
    code_hash = _digest(one_time)
    session.add(
        OidcLogin(
            provider=p.name,
            purpose=LOGIN,
            nonce_hash=row.nonce_hash,
            binding_hash=row.binding_hash,
            code_verifier="",
            user_id=user.id,
            code_hash=code_hash,
            refresh_token=(
                crypto.encrypt_str(refresh_token, aad=b"oidc-code:" + code_hash.encode())
                if isinstance(refresh_token, str)
                else None
            ),
            created_at=now(),
            expires_at=now() + timedelta(seconds=current_app.config["OIDC_EXCHANGE_SECONDS"]),
        )
    )
    return one_time


def _finish_link(session: Session, row: OidcLogin, claims: dict[str, Any], frontend: str) -> str:
    if row.user_id is None:
        _refuse(session, InvalidState(), provider=row.provider, reason="link_without_user")
    user = lock_user(session, row.user_id)
    identity = _identity(session, row.provider, str(claims["sub"]))
    if identity is not None and identity.user_id != user.id:
        _refuse(
            session,
            Conflict("This sign-in is already linked to another Flowlet account."),
            provider=row.provider,
            reason="linked_elsewhere",
            user=user,
        )
    if identity is None:
        _link(session, user, row.provider, claims)
    uow.commit(session)
    return f"{frontend}/security#linked={row.provider}"


def refusal_page(error: DomainError) -> str:
    """Where a browser whose sign-in was refused is sent: the web app says why."""
    return f"{current_app.config['FRONTEND_URL']}/sign-in/sso#error={error.code}"


# --- the web app's exchange --------------------------------------------------------------------


class MfaRequired(DomainError):
    status, code, message = (
        401,
        "mfa_required",
        "Two-step verification is on: send the code from your authenticator app as mfa_code.",
    )


def exchange(
    session: Session, *, code: str, binding: str | None, mfa_code: str | None = None
) -> TokenPair:
    """Spend the one-time code from the callback for tokens, on the browser that signed in.

    An account with two-step verification on needs its code too (`mfa_code`): the provider's
    sign-in is the first factor only. Until the code is right the one-time code stays (its
    life stretched by MFA_TOKEN_SECONDS once); wrong codes count towards the lockout.
    """
    row = session.scalar(
        for_update(sa.select(OidcLogin).where(OidcLogin.code_hash == _digest(code)))
    )
    invalid = InvalidToken("The sign-in code is not valid, used or expired; sign in again.")
    if row is None:
        audit.fail(session, invalid, "auth.oidc_exchange", changes={"reason": "unknown_code"})
    provider = row.provider
    if row.expires_at <= now() or row.user_id is None:
        session.delete(row)
        _refuse(session, invalid, provider=provider, reason="expired")
    if binding is None or not secrets.compare_digest(_digest(binding), row.binding_hash):
        session.delete(row)
        _refuse(session, invalid, provider=provider, reason="browser_mismatch")
    user = lock_user(session, row.user_id)
    if not user.is_active or user.admin_locked_at is not None:
        session.delete(row)
        _refuse(session, invalid, provider=provider, reason="account_disabled", user=user)
    method = f"oidc:{provider}"
    if user.mfa_enabled:
        refuse_if_locked(session, user, method="sso_mfa")
        if not mfa_code:
            row.expires_at = row.created_at + timedelta(
                seconds=current_app.config["OIDC_EXCHANGE_SECONDS"]
                + current_app.config["MFA_TOKEN_SECONDS"]
            )
            uow.commit(session)
            raise MfaRequired(details={"methods": ["totp", "backup_code"]})
        second = mfa.verify_second_factor(session, user, mfa_code)
        if second is None:
            failed(session, user, reason="wrong_mfa_code", method="sso_mfa", error=InvalidMfaCode())
        method += f"+{second}"
    session.delete(row)
    session.flush()
    networks.enforce_at_login(session, user=user, step="sso")
    _succeeded(user)
    tokens = issue_session(session, user, method=method)
    auth_session = lock_session(session, tokens.session_id)
    assert auth_session is not None
    auth_session.oidc_provider = provider
    if row.refresh_token is not None:
        refresh_token = crypto.decrypt_str(
            row.refresh_token, aad=b"oidc-code:" + str(row.code_hash).encode()
        )
        auth_session.oidc_refresh_token = oidc_client.seal_refresh_token(
            auth_session, refresh_token
        )
    uow.commit(session)
    return tokens


# --- linked identities -------------------------------------------------------------------------


def list_identities(session: Session, *, user: User) -> list[ExternalIdentity]:
    """The identities linked to the caller, oldest first."""
    return list(
        session.scalars(
            sa.select(ExternalIdentity)
            .where(ExternalIdentity.user_id == user.id)
            .order_by(ExternalIdentity.linked_at, ExternalIdentity.id)
        )
    )


def unlink(session: Session, *, user: User, identity_id: uuid.UUID) -> None:
    """Remove one of the caller's linked identities (not the last one of an SSO-only account)."""
    identity = session.scalar(
        for_update(
            sa.select(ExternalIdentity).where(
                ExternalIdentity.public_id == identity_id, ExternalIdentity.user_id == user.id
            )
        )
    )
    if identity is None:
        raise NotFound("The linked sign-in was not found.")
    if user.sso_only and len(list_identities(session, user=user)) == 1:
        raise Conflict("An SSO-only account keeps its last linked sign-in.")
    session.delete(identity)
    audit.record(
        session,
        "auth.oidc_unlinked",
        resource_type="user",
        resource=user,
        changes={"provider": identity.provider, "identity_id": str(identity_id)},
    )
    uow.commit(session)
