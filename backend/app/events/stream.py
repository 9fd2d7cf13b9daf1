"""The event stream's wire format (Server-Sent Events) and the in-app stream.

One frame per event: `id:` its position (what `Last-Event-ID` resumes after), `event:` its
type, `data:` the `Event` JSON on one line. A comment line (`: heartbeat`) every
`EVENTS_HEARTBEAT_SECONDS` keeps proxies from closing an idle stream and lets the client see
it alive; `retry:` tells the browser how long to wait before reconnecting.

Two servers speak it. In production, `flask events serve` (`app.events.server`, asyncio)
holds the streams: one reader per process, woken by Redis, fans events out from memory. Where
no stream server is deployed (`make run`, the end-to-end tests) the web app answers the same
path itself with `fallback()`: a generator polling `after()` every
`EVENTS_FALLBACK_POLL_SECONDS`, one thread per open stream, fine for a handful of users.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

from sqlalchemy.orm import Session

from app.core import events, uow
from app.core.events import Event
from app.events import tickets
from app.events.tickets import Grant

HEARTBEAT = b": heartbeat\n\n"
CONTENT_TYPE = "text/event-stream; charset=utf-8"
# Headers for any proxy in between: never buffer, never cache, never transform.
HEADERS = {
    "Cache-Control": "no-cache, no-store",
    "X-Accel-Buffering": "no",
}
_PAGE = 500


def frame(position: int, type: str, payload: str) -> bytes:
    """One event as SSE; `payload` is its JSON text (one line)."""
    return f"id: {position}\nevent: {type}\ndata: {payload}\n\n".encode()


def event_frame(event: Event) -> bytes:
    assert event.position is not None
    return frame(event.position, event.type, json.dumps(as_json(event), separators=(",", ":")))


def as_json(event: Event) -> dict[str, object]:
    return events.as_json(event)


def opening(retry_ms: int) -> bytes:
    """What a stream starts with: the reconnection hint and a first comment (headers flush)."""
    return f"retry: {retry_ms}\n: open\n\n".encode()


def resume_point(header: str | None, query: int | None) -> int | None:
    """The position to resume after: `Last-Event-ID` (what EventSource sends when it
    reconnects on its own) wins over `?last_event_id=` (a fresh connection cannot set
    headers); None when neither says (or the header is not a position)."""
    if header is not None and header.strip().isdigit() and len(header.strip()) <= 19:
        return int(header.strip())
    return query


def start_position(session: Session, resume: int | None) -> int:
    """Where a stream starts: after `resume`, or at the current end (no history flood)."""
    if resume is not None:
        return resume
    events.sequence(session)
    position = events.last_position(session)
    uow.rollback(session)
    return position


def read_frames(session: Session, grant: Grant, position: int) -> tuple[list[bytes], int, bool]:
    """The frames after `position` that `grant` may read (one page), the new position and
    whether a full page came (more may wait)."""
    rows = events.after(
        session, position, user_id=grant.user_id, audience=grant.audience, limit=_PAGE
    )
    frames = [event_frame(row) for row in rows]
    if rows:
        position = rows[-1].position or position
    uow.rollback(session)  # a read: no transaction left open between polls
    return frames, position, len(rows) == _PAGE


def fallback(
    session: Session,
    grant: Grant,
    position: int,
    *,
    poll_seconds: float,
    heartbeat_seconds: float,
    max_seconds: float,
    retry_ms: int,
    check_seconds: float,
) -> Iterator[bytes]:
    """The in-app stream: poll, send what is new, beat; end after `max_seconds`, or once the
    login that asked for it is revoked (checked every `check_seconds`)."""
    yield opening(retry_ms)
    started = last_beat = last_check = time.monotonic()
    while time.monotonic() - started < max_seconds:
        if time.monotonic() - last_check >= check_seconds:
            if not tickets.still_allowed(session, [grant]):
                return
            last_check = time.monotonic()
        events.sequence(session)
        frames, position, more = read_frames(session, grant, position)
        if frames:
            yield b"".join(frames)
        if more:
            continue
        now = time.monotonic()
        if now - last_beat >= heartbeat_seconds:
            yield HEARTBEAT
            last_beat = now
        time.sleep(min(poll_seconds, heartbeat_seconds))
