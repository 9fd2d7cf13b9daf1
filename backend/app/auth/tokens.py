"""Token families (sessions), access/refresh issuing and revocation checks.

Every access token carries `sid`, the public id of its session (refresh family). A token is
accepted only while its session is not revoked. The database is the source of truth; Redis
caches revoked session ids so that refusing them costs no query. A Redis miss or outage always
falls through to the database, so a revoked token is never accepted because Redis is down.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app, g
from flask_jwt_extended import create_access_token, create_refresh_token
from sqlalchemy.orm import Session, joinedload

from app.auth.models import AuthSession, User
from app.core import db as core_db
from app.core.db import for_update

log = logging.getLogger("flowlet.auth")


def now() -> datetime:
    """The clock of the identity domain (tests move it by patching `app.core.db.utcnow`)."""
    return core_db.utcnow()


@dataclass
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User
    session_id: uuid.UUID


def new_jti() -> str:
    return uuid.uuid4().hex


def _access_token(user: User, auth_session: AuthSession, *, fresh: bool) -> str:
    fresh_value: bool | timedelta = False
    if fresh:
        fresh_value = timedelta(seconds=int(current_app.config["JWT_FRESH_SECONDS"]))
    return create_access_token(
        identity=str(user.public_id),
        fresh=fresh_value,
        additional_claims={"sid": str(auth_session.public_id)},
    )


def _pair(user: User, auth_session: AuthSession, *, fresh: bool) -> TokenPair:
    refresh = create_refresh_token(
        identity=str(user.public_id),
        additional_claims={"sid": str(auth_session.public_id), "jti": auth_session.refresh_jti},
    )
    expires: timedelta = current_app.config["JWT_ACCESS_TOKEN_EXPIRES"]
    return TokenPair(
        access_token=_access_token(user, auth_session, fresh=fresh),
        refresh_token=refresh,
        expires_in=int(expires.total_seconds()),
        user=user,
        session_id=auth_session.public_id,
    )


def start_session(
    session: Session,
    *,
    user: User,
    ip: str | None,
    user_agent: str | None,
    fresh: bool,
) -> TokenPair:
    """Open a new session (token family) for `user` and issue its first tokens (flushes)."""
    moment = now()
    refresh_lifetime: timedelta = current_app.config["JWT_REFRESH_TOKEN_EXPIRES"]
    auth_session = AuthSession(
        user_id=user.id,
        refresh_jti=new_jti(),
        ip=ip,
        user_agent=(user_agent or None) and user_agent[:512],
        created_at=moment,
        last_used_at=moment,
        expires_at=moment + refresh_lifetime,
    )
    session.add(auth_session)
    session.flush()
    return _pair(user, auth_session, fresh=fresh)


def rotate(
    session: Session, *, auth_session: AuthSession, user: User, ip: str | None, fresh: bool
) -> TokenPair:
    """Spend the session's current refresh token and issue the next pair (flushes)."""
    moment = now()
    refresh_lifetime: timedelta = current_app.config["JWT_REFRESH_TOKEN_EXPIRES"]
    auth_session.refresh_jti = new_jti()
    auth_session.last_used_at = moment
    auth_session.expires_at = moment + refresh_lifetime
    if ip:
        auth_session.ip = ip
    session.flush()
    return _pair(user, auth_session, fresh=fresh)


def lock_session(session: Session, public_id: str | uuid.UUID) -> AuthSession | None:
    """Load a session row FOR UPDATE (fresh from the database)."""
    try:
        sid = uuid.UUID(str(public_id))
    except ValueError:
        return None
    return session.scalar(for_update(sa.select(AuthSession).where(AuthSession.public_id == sid)))


def revoke_sessions(
    session: Session,
    *,
    user_id: int,
    reason: str,
    only: list[uuid.UUID] | None = None,
    keep: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    """Revoke a user's live sessions (all, `only` these, or all but `keep`); returns their ids.

    The revocation is written in the caller's transaction; the Redis cache is filled after it
    commits.
    """
    conditions = [AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)]
    if only is not None:
        conditions.append(AuthSession.public_id.in_(only))
    if keep is not None:
        conditions.append(AuthSession.public_id != keep)
    revoked = list(
        session.scalars(
            sa.update(AuthSession)
            .where(*conditions)
            .values(revoked_at=now(), revoked_reason=reason)
            .returning(AuthSession.public_id)
            .execution_options(synchronize_session=False)
        )
    )
    return revoked


# --- the revocation check ----------------------------------------------------------------------


# The revocation check of every request, built once (the session id is bound per call).
_SESSION_USER = (
    sa.select(User, AuthSession.revoked_at)
    .join(AuthSession, AuthSession.user_id == User.id)
    .where(AuthSession.public_id == sa.bindparam("sid", type_=sa.Uuid()))
    .options(joinedload(User.role_links))
)


def is_token_revoked(payload: dict) -> bool:
    """True when an access token must be refused: no session, or its session is revoked."""
    from app.extensions import db

    sid = payload.get("sid")
    if not sid or payload.get("type") != "access":
        return True
    try:
        sid_uuid = uuid.UUID(str(sid))
    except ValueError:
        return True
    # One query answers both questions of every request: is the session live, and who is
    # the user (with roles)? The user is handed to the identity loader through `g`.
    row = db.session.execute(_SESSION_USER, {"sid": sid_uuid}).unique().one_or_none()
    if row is None or str(row.User.public_id) != str(payload.get("sub")):
        return True
    if row.revoked_at is not None:
        return True
    g.token_user = row.User
    return False
