"""Magic sign-in links: an e-mailed link that signs in once, within `MAGIC_LINK_TTL_SECONDS`,
on the browser that asked for it.

Asking always succeeds the same way, known address or not, and always hands the browser a new
binding secret (kept in an HttpOnly cookie by the route). Only hashes are stored: the link's
random id and the binding secret. A link proves control of the mailbox, nothing more: the
tokens it issues are never fresh, and with 2FA on it leads to the MFA step.

Every public function is one use case and owns its unit of work (it commits). Every refusal
is audited (`auth.magic_link_refused`) in a transaction that commits before the error is raised.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import NoReturn

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from app.auth import attempts, networks
from app.auth.mail import queue_email
from app.auth.models import MagicLink, User
from app.auth.one_time import MAGIC_MFA_LOGIN, issue_one_time
from app.auth.sessions import LoginResult, issue_session, mfa_methods
from app.auth.tokens import now
from app.auth.users import get_user_by_email, lock_user
from app.core import audit, context, uow
from app.core.db import for_update
from app.core.errors import DomainError

PURPOSE = "magic_link"


class MagicLinkInvalid(DomainError):
    status, code, message = 422, "validation_error", "The link is not valid."


class MagicLinkOtherBrowser(DomainError):
    status, code, message = (
        403,
        "magic_link_other_browser",
        "Open the link in the browser where you asked for it.",
    )


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"flowlet.{PURPOSE}")


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _link(token: str) -> str:
    # In the fragment: the browser neither sends it to any server nor puts it in a Referer.
    return f"{current_app.config['FRONTEND_URL']}/sign-in/link#token={token}"


def request_magic_link(session: Session, *, email: str) -> str:
    """E-mail a sign-in link if the address belongs to an active account; silent otherwise.

    Returns the browser-binding secret to hand to the browser (a new one every time, for
    unknown addresses too, so the answer never tells them apart).
    """
    browser_secret = secrets.token_urlsafe(32)
    jti = secrets.token_urlsafe(32)
    token = _serializer().dumps(jti)
    user = get_user_by_email(session, email)
    if user is None or not user.is_active:
        uow.commit(session)
        return browser_secret
    moment = now()
    seconds = int(current_app.config["MAGIC_LINK_TTL_SECONDS"])
    # One live link per account: asking again spends the earlier ones.
    session.execute(
        sa.update(MagicLink)
        .where(MagicLink.user_id == user.id, MagicLink.used_at.is_(None))
        .values(used_at=moment)
        .execution_options(synchronize_session=False)
    )
    session.add(
        MagicLink(
            user_id=user.id,
            token_hash=_digest(jti),
            browser_hash=_digest(browser_secret),
            requested_ip=context.current().ip,
            created_at=moment,
            expires_at=moment + timedelta(seconds=seconds),
        )
    )
    session.flush()
    queue_email(
        session,
        to=user.email,
        subject="Your Flowlet sign-in link",
        body=(
            f"Hello {user.first_name},\n\nsign in to Flowlet with this link (valid "
            f"{max(seconds // 60, 1)} minutes, once, in the browser where you asked for it):\n"
            f"{_link(token)}\n\nIf you did not ask for this, ignore it; nobody can use the link "
            "from another browser.\n"
        ),
        kind=PURPOSE,
        user_id=user.id,
    )
    audit.record(session, "auth.magic_link_requested", resource_type="user", resource=user)
    uow.commit(session)
    return browser_secret


def _refuse(
    session: Session, error: DomainError, *, reason: str, user: User | None = None
) -> NoReturn:
    audit.fail(
        session,
        error,
        "auth.magic_link_refused",
        resource_type="user",
        resource=user,
        changes={"reason": reason},
    )


def _bad_link() -> MagicLinkInvalid:
    return MagicLinkInvalid(details={"token": ["The link is invalid, used or expired."]})


def confirm_magic_link(session: Session, *, token: str, browser_secret: str | None) -> LoginResult:
    """Sign in with a magic link on the browser that asked for it: tokens (never fresh), or the
    MFA step when 2FA is on."""
    try:
        jti = _serializer().loads(token)
    except BadSignature:
        jti = None
    if not isinstance(jti, str):
        _refuse(session, _bad_link(), reason="invalid")
    row = session.scalar(
        for_update(sa.select(MagicLink).where(MagicLink.token_hash == _digest(jti)))
    )
    if row is None:
        _refuse(session, _bad_link(), reason="unknown")
    user = lock_user(session, row.user_id)
    if row.used_at is not None:
        _refuse(session, _bad_link(), reason="used", user=user)
    if row.expires_at <= now():
        _refuse(session, _bad_link(), reason="expired", user=user)
    # Another browser (or none): refused, and the link stays usable where it was asked for.
    if not browser_secret or not hmac.compare_digest(_digest(browser_secret), row.browser_hash):
        _refuse(session, MagicLinkOtherBrowser(), reason="other_browser", user=user)
    if not user.is_active:
        _refuse(session, _bad_link(), reason="inactive", user=user)
    attempts.refuse_if_locked(session, user, method="magic_link")
    networks.enforce_at_login(session, user=user, step="magic_link")
    row.used_at = now()
    if user.mfa_enabled:
        mfa_token = issue_one_time(
            session,
            user=user,
            purpose=MAGIC_MFA_LOGIN,
            seconds=current_app.config["MFA_TOKEN_SECONDS"],
        )
        audit.record(
            session,
            "auth.mfa_challenge",
            resource_type="user",
            resource=user,
            changes={"method": PURPOSE},
        )
        uow.commit(session)
        return LoginResult(mfa_token=mfa_token, methods=mfa_methods(session, user))
    user.last_login_at = now()
    tokens = issue_session(session, user, method=PURPOSE, fresh=False)
    uow.commit(session)
    return LoginResult(tokens=tokens)
