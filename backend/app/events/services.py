"""The event stream's use cases: a ticket for the caller, and opening a stream with one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flask import current_app
from redis import Redis
from sqlalchemy.orm import Session

from app.events import stream, tickets
from app.events.tickets import Grant


def _redis() -> Redis | None:
    redis: Redis | None = current_app.extensions.get("flowlet_redis")
    return redis


def open_ticket(
    session: Session, *, user_id: int, roles: frozenset[str], session_id: str | None
) -> dict[str, Any]:
    """A single-use ticket for the caller's stream: their own events, or the compliance
    queue's for an officer; the stream ends with the login (`session_id`) that asked."""
    seconds = int(current_app.config["EVENTS_TICKET_SECONDS"])
    ticket = tickets.issue(
        session,
        _redis(),
        user_id=user_id,
        audience=tickets.audience_of(roles),
        seconds=seconds,
        session_id=uuid.UUID(session_id) if session_id else None,
    )
    return {"ticket": ticket, "expires_in": seconds}


@dataclass(frozen=True)
class OpenStream:
    grant: Grant
    position: int
    body: Iterator[bytes]


def open_stream(
    session: Session, *, ticket: str, last_event_id: str | None, resume_after: int | None
) -> OpenStream:
    """Consume the ticket (401 `invalid_ticket` if it is no good) and start the in-app stream
    after the resume point, or at the current end."""
    grant = tickets.redeem(session, _redis(), ticket)
    position = stream.start_position(session, stream.resume_point(last_event_id, resume_after))
    config = current_app.config
    body = stream.fallback(
        session,
        grant,
        position,
        poll_seconds=float(config["EVENTS_FALLBACK_POLL_SECONDS"]),
        heartbeat_seconds=float(config["EVENTS_HEARTBEAT_SECONDS"]),
        max_seconds=float(config["EVENTS_STREAM_MAX_SECONDS"]),
        retry_ms=int(config["EVENTS_RETRY_MS"]),
        check_seconds=float(config["EVENTS_SESSION_CHECK_SECONDS"]),
    )
    return OpenStream(grant, position, body)
