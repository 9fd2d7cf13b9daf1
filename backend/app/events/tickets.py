"""Stream tickets: how a browser opens an event stream without putting its token in a URL.

`EventSource` cannot send an `Authorization` header, and a bearer token in a query string ends
up in proxies' access logs. So the client trades its token for a ticket (`POST /events/ticket`):
random, good for one stream, for `EVENTS_TICKET_SECONDS`, bound to the user and to what they
may read (their own events, or the compliance queue's). Opening the stream consumes it.

Where tickets live: in Redis when the deployment has it (`SET … EX`, consumed by `GETDEL`,
one round trip, atomic), since the stream server and the web processes are different
processes. Without Redis (`make run`, the end-to-end tests) they live in the `event_tickets`
table (migration 0097), consumed by `DELETE … RETURNING`: the app's process memory would not
do, as gunicorn may run several workers on one database and the ticket's POST and the
stream's GET need not reach the same one. Either way only a digest of the ticket is stored,
and a ticket is never logged.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any, cast

import sqlalchemy as sa
from redis import Redis, RedisError
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from app.auth.models import AuthSession, Role, User
from app.core import uow
from app.core.db import utcnow
from app.core.errors import DomainError, Forbidden
from app.core.events import Audience
from app.events.models import EventTicket

_REDIS_PREFIX = "flowlet:events:ticket:"
# A ticket is 32 random bytes, URL-safe base64: 43 characters.
TICKET_LENGTH = 43


class InvalidTicket(DomainError):
    status, code, message = 401, "invalid_ticket", "The stream ticket is unknown, used or expired."


class TicketsUnavailable(DomainError):
    status, code, message = (
        503,
        "service_unavailable",
        "Live events are unavailable for a moment; try again shortly.",
    )


@dataclass(frozen=True)
class Grant:
    """What one consumed ticket lets its stream read, and for which login."""

    user_id: int
    audience: Audience
    session_id: uuid.UUID | None = None


def audience_of(roles: frozenset[str] | set[str] | tuple[str, ...]) -> Audience:
    """An officer reads the compliance queue; a customer reads their own events."""
    if Role.COMPLIANCE_OFFICER.value in roles:
        return "compliance"
    if Role.CUSTOMER.value in roles:
        return "customer"
    raise Forbidden("Your role has no event stream.")


def _digest(ticket: str) -> bytes:
    return hashlib.sha256(ticket.encode()).digest()


def issue(
    session: Session,
    redis: Redis | None,
    *,
    user_id: int,
    audience: Audience,
    seconds: int,
    session_id: uuid.UUID | None = None,
) -> str:
    """A new single-use ticket for `user_id` reading `audience`, good for `seconds`; its
    stream lives as long as the login `session_id` (when given)."""
    ticket = secrets.token_urlsafe(32)
    digest = _digest(ticket)
    if redis is not None:
        try:
            redis.set(
                _REDIS_PREFIX + digest.hex(),
                f"{user_id}:{audience}:{session_id or ''}",
                ex=seconds,
            )
        except RedisError as exc:  # the page retries with backoff; the API stays up
            raise TicketsUnavailable() from exc
        return ticket
    now = utcnow()
    # Tickets nobody used go with the next one issued: the table stays small without a job.
    session.execute(sa.delete(EventTicket).where(EventTicket.expires_at <= now))
    session.add(
        EventTicket(
            digest=digest,
            user_id=user_id,
            audience=audience,
            session_id=session_id,
            expires_at=now + timedelta(seconds=seconds),
        )
    )
    uow.commit(session)
    return ticket


def redeem(session: Session, redis: Redis | None, ticket: str) -> Grant:
    """Consume `ticket` (it never works twice) and say what its stream may read.

    Refused (`InvalidTicket`, 401) when unknown, used, expired or malformed, or when its user
    is no longer active or the login that asked for it is revoked.
    """
    if not ticket or len(ticket) > 2 * TICKET_LENGTH:
        raise InvalidTicket()
    digest = _digest(ticket)
    grant: Grant | None = None
    if redis is not None:
        try:
            value: Any = redis.getdel(_REDIS_PREFIX + digest.hex())
        except RedisError as exc:
            raise TicketsUnavailable() from exc
        if value is not None:
            text = value.decode() if isinstance(value, bytes) else value
            user_id, audience, sid = [*text.split(":"), "", ""][:3]
            grant = Grant(
                int(user_id),
                "compliance" if audience == "compliance" else "customer",
                uuid.UUID(sid) if sid else None,
            )
    else:
        row = session.execute(
            sa.delete(EventTicket)
            .where(EventTicket.digest == digest)
            .returning(
                EventTicket.user_id,
                EventTicket.audience,
                EventTicket.session_id,
                EventTicket.expires_at,
            )
        ).one_or_none()
        uow.commit(session)
        if row is not None and _aware(row.expires_at) > utcnow():
            grant = Grant(
                row.user_id,
                "compliance" if row.audience == "compliance" else "customer",
                row.session_id,
            )
    if grant is None:
        raise InvalidTicket()
    if not still_allowed(session, [grant]):
        raise InvalidTicket("The ticket's login is no longer live.")
    return grant


_CHUNK = 1_000


def still_allowed(session: Session, grants: Iterable[Grant]) -> set[Grant]:
    """The grants whose streams may go on: the user is active and not locked, and the login
    that asked for the ticket is not revoked or expired. One query per 1,000 grants, so a
    stream server checks all its streams at once."""
    grants = list(dict.fromkeys(grants))
    allowed: set[Grant] = set()
    now = utcnow()
    for start in range(0, len(grants), _CHUNK):
        chunk = grants[start : start + _CHUNK]
        users = {grant.user_id for grant in chunk}
        sessions = {grant.session_id for grant in chunk if grant.session_id is not None}
        active_users = set(
            session.scalars(
                sa.select(User.id).where(
                    User.id.in_(users), User.is_active.is_(True), User.admin_locked_at.is_(None)
                )
            )
        )
        live_sessions: set[uuid.UUID] = set()
        if sessions:
            live_sessions = set(
                session.scalars(
                    sa.select(AuthSession.public_id).where(
                        AuthSession.public_id.in_(sessions),
                        AuthSession.revoked_at.is_(None),
                        AuthSession.expires_at > now,
                    )
                )
            )
        allowed.update(
            grant
            for grant in chunk
            if grant.user_id in active_users
            and (grant.session_id is None or grant.session_id in live_sessions)
        )
    uow.rollback(session)  # a read: no transaction held open by a long stream
    return allowed


def purge_expired(session: Session) -> int:
    """Delete the table's expired tickets (the Redis ones expire on their own)."""
    # A DELETE without RETURNING gives a CursorResult; Session.execute says Result.
    count = cast(
        CursorResult[Any],
        session.execute(sa.delete(EventTicket).where(EventTicket.expires_at <= utcnow())),
    ).rowcount
    uow.commit(session)
    return int(count or 0)


def _aware(value: Any) -> Any:
    # SQLite gives back naive times (stored as UTC).
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
