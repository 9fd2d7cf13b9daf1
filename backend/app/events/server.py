"""The stream server: thousands of open event streams in one asyncio process.

gunicorn's sync workers hold one request per worker (or thread): a stream that stays open for
an hour would hold one each. `flask events serve` runs this aiohttp application instead, and
the proxy sends `/api/v1/events/stream` to it (deploy/nginx, deploy/k8s).

**One reader per process.** A `Hub` keeps the open streams in memory, by customer and for the
compliance queue. One task subscribes to Redis (`core.events.CHANNEL`) and wakes the reader
when events commit; the reader also wakes every `EVENTS_POLL_SECONDS` (a lost wake-up costs
only that). On each wake-up it runs `sequence()` and reads every event after the last one it
saw, once, in a worker thread (the sync SQLAlchemy session of the Flask app), then hands each
event, already encoded, to the streams that may read it. The database work per wake-up is the
same for ten streams or ten thousand.

**Resuming.** A stream opened with `Last-Event-ID` (or `?last_event_id=`) joins the hub
first, then reads what it missed with `after()` (one catch-up query, a page at a time); events
the hub hands it meanwhile are skipped if the catch-up already sent them. Every event after
the resume point arrives once, in position order. A stream opened without one joins, then
starts after every event committed before it opened (`sequence()`, then the highest position):
no history.

**A slow client** whose buffer fills (`QUEUE_SIZE` events unsent) is disconnected; its
browser reconnects with `Last-Event-ID` and catches up from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import sqlalchemy as sa
from aiohttp import web
from flask import Flask
from redis import asyncio as aioredis

from app.core import events, uow
from app.core.events import CHANNEL, Event
from app.core.extensions import db
from app.events import stream, tickets
from app.events.tickets import TICKET_LENGTH, Grant, InvalidTicket, TicketsUnavailable

log = logging.getLogger("flowlet.events.server")

T = TypeVar("T")
QUEUE_SIZE = 1_000
_READ_BATCH = 1_000


class Subscriber:
    """One open stream: what it may read and the frames waiting to be written."""

    __slots__ = ("grant", "overflowed", "queue")

    def __init__(self, grant: Grant) -> None:
        self.grant = grant
        self.queue: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue(QUEUE_SIZE)
        self.overflowed = False

    def end(self) -> None:
        """Make its stream end now (its pump wakes on the marker)."""
        self.overflowed = True
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait((-1, b""))

    def offer(self, position: int, frame: bytes) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait((position, frame))
        except asyncio.QueueFull:
            self.overflowed = True  # the stream ends when it sees it; the client resumes


class Hub:
    """The process's open streams and its one reader."""

    def __init__(self, app: Flask) -> None:
        config = app.config
        self.app = app
        self.redis_url: str | None = config["REDIS_URL"]
        self.poll_seconds = float(config["EVENTS_POLL_SECONDS"])
        self.heartbeat_seconds = float(config["EVENTS_HEARTBEAT_SECONDS"])
        self.max_seconds = float(config["EVENTS_STREAM_MAX_SECONDS"])
        self.retry_ms = int(config["EVENTS_RETRY_MS"])
        self.check_seconds = float(config["EVENTS_SESSION_CHECK_SECONDS"])
        self.customers: dict[int, set[Subscriber]] = {}
        self.officers: set[Subscriber] = set()
        self.position = 0
        self.wake = asyncio.Event()
        # Read cycles started and finished: a new stream waits for one that started after it
        # joined (`current_end`), so its starting point costs no query of its own.
        self._cycles_started = 0
        self._cycles_done = 0
        self._cycle_done = asyncio.Condition()
        # The reader's thread (one: the reads are serial); catch-ups and tickets use the
        # loop's default pool.
        self._reader_pool = ThreadPoolExecutor(1, thread_name_prefix="events-reader")
        self._tasks: list[asyncio.Task[None]] = []

    # --- the database, in threads -------------------------------------------------------------

    def _in_app(self, fn: Callable[..., T], *args: Any) -> T:
        with self.app.app_context():
            try:
                return fn(db.session(), *args)
            finally:
                db.session.remove()

    async def _run(self, fn: Callable[..., T], *args: Any, reader: bool = False) -> T:
        loop = asyncio.get_running_loop()
        pool = self._reader_pool if reader else None
        return await loop.run_in_executor(pool, self._in_app, fn, *args)

    @staticmethod
    def _current_end(session: Any) -> int:
        return stream.start_position(session, None)

    @staticmethod
    def _read_new(session: Any, position: int) -> list[tuple[int, str, int | None, bytes]]:
        events.sequence(session)
        rows = session.scalars(
            sa.select(Event)
            .where(Event.position > position)
            .order_by(Event.position)
            .limit(_READ_BATCH)
        ).all()
        found = [(row.position, row.audience, row.user_id, stream.event_frame(row)) for row in rows]
        uow.rollback(session)
        return found

    def _redeem(self, session: Any, ticket: str) -> Grant:
        return tickets.redeem(session, self.app.extensions.get("flowlet_redis"), ticket)

    @staticmethod
    def _catch_up(session: Any, grant: Grant, position: int) -> tuple[list[bytes], int, bool]:
        return stream.read_frames(session, grant, position)

    # --- the reader ---------------------------------------------------------------------------

    async def start(self) -> None:
        self.position = await self._run(self._current_end, reader=True)
        self._tasks.append(asyncio.create_task(self._reader()))
        self._tasks.append(asyncio.create_task(self._watch()))
        if self.redis_url:
            self._tasks.append(asyncio.create_task(self._listen(self.redis_url)))
        log.info("events: stream server reading after position %d", self.position)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._reader_pool.shutdown(wait=False)

    async def _reader(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.poll_seconds)
            self.wake.clear()
            try:
                await self.read_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("events: reading new events failed; retrying")
                await asyncio.sleep(1)

    async def read_once(self) -> int:
        """Read and fan out every event after the hub's position; returns how many."""
        self._cycles_started += 1
        total = 0
        try:
            while True:
                rows = await self._run(self._read_new, self.position, reader=True)
                for position, audience, user_id, frame in rows:
                    if audience == "compliance":
                        targets: set[Subscriber] = self.officers
                    else:
                        targets = (
                            self.customers.get(user_id, set()) if user_id is not None else set()
                        )
                    for subscriber in targets:
                        subscriber.offer(position, frame)
                    self.position = position
                total += len(rows)
                if len(rows) < _READ_BATCH:
                    return total
        finally:
            self._cycles_done += 1
            async with self._cycle_done:
                self._cycle_done.notify_all()

    async def current_end(self) -> int:
        """The position after every event committed before now: the reader's next cycle
        numbers them (`sequence()`) and reads up to them; shared by every stream opening
        meanwhile, whatever their number."""
        target = self._cycles_started + 1
        self.wake.set()
        async with self._cycle_done:
            with contextlib.suppress(TimeoutError):  # a stuck reader: start where it is
                await asyncio.wait_for(
                    self._cycle_done.wait_for(lambda: self._cycles_done >= target),
                    2 * self.poll_seconds + 10,
                )
        return self.position

    async def _watch(self) -> None:
        """End the streams whose login was revoked or whose user was disabled or locked:
        every `EVENTS_SESSION_CHECK_SECONDS`, one check for all the process's streams."""
        while True:
            await asyncio.sleep(self.check_seconds)
            subscribers = [*self.officers, *(s for mine in self.customers.values() for s in mine)]
            if not subscribers:
                continue
            try:
                allowed = await self._run(
                    tickets.still_allowed, [subscriber.grant for subscriber in subscribers]
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("events: checking the streams' logins failed; retrying")
                continue
            for subscriber in subscribers:
                if subscriber.grant not in allowed:
                    subscriber.end()

    async def _listen(self, url: str) -> None:
        """Wake the reader on every message of the events channel; reconnect on failure."""
        while True:
            client = aioredis.Redis.from_url(url)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    self.wake.set()  # anything published while we were away
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self.wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("events: Redis subscription lost (%s); retrying", type(exc).__name__)
                await asyncio.sleep(1)
            finally:
                await client.aclose()

    # --- the streams --------------------------------------------------------------------------

    def join(self, subscriber: Subscriber) -> None:
        if subscriber.grant.audience == "compliance":
            self.officers.add(subscriber)
        else:
            self.customers.setdefault(subscriber.grant.user_id, set()).add(subscriber)

    def leave(self, subscriber: Subscriber) -> None:
        if subscriber.grant.audience == "compliance":
            self.officers.discard(subscriber)
            return
        mine = self.customers.get(subscriber.grant.user_id)
        if mine is not None:
            mine.discard(subscriber)
            if not mine:
                del self.customers[subscriber.grant.user_id]

    def close_all(self) -> None:
        """End every stream now (shutdown): each client reconnects to another server and
        resumes after its last event."""
        for subscriber in [*self.officers, *(s for mine in self.customers.values() for s in mine)]:
            subscriber.end()

    @property
    def streams(self) -> int:
        return len(self.officers) + sum(len(s) for s in self.customers.values())

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if not ticket or len(ticket) > 2 * TICKET_LENGTH:
            return _error(request, 422, "validation_error", "A stream ticket is required.")
        query_resume: int | None = None
        raw = request.query.get("last_event_id")
        if raw is not None:
            if not raw.isdigit() or len(raw) > 18:
                return _error(request, 422, "validation_error", "last_event_id must be a position.")
            query_resume = int(raw)
        resume = stream.resume_point(request.headers.get("Last-Event-ID"), query_resume)
        try:
            grant = await self._run(self._redeem, ticket)
        except (InvalidTicket, TicketsUnavailable) as exc:
            return _error(request, exc.status, exc.code, exc.message)

        subscriber = Subscriber(grant)
        self.join(subscriber)  # first: nothing committed from now on can be missed
        response = web.StreamResponse(
            headers={"Content-Type": stream.CONTENT_TYPE, **stream.HEADERS}
        )
        try:
            # Without a resume point: after every event committed before the stream opened
            # (the hub may not have read the last commits yet); nothing older is sent.
            sent = resume if resume is not None else await self.current_end()
            await response.prepare(request)
            await response.write(stream.opening(self.retry_ms))
            if resume is not None:
                while True:
                    frames, sent, more = await self._run(self._catch_up, grant, sent)
                    if frames:
                        await response.write(b"".join(frames))
                    if not more:
                        break
            await self._pump(response, subscriber, sent)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.leave(subscriber)
        return response

    async def _pump(self, response: web.StreamResponse, subscriber: Subscriber, sent: int) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_seconds
        queue = subscriber.queue
        while not subscriber.overflowed:
            wait = min(self.heartbeat_seconds, deadline - loop.time())
            if wait <= 0:
                return
            try:
                position, frame = await asyncio.wait_for(queue.get(), wait)
            except TimeoutError:
                await response.write(stream.HEARTBEAT)
                continue
            chunks = []
            if position > sent:
                chunks.append(frame)
                sent = position
            while not queue.empty():
                position, frame = queue.get_nowait()
                if position > sent:
                    chunks.append(frame)
                    sent = position
            if chunks:
                await response.write(b"".join(chunks))


HUB_KEY = web.AppKey("hub", Hub)


def _error(request: web.Request, status: int, code: str, message: str) -> web.Response:
    """The error envelope of API.md, as the web app answers it."""
    request_id = request.headers.get("X-Request-ID", "")[:64] or uuid.uuid4().hex
    body = {"error": {"code": code, "message": message, "details": {}, "request_id": request_id}}
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


async def _health(request: web.Request) -> web.Response:
    hub = request.app[HUB_KEY]
    return web.json_response({"status": "ok", "streams": hub.streams, "position": hub.position})


def make_app(flask_app: Flask) -> web.Application:
    """The aiohttp application: `/api/v1/events/stream` and `/health`."""
    application = web.Application()
    hub = Hub(flask_app)
    application[HUB_KEY] = hub
    application.router.add_get("/api/v1/events/stream", hub.handle)
    application.router.add_get("/health", _health)

    async def _lifecycle(_: web.Application) -> Any:
        await hub.start()
        yield
        await hub.stop()

    async def _ending(_: web.Application) -> None:
        hub.close_all()

    application.cleanup_ctx.append(_lifecycle)
    application.on_shutdown.append(_ending)
    return application


def serve(flask_app: Flask, *, host: str, port: int) -> None:
    """Run the stream server until SIGINT or SIGTERM (no access log: URLs carry tickets)."""
    web.run_app(
        make_app(flask_app),
        host=host,
        port=port,
        access_log=None,
        print=None,
        shutdown_timeout=5,  # the streams end at once (close_all); their clients resume
    )
