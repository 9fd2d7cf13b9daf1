"""Single-use, expiring tokens: e-mail links and the MFA login step.

Every public function is one use case and owns its unit of work (it commits), except the
helpers documented as flushing only. Failed security events are audited in a transaction that
commits before the error is raised.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from app.auth.models import OneTimeToken, User
from app.auth.tokens import now
from app.core.db import for_update
from app.core.errors import ValidationError

MFA_LOGIN = "mfa_login"
# The MFA step after a magic link: the session it opens is never fresh.
MAGIC_MFA_LOGIN = "mfa_magic_login"
VERIFY_EMAIL = "verify_email"
PASSWORD_RESET = "password_reset"

# --- one-time tokens (e-mail links, the MFA login step) ----------------------------------------


def _serializer(purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"flowlet.{purpose}")


def _digest(jti: str) -> str:
    return hashlib.sha256(jti.encode()).hexdigest()


def issue_one_time(session: Session, *, user: User, purpose: str, seconds: int) -> str:
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


def find_one_time(session: Session, *, token: str, purpose: str) -> OneTimeToken | None:
    """The live token row (locked), or None when forged, unknown, used or expired."""
    try:
        jti = _serializer(purpose).loads(token)
    except BadSignature:
        return None
    if not isinstance(jti, str):
        return None
    row = session.scalar(
        for_update(
            sa.select(OneTimeToken).where(
                OneTimeToken.token_hash == _digest(jti), OneTimeToken.purpose == purpose
            )
        )
    )
    if row is None or row.used_at is not None or row.expires_at <= now():
        return None
    return row


def bad_link() -> ValidationError:
    return ValidationError(
        "The link is not valid.", details={"token": ["The link is invalid, used or expired."]}
    )
