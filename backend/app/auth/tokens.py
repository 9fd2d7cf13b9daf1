"""Token families (sessions), access/refresh issuing and revocation checks.

Every access token carries `sid`, the public id of its session (refresh family). A token is
accepted only while its session is not revoked. The database is the source of truth. Each
process remembers the sessions it found live for `AUTH_SESSION_CACHE_SECONDS` (`LiveSessions`):
a revocation is seen at once by the process that wrote it and within that many seconds by every
other one. Redis plays no part, so its outage never lets a revoked token through.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from flask import Flask, current_app, g, has_app_context
from flask_jwt_extended import create_access_token, create_refresh_token
from sqlalchemy.orm import Session

from app.auth.models import AuthSession, User, UserRole
from app.core import db as core_db
from app.core import uow
from app.core.db import for_update
from app.core.extensions import db
from app.core.queue import get_redis, this_app

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
    # flask-jwt-extended leaves the return unannotated: it is the encoded token.
    return cast(
        str,
        create_access_token(
            identity=str(user.public_id),
            fresh=fresh_value,
            additional_claims={"sid": str(auth_session.public_id)},
        ),
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

    The revocation is written in the caller's transaction; this process forgets the sessions
    at once, and once it commits every other process does too (`announce_revocation`).
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
    if has_app_context():
        live = current_app.extensions.get("flowlet_live_sessions")
        if live is not None:
            live.forget(revoked)
        if revoked:
            uow.of(session).after_commit(functools.partial(announce_revocation, this_app()))
    return revoked


# --- revocations seen by every process ---------------------------------------------------------

REVOCATIONS_KEY = "flowlet:auth:revocations"


def announce_revocation(app: Flask) -> None:
    """Count a committed revocation in Redis: every process's remembered sessions go stale.

    Called after the commit and before the response, so a request to any instance that
    follows the revoking one is checked against the database.
    """
    redis = app.extensions.get("flowlet_redis")
    if redis is None:
        return
    try:
        redis.incr(REVOCATIONS_KEY)
    except Exception as exc:  # Redis down: the others see it within AUTH_SESSION_CACHE_SECONDS
        log.warning("auth: could not announce a revocation (%s)", type(exc).__name__)


def revocation_epoch() -> int | None:
    """How many revocations were announced (0 without Redis); None when Redis does not answer,
    and then no remembered session is trusted."""
    redis = get_redis()
    if redis is None:
        return 0
    try:
        return int(redis.get(REVOCATIONS_KEY) or 0)
    except Exception:
        return None


# --- the revocation check ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Principal:
    """Whom a live session's access token speaks for: what the edge needs on every request."""

    user_id: int
    public_id: uuid.UUID
    subject: str  # the public id as tokens carry it (`sub`)
    roles: tuple[str, ...]  # sorted
    active: bool  # the login is enabled and not locked by an administrator


class LiveSessions:
    """The sessions this process found live in the database, each for `seconds` at most.

    A hit spares the request its query: sid → (deadline, epoch, Principal), at most `size`
    entries (the oldest go first). `seconds` ≤ 0 turns it off. Only live sessions of active
    users are kept, so a refusal is always decided by the database. An entry counts only while
    the revocation epoch (`revocation_epoch`) is the one it was stored under: a revocation
    committed by any process ends every process's entries.
    """

    def __init__(self, seconds: float, size: int = 10_000) -> None:
        self.seconds = seconds
        self.size = size
        self._entries: dict[str, tuple[float, int, Principal]] = {}
        self._lock = threading.Lock()

    def get(self, sid: str, epoch: int | None = 0) -> Principal | None:
        entry = self._entries.get(sid)
        if entry is None or entry[0] <= time.monotonic() or entry[1] != epoch:
            return None
        return entry[2]

    def put(self, sid: str, principal: Principal, epoch: int | None = 0) -> None:
        if self.seconds <= 0 or epoch is None:
            return
        with self._lock:
            entries = self._entries
            entries.pop(sid, None)
            while len(entries) >= self.size:
                del entries[next(iter(entries))]
            entries[sid] = (time.monotonic() + self.seconds, epoch, principal)

    def forget(self, sids: list[uuid.UUID]) -> None:
        with self._lock:
            for sid in sids:
                self._entries.pop(str(sid), None)


# The revocation check on a miss, built once: the session, its user and the user's roles (one
# row per role; the outer join keeps a user without any).
_LIVE_SESSION = (
    sa.select(
        User.id,
        User.public_id,
        User.is_active,
        User.admin_locked_at,
        AuthSession.revoked_at,
        UserRole.role,
    )
    .join(AuthSession, AuthSession.user_id == User.id)
    .outerjoin(UserRole, UserRole.user_id == User.id)
    .where(AuthSession.public_id == sa.bindparam("sid", type_=sa.Uuid()))
)


def _load_principal(sid: uuid.UUID) -> Principal | None:
    """The principal of a live session, from the database; None if missing or revoked."""
    rows = db.session.execute(_LIVE_SESSION, {"sid": sid}).all()
    if not rows or rows[0].revoked_at is not None:
        return None
    first = rows[0]
    return Principal(
        user_id=first.id,
        public_id=first.public_id,
        subject=str(first.public_id),
        roles=tuple(sorted(row.role for row in rows if row.role is not None)),
        active=first.is_active and first.admin_locked_at is None,
    )


def is_token_revoked(payload: dict[str, Any]) -> bool:
    """True when an access token must be refused: no session, or its session is revoked.

    The principal of an accepted token is handed to the identity loader through `g`.
    """
    g.pop("principal", None)
    sid = payload.get("sid")
    if not sid or payload.get("type") != "access":
        return True
    live: LiveSessions = current_app.extensions["flowlet_live_sessions"]
    epoch = revocation_epoch() if live.seconds > 0 else None  # read before the database
    principal = live.get(sid, epoch)
    if principal is None:
        try:
            sid_uuid = uuid.UUID(str(sid))
        except ValueError:
            return True
        principal = _load_principal(sid_uuid)
        if principal is None:
            return True
        if principal.active:
            live.put(str(sid_uuid), principal, epoch)
    if principal.subject != payload.get("sub"):
        return True
    g.principal = principal
    return False
