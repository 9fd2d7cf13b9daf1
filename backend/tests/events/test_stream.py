"""The live stream: tickets, resuming, who sees what, heartbeats, on both servers.

Each stream test runs against a real server on 127.0.0.1: the asyncio stream server
(`app.events.server`, as `flask events serve` runs it) and the web app's own fallback route
(werkzeug's threaded server, as `make run` serves it). Events come from real transfers and
alerts, committed on PostgreSQL; wake-ups go through Redis.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import requests
import sqlalchemy as sa
from aiohttp import web
from werkzeug.serving import WSGIRequestHandler, make_server

from app import create_app
from app.core import events, uow
from app.core.db import utcnow
from app.core.events import Event
from app.core.personal_data import personal_data
from app.events import tickets
from app.events.models import EventTicket
from app.events.server import make_app
from tests.conftest import make_config
from tests.factories import auth_headers, make_user
from tests.money_helpers import make_account, send_transfer

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

TICKET = "/api/v1/events/ticket"
STREAM = "/api/v1/events/stream"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the servers ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stream_app(pg_url, redis_url):
    """The app the stream servers run: short heartbeats and polls, so the tests are quick."""
    return create_app(
        make_config(
            pg_url,
            redis_url,
            EVENTS_HEARTBEAT_SECONDS=0.3,
            EVENTS_POLL_SECONDS=0.5,
            EVENTS_FALLBACK_POLL_SECONDS=0.1,
            EVENTS_SESSION_CHECK_SECONDS=0.5,
            RATELIMIT_ENABLED=False,
        )
    )


class AsyncServer:
    """The asyncio stream server in a thread of its own, on a free port."""

    def __init__(self, flask_app) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        # No access log, as `flask events serve` runs it: its URLs carry tickets.
        self.runner = web.AppRunner(make_app(flask_app), shutdown_timeout=5, access_log=None)
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self.runner.setup())
            site = web.TCPSite(self.runner, "127.0.0.1", self.port)
            self.loop.run_until_complete(site.start())
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert started.wait(20)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(20)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def async_server(stream_app) -> Iterator[str]:
    server = AsyncServer(stream_app)
    yield server.url
    server.stop()


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # its URLs carry tickets
        return None


@pytest.fixture(scope="module")
def flask_server(stream_app) -> Iterator[str]:
    """The web app's fallback route on werkzeug's threaded server (as `make run`)."""
    port = _free_port()
    server = make_server(
        "127.0.0.1", port, stream_app, threaded=True, request_handler=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(10)


@pytest.fixture(params=["async", "flask"])
def server(request) -> str:
    return request.getfixturevalue(f"{request.param}_server")


# --- a client ------------------------------------------------------------------------------------


_OPENED: list[Stream] = []


@pytest.fixture(autouse=True)
def _close_streams() -> Iterator[None]:
    """Every stream a test opened is closed after it, failed or not: the servers outlive it."""
    yield
    while _OPENED:
        _OPENED.pop().close()


class Stream:
    """An SSE client reading in a thread: frames (`id`, `event`, `data`) and comments."""

    def __init__(self, url: str, *, headers: dict[str, str] | None = None) -> None:
        self.response = requests.get(url, headers=headers, stream=True, timeout=(5, 30))
        _OPENED.append(self)
        self.status = self.response.status_code
        self.frames: list[dict[str, str]] = []
        self.comments: list[str] = []
        self.retry: str | None = None
        self._lock = threading.Lock()
        self.ended = threading.Event()  # the server closed the stream (or the test did)
        if self.status == 200:
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        current: dict[str, str] = {}
        try:
            for line in self.response.iter_lines(chunk_size=1, decode_unicode=True):
                if line == "":
                    if current:
                        with self._lock:
                            self.frames.append(current)
                        current = {}
                elif line.startswith(":"):
                    with self._lock:
                        self.comments.append(line[1:].strip())
                else:
                    field, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if field == "retry":
                        self.retry = value
                    else:
                        current[field] = value
        except Exception:  # closed by the test, or by the server
            pass
        finally:
            self.ended.set()

    def events(self) -> list[dict]:
        with self._lock:
            return [
                {"position": int(f["id"]), "type": f["event"], **json.loads(f["data"])}
                for f in self.frames
            ]

    def wait_for(self, predicate: Callable[[list[dict]], bool], timeout: float = 15) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = self.events()
            if predicate(seen):
                return seen
            time.sleep(0.05)
        raise AssertionError(f"not seen within {timeout} s: {self.events()}")

    def close(self) -> None:
        self.response.close()


def _ticket(client, headers) -> str:
    response = client.post(TICKET, headers=headers)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["expires_in"] == 60
    return body["ticket"]


def _open(server: str, client, headers, **query) -> Stream:
    params = "&".join(f"{k}={v}" for k, v in {"ticket": _ticket(client, headers), **query}.items())
    stream = Stream(f"{server}{STREAM}?{params}")
    assert stream.status == 200
    # The stream has joined once its opening comment arrived.
    deadline = time.monotonic() + 10
    while "open" not in stream.comments and time.monotonic() < deadline:
        time.sleep(0.02)
    return stream


def _txn_ids(seen: list[dict]) -> list[str]:
    return [e["data"]["transaction_id"] for e in seen if e["type"].startswith("movement.")]


# --- tickets -------------------------------------------------------------------------------------


def test_a_ticket_is_for_customers_and_officers_only(app, client, db_session):
    assert client.post(TICKET).status_code == 401
    admin = make_user(db_session, role="admin")
    response = client.post(TICKET, headers=auth_headers(app, admin))
    assert response.status_code == 403
    customer = make_user(db_session)
    body = client.post(TICKET, headers=auth_headers(app, customer)).get_json()
    assert set(body) == {"ticket", "expires_in"} and len(body["ticket"]) == tickets.TICKET_LENGTH


def test_a_ticket_opens_one_stream_only(server, app, client, db_session):
    user = make_user(db_session)
    ticket = _ticket(client, auth_headers(app, user))
    first = Stream(f"{server}{STREAM}?ticket={ticket}")
    assert first.status == 200
    assert first.response.headers["Content-Type"].startswith("text/event-stream")
    second = Stream(f"{server}{STREAM}?ticket={ticket}")
    first.close()
    assert second.status == 401
    assert second.response.json()["error"]["code"] == "invalid_ticket"


def test_an_unknown_or_expired_ticket_is_refused(server, app, db_session):
    user = make_user(db_session)
    unknown = Stream(f"{server}{STREAM}?ticket=not-a-ticket")
    assert unknown.status == 401
    assert unknown.response.json()["error"]["code"] == "invalid_ticket"
    expired = tickets.issue(
        db_session,
        app.extensions["flowlet_redis"],
        user_id=user.id,
        audience="customer",
        seconds=1,
    )
    time.sleep(1.3)
    late = Stream(f"{server}{STREAM}?ticket={expired}")
    assert late.status == 401
    assert late.response.json()["error"] == {
        "code": "invalid_ticket",
        "message": "The stream ticket is unknown, used or expired.",
        "details": {},
        "request_id": late.response.json()["error"]["request_id"],
    }


def test_the_ticket_stays_out_of_the_web_servers_access_log(app):
    """gunicorn logs from the environ it handed the app, after the response: called as
    gunicorn calls it, the app leaves no ticket there."""
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(path=STREAM, query_string="ticket=secret-ticket&last_event_id=3")
    environ = environ.get_environ()
    environ["RAW_URI"] = f"{STREAM}?ticket=secret-ticket&last_event_id=3"
    statuses = []
    body = app(environ, lambda status, headers, exc_info=None: statuses.append(status))
    b"".join(body)
    assert statuses == ["401 UNAUTHORIZED"]
    assert environ["QUERY_STRING"] == "ticket=-&last_event_id=3"
    assert environ["RAW_URI"] == f"{STREAM}?ticket=-&last_event_id=3"


def test_a_disabled_users_ticket_is_refused(server, app, client, db_session):
    user = make_user(db_session)
    ticket = _ticket(client, auth_headers(app, user))
    user.is_active = False
    uow.commit(db_session)
    assert Stream(f"{server}{STREAM}?ticket={ticket}").status == 401


def test_a_stream_ends_when_its_login_is_revoked(server, app, client, db_session):
    user = make_user(db_session)
    headers, other = auth_headers(app, user), auth_headers(app, user)
    stream = _open(server, client, headers)
    kept = _open(server, client, other)  # another login of the same person
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert stream.ended.wait(5)
    time.sleep(1)
    assert not kept.ended.is_set()
    kept.close()


def test_tickets_without_redis_live_in_the_database_by_digest(app, db_session):
    user = make_user(db_session)
    ticket = tickets.issue(db_session, None, user_id=user.id, audience="customer", seconds=60)
    stored = db_session.scalars(sa.select(EventTicket).where(EventTicket.user_id == user.id)).all()
    assert len(stored) == 1 and ticket.encode() not in stored[0].digest
    assert tickets.redeem(db_session, None, ticket) == tickets.Grant(user.id, "customer")
    with pytest.raises(tickets.InvalidTicket):
        tickets.redeem(db_session, None, ticket)  # used
    old = tickets.issue(db_session, None, user_id=user.id, audience="customer", seconds=60)
    db_session.execute(
        sa.update(EventTicket)
        .where(EventTicket.user_id == user.id)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    uow.commit(db_session)
    with pytest.raises(tickets.InvalidTicket):
        tickets.redeem(db_session, None, old)  # expired


# --- what a stream carries -----------------------------------------------------------------------


def test_a_stream_starts_at_the_end_and_resumes_after_last_event_id_exactly_once(
    server, app, client, db_session
):
    alice, bob = make_user(db_session), make_user(db_session)
    headers = auth_headers(app, alice)
    src = make_account(db_session, alice, balance="100.00")
    dst = make_account(db_session, bob)
    history = send_transfer(client, headers, src, dst, "0.50").get_json()["id"]

    stream = _open(server, client, headers)
    assert stream.retry is not None
    sent = []
    for n in range(3):
        sent.append(send_transfer(client, headers, src, dst, f"1.0{n}").get_json()["id"])
    seen = stream.wait_for(lambda s: len(_txn_ids(s)) >= 3)
    stream.close()
    assert history not in _txn_ids(seen)  # no history without Last-Event-ID
    assert _txn_ids(seen) == sent
    last = seen[-1]["position"]

    missed = [
        send_transfer(client, headers, src, dst, f"2.0{n}").get_json()["id"] for n in range(4)
    ]
    ticket = _ticket(client, headers)
    resumed = Stream(f"{server}{STREAM}?ticket={ticket}", headers={"Last-Event-ID": str(last)})
    assert resumed.status == 200
    resumed.wait_for(lambda s: len(_txn_ids(s)) >= 4)
    live = [send_transfer(client, headers, src, dst, f"3.0{n}").get_json()["id"] for n in range(2)]
    seen = resumed.wait_for(lambda s: len(_txn_ids(s)) >= 6)
    time.sleep(0.5)  # nothing more comes
    seen = resumed.events()
    resumed.close()
    assert _txn_ids(seen) == missed + live
    positions = [e["position"] for e in seen]
    assert positions == sorted(set(positions)) and positions[0] > last
    assert all(e["direction"] == "debit" for e in (s["data"] for s in seen))
    assert {e["type"] for e in seen} == {"movement.completed"}
    assert set(seen[0]) == {"position", "type", "id", "version", "occurred_at", "data"}

    # `?last_event_id=` for a fresh connection (which cannot set headers) does the same.
    by_query = _open(server, client, headers, last_event_id=last)
    seen = by_query.wait_for(lambda s: len(_txn_ids(s)) >= 6)
    by_query.close()
    assert _txn_ids(seen) == missed + live


def test_a_customers_stream_never_carries_another_customers_event(server, app, client, db_session):
    alice, bob, carol = make_user(db_session), make_user(db_session), make_user(db_session)
    alice_headers, bob_headers = auth_headers(app, alice), auth_headers(app, bob)
    alice_src = make_account(db_session, alice, balance="100.00")
    bob_src = make_account(db_session, bob, balance="100.00")
    carol_dst = make_account(db_session, carol)
    alice_stream = _open(server, client, alice_headers)
    bob_stream = _open(server, client, bob_headers)

    alice_sent, bob_sent = [], []
    for n in range(5):
        alice_sent.append(send_transfer(client, alice_headers, alice_src, carol_dst, f"1.{n}0"))
        bob_sent.append(send_transfer(client, bob_headers, bob_src, carol_dst, f"2.{n}0"))
    alice_ids = [r.get_json()["id"] for r in alice_sent]
    bob_ids = [r.get_json()["id"] for r in bob_sent]

    alice_seen = alice_stream.wait_for(lambda s: len(_txn_ids(s)) >= 5)
    bob_seen = bob_stream.wait_for(lambda s: len(_txn_ids(s)) >= 5)
    time.sleep(0.5)
    alice_seen, bob_seen = alice_stream.events(), bob_stream.events()
    alice_stream.close()
    bob_stream.close()
    assert _txn_ids(alice_seen) == alice_ids
    assert _txn_ids(bob_seen) == bob_ids
    assert {e["data"]["account_id"] for e in alice_seen} == {str(alice_src.public_id)}
    assert {e["data"]["account_id"] for e in bob_seen} == {str(bob_src.public_id)}


def test_an_officers_stream_carries_alert_raised(server, app, client, db_session):
    from app.compliance.alerts import raise_alert

    officer = make_user(db_session, role="compliance_officer")
    customer = make_user(db_session)
    customer_stream = _open(server, client, auth_headers(app, customer))
    stream = _open(server, client, auth_headers(app, officer))
    alert = raise_alert(
        db_session,
        user_id=customer.id,
        alert_type="velocity",
        severity="high",
        explanation="stream test",
    )
    uow.commit(db_session)
    seen = stream.wait_for(
        lambda s: any(e["data"].get("alert_id") == str(alert.public_id) for e in s)
    )
    raised = next(e for e in seen if e["data"].get("alert_id") == str(alert.public_id))
    assert raised["type"] == "alert.raised" and raised["data"]["severity"] == "high"
    time.sleep(0.5)
    assert not [e for e in customer_stream.events() if e["type"].startswith("alert.")]
    stream.close()
    customer_stream.close()


def test_an_idle_stream_sends_heartbeats(server, app, client, db_session):
    user = make_user(db_session)
    stream = _open(server, client, auth_headers(app, user))
    deadline = time.monotonic() + 5
    while stream.comments.count("heartbeat") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    stream.close()
    assert stream.comments.count("heartbeat") >= 2
    assert stream.events() == []


def test_a_stopping_stream_server_ends_its_streams_at_once(stream_app, app, client, db_session):
    server = AsyncServer(stream_app)
    user = make_user(db_session)
    stream = _open(server.url, client, auth_headers(app, user))
    assert not stream.ended.is_set()
    started = time.monotonic()
    server.stop()
    assert stream.ended.wait(5)
    assert time.monotonic() - started < 5


def test_the_stream_server_reports_its_streams(async_server, app, client, db_session):
    user = make_user(db_session)
    events.emit(db_session, "test.health", {"n": 1}, user_id=user.id)
    uow.commit(db_session)
    stream = _open(async_server, client, auth_headers(app, user))
    deadline = time.monotonic() + 10
    while True:  # the reader numbers the event within a poll
        health = requests.get(f"{async_server}/health", timeout=5).json()
        if health["position"] > 0 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    stream.close()
    assert health["status"] == "ok" and health["streams"] >= 1 and health["position"] > 0


# --- retention and personal data -----------------------------------------------------------------


def test_old_events_are_purged_and_a_persons_events_exported_and_erased(app, db_session):
    from app.events.tasks import purge_events

    user = make_user(db_session)
    old = events.emit(
        db_session,
        "test.old",
        {"n": 1},
        user_id=user.id,
        occurred_at=utcnow() - timedelta(days=app.config["EVENTS_RETENTION_DAYS"] + 1),
    )
    recent = events.emit(db_session, "test.recent", {"n": 2}, user_id=user.id)
    uow.commit(db_session)
    events.sequence(db_session)

    purge_events()

    def ids() -> set:
        db_session.expire_all()
        return set(db_session.scalars(sa.select(Event.public_id).where(Event.user_id == user.id)))

    assert ids() == {recent}
    assert old not in ids()
    (section,) = [s for s in personal_data(app).sections if s.name == "events"]
    exported = section.export(db_session, user)
    assert [(e["id"], e["type"], e["data"]) for e in exported] == [
        (str(recent), "test.recent", {"n": 2})
    ]
    section.erase(db_session, user, "erased-x")
    uow.commit(db_session)
    assert ids() == set()


# --- the embedded default ------------------------------------------------------------------------


def test_the_embedded_default_streams_with_tickets_in_its_database(tmp_path):
    """`make run`: SQLite, no Redis, no stream server; the web app's own route serves it."""
    import uuid

    from tests.auth.helpers import STRONG_PASSWORD, bearer, login, registration
    from tests.conftest import migrate

    app = create_app(
        make_config(
            f"sqlite:///{tmp_path / 'flowlet.db'}",
            EVENTS_FALLBACK_POLL_SECONDS=0.1,
            EVENTS_HEARTBEAT_SECONDS=0.3,
        )
    )
    migrate(app)
    client = app.test_client()
    body = registration()
    assert client.post("/api/v1/auth/register", json=body).status_code == 201
    headers = bearer(login(client, body["email"], STRONG_PASSWORD).get_json()["access_token"])
    account = client.post(
        "/api/v1/accounts", json={"account_type": "checking", "currency": "USD"}, headers=headers
    ).get_json()
    port = _free_port()
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        ticket = _ticket(client, headers)
        stream = Stream(f"http://127.0.0.1:{port}{STREAM}?ticket={ticket}")
        assert stream.status == 200
        again = Stream(f"http://127.0.0.1:{port}{STREAM}?ticket={ticket}")
        assert again.status == 401
        time.sleep(0.3)
        deposit = client.post(
            "/api/v1/transactions/deposit",
            json={"account_id": account["id"], "amount": "12.00", "currency": "USD"},
            headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert deposit.status_code == 201
        seen = stream.wait_for(lambda s: len(_txn_ids(s)) >= 1)
        stream.close()
        assert _txn_ids(seen) == [deposit.get_json()["id"]]
        assert seen[0]["data"]["amount"] == "12.00"
    finally:
        server.shutdown()
        thread.join(10)


def test_the_stream_server_reads_once_per_wake_up_whatever_the_number_of_streams(
    stream_app, app, client, db_session, monkeypatch
):
    """Twenty open streams, five transfers: the reader's queries follow the wake-ups, and no
    stream runs a query of its own (only a resuming one catches up, once)."""
    from app.events.server import HUB_KEY

    server = AsyncServer(stream_app)
    hub = server.runner.app[HUB_KEY]
    reads, catch_ups = [], []
    read_new, catch_up = hub._read_new, hub._catch_up
    monkeypatch.setattr(hub, "_read_new", lambda *a: reads.append(1) or read_new(*a))
    # This hub's catch-ups only (an in-app stream another test left closing polls the same
    # module's reader from its own thread).
    monkeypatch.setattr(hub, "_catch_up", lambda *a: catch_ups.append(1) or catch_up(*a))
    try:
        users = [make_user(db_session) for _ in range(10)]
        accounts = [make_account(db_session, user, balance="10.00") for user in users]
        headers = [auth_headers(app, user) for user in users]
        streams = [_open(server.url, client, h) for h in headers for _ in range(2)]
        reads.clear()
        started = time.monotonic()
        for n in range(5):
            send_transfer(client, headers[n], accounts[n], accounts[n + 5], "1.00")
        for stream in streams:
            stream.wait_for(lambda s: len(_txn_ids(s)) >= 1)
        elapsed = time.monotonic() - started
        assert catch_ups == []
        # One read per wake-up (a commit: these 5 transfers and the 10 deposits just before
        # them, whose wake-ups may arrive late; or the poll), not per stream: 20 streams × 5
        # transfers would be 100.
        assert len(reads) <= 15 + elapsed / hub.poll_seconds + 2, (len(reads), elapsed)
        for stream in streams:
            stream.close()
    finally:
        server.stop()
