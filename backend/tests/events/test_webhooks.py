"""Webhooks (issue 23): signed deliveries verified by the doc's own snippet, retries, order per
account, rotation, SSRF refusals, failing endpoints disabled, deliveries and redelivery, and
every admin route — on PostgreSQL, Redis and RQ workers, receivers on 127.0.0.1."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY
from rq import Queue, SimpleWorker

from app.auth.models import EmailOutbox
from app.core import events, uow
from app.core.audit import AuditLog
from app.core.db import utcnow
from app.core.events import Event
from app.core.extensions import db
from app.events import webhooks_delivery, webhooks_net
from app.events.webhooks_models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookFanoutCursor,
)
from tests.events.webhook_receiver import Receiver, doc_snippet
from tests.factories import auth_headers, make_user
from tests.money_helpers import make_account, post, transfer_body

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

BASE = "/api/v1/admin/webhooks"
TYPES = ["movement.completed"]


# --- fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_endpoint_outlives_its_test(app):
    yield
    with app.app_context():
        db.session.execute(sa.delete(WebhookEndpoint))
        uow.commit(db.session)
        db.session.remove()


@pytest.fixture
def local(app, monkeypatch):
    """Receivers on 127.0.0.1 may be reached (the only private address allowed)."""
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE_NETWORKS", "127.0.0.1/32")
    monkeypatch.setitem(app.config, "WEBHOOK_TIMEOUT_SECONDS", 5)


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.close()


@pytest.fixture
def admin(app, db_session):
    user = make_user(db_session, role="admin")
    return user, auth_headers(app, user)


def _register(client, headers, url, types=TYPES, **extra) -> dict:
    response = client.post(BASE, json={"url": url, "event_types": types, **extra}, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _emit(app, account_id: int | None, *, user_id: int, kind: str = "movement.completed") -> str:
    """One event in a committed transaction of its own; its id."""
    with app.app_context():
        event_id = events.emit(
            db.session, kind, {"n": uuid.uuid4().hex}, user_id=user_id, account_id=account_id
        )
        uow.commit(db.session)
        db.session.remove()
    return str(event_id)


class _BurstWorker(SimpleWorker):
    """RQ's worker without its command channel: stopping that channel's thread now and then
    waits out its 60 s poll (redis-py), and a burst run in a test takes no commands."""

    def subscribe(self) -> None:
        self.pubsub_thread = None

    def unsubscribe(self) -> None:
        pass


def _work(app) -> None:
    """Run every job waiting in the default queue with a real RQ worker, then return."""
    with app.app_context():
        redis = app.extensions["flowlet_redis"]
        _BurstWorker([Queue("default", connection=redis)], connection=redis).work(burst=True)


def _tick(app) -> None:
    """What the scheduler does every WEBHOOK_POLL_SECONDS: the job, run by an RQ worker."""
    with app.app_context():
        redis = app.extensions["flowlet_redis"]
        Queue("default", connection=redis).enqueue("app.events.webhooks_tasks.deliver_webhooks")
    _work(app)


def _delivery(app, event_id: str) -> WebhookDelivery:
    with app.app_context():
        row = db.session.scalars(
            sa.select(WebhookDelivery).where(WebhookDelivery.event_public_id == uuid.UUID(event_id))
        ).one()
        db.session.expunge(row)
        db.session.remove()
        return row


def _attempts_counted(outcome: str) -> float:
    """`flowlet_webhook_attempts_total{outcome}` as /metrics shows it."""
    value = REGISTRY.get_sample_value("flowlet_webhook_attempts_total", {"outcome": outcome})
    return value or 0.0


def _execute(app, statement) -> None:
    with app.app_context():
        db.session.execute(statement)
        uow.commit(db.session)
        db.session.remove()


def _make_due(app, event_id: str) -> None:
    """The retry's wait has passed."""
    _execute(
        app,
        sa.update(WebhookDelivery)
        .where(WebhookDelivery.event_public_id == uuid.UUID(event_id))
        .values(next_attempt_at=utcnow() - timedelta(seconds=1)),
    )


# --- delivery, signature, retries, order ------------------------------------------------------


def test_a_transfer_reaches_the_receiver_signed_and_the_doc_snippet_verifies_it(
    app, client, db_session, local, receiver, admin
):
    alice, bob = make_user(db_session), make_user(db_session)
    src = make_account(db_session, alice, balance="50.00")  # its deposit: before the endpoint
    dst = make_account(db_session, bob)
    _, headers = admin
    created = _register(client, headers, receiver.url, description="ledger sync")
    receiver.secret = created["secret"]
    assert created["secret"].startswith("whsec_") and created["status"] == "active"
    with app.app_context():
        sealed = db.session.scalar(
            sa.select(WebhookEndpoint.secret_sealed).where(
                WebhookEndpoint.public_id == uuid.UUID(created["id"])
            )
        )
        db.session.remove()
    assert created["secret"] not in sealed  # sealed at rest
    assert "secret" not in client.get(f"{BASE}/{created['id']}", headers=headers).get_json()

    response = post(
        client, "/api/v1/transactions/transfer", auth_headers(app, alice), transfer_body(src, dst)
    )
    assert response.status_code == 201, response.get_json()
    _tick(app)

    assert [d.status for d in receiver.deliveries] == [200, 200]
    snippet = doc_snippet()
    with app.app_context():
        for delivery in receiver.deliveries:
            event = db.session.scalars(
                sa.select(Event).where(Event.public_id == uuid.UUID(delivery.event["id"]))
            ).one()
            assert delivery.body == webhooks_delivery.body_of(event)
            assert delivery.event == events.as_json(event)
            assert delivery.headers["Flowlet-Event-Id"] == delivery.event["id"]
            assert delivery.headers["Content-Type"] == "application/json"
            header = delivery.headers["Flowlet-Signature"]
            assert len(delivery.signatures) == 1
            assert snippet["verify"](created["secret"], delivery.body, header)
            assert not snippet["verify"]("whsec_wrong", delivery.body, header)
            assert not snippet["verify"](created["secret"], delivery.body + b" ", header)
            timestamp = int(header.split(",")[0].removeprefix("t="))
            assert snippet["verify"](created["secret"], delivery.body, header, now=timestamp + 299)
            assert not snippet["verify"](
                created["secret"], delivery.body, header, now=timestamp + 301
            )
        db.session.remove()
    directions = sorted(d.event["data"]["direction"] for d in receiver.deliveries)
    assert directions == ["credit", "debit"]
    assert sorted(receiver.processed) == sorted(receiver.events_of())
    assert all(_delivery(app, e).status == "delivered" for e in receiver.events_of())


def test_a_500_is_retried_within_a_minute_and_each_account_keeps_its_order(
    app, client, db_session, local, receiver, admin, monkeypatch
):
    monkeypatch.setitem(app.config, "WEBHOOK_RETRY_BASE_SECONDS", 20)
    user, headers = admin
    created = _register(client, headers, receiver.url)
    receiver.secret = created["secret"]
    a1 = _emit(app, 9001, user_id=user.id)
    a2 = _emit(app, 9001, user_id=user.id)
    b1 = _emit(app, 9002, user_id=user.id)
    receiver.answers = [500]  # the first delivery (A1) fails once
    retries = _attempts_counted("retry")

    before = utcnow()
    _tick(app)
    assert _attempts_counted("retry") == retries + 1
    # A1 failed; A2 waits behind it; B1, another account, went out.
    assert [(d.event["id"], d.status) for d in receiver.deliveries] == [(a1, 500), (b1, 200)]
    first = _delivery(app, a1)
    assert first.status == "pending" and first.attempts == 1 and first.last_status_code == 500
    wait = (first.next_attempt_at - before).total_seconds()
    assert 10 <= wait <= 31  # base 20 s ± 50 %: the first retry comes within a minute
    assert _delivery(app, a2).attempts == 0

    _tick(app)  # the retry is not due yet: nothing moves, A2 still waits
    assert len(receiver.deliveries) == 2

    _make_due(app, a1)
    _tick(app)
    assert [(d.event["id"], d.status) for d in receiver.deliveries] == [
        (a1, 500),
        (b1, 200),
        (a1, 200),
        (a2, 200),
    ]
    assert receiver.processed == [b1, a1, a2]
    attempts = client.get(
        f"{BASE}/{created['id']}/deliveries", query_string={"event_id": a1}, headers=headers
    ).get_json()["items"]
    assert [(a["attempt"], a["status_code"], a["error"]) for a in attempts] == [
        (2, 200, None),
        (1, 500, "HTTP 500"),
    ]
    assert all(a["delivery_status"] == "delivered" for a in attempts)


def test_a_timeout_is_a_failed_attempt(app, client, local, receiver, admin, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_TIMEOUT_SECONDS", 1)
    user, headers = admin
    created = _register(client, headers, receiver.url)
    receiver.stall = threading.Event()
    receiver.stall.set()
    event_id = _emit(app, 9003, user_id=user.id)
    started = time.monotonic()
    _tick(app)
    assert time.monotonic() - started < 10
    delivery = _delivery(app, event_id)
    assert delivery.status == "pending" and delivery.attempts == 1
    assert delivery.last_error == "timeout after 1 s"
    receiver.release.set()
    (attempt,) = client.get(f"{BASE}/{created['id']}/deliveries", headers=headers).get_json()[
        "items"
    ]
    assert attempt["status_code"] is None and attempt["error"] == "timeout after 1 s"
    assert 900 <= attempt["duration_ms"] < 5000


def test_a_redirect_is_not_followed(app, client, local, receiver, admin):
    user, headers = admin
    _register(client, headers, receiver.url)
    receiver.answers = [302]
    event_id = _emit(app, None, user_id=user.id)
    _tick(app)
    assert len(receiver.deliveries) == 1
    delivery = _delivery(app, event_id)
    assert delivery.status == "pending" and delivery.last_error == "redirect not followed"


def test_rotation_signs_with_both_secrets_during_the_overlap_then_with_the_new_only(
    app, client, local, receiver, admin
):
    user, headers = admin
    created = _register(client, headers, receiver.url)
    old = created["secret"]
    response = client.post(f"{BASE}/{created['id']}/rotate-secret", headers=headers)
    assert response.status_code == 200
    new = response.get_json()["secret"]
    assert new != old and new.startswith("whsec_")
    assert response.get_json()["previous_secret_expires_at"]
    receiver.secret = new
    verify = doc_snippet()["verify"]

    _emit(app, 9004, user_id=user.id)
    _tick(app)
    (during,) = receiver.deliveries
    header = during.headers["Flowlet-Signature"]
    assert len(during.signatures) == 2
    assert verify(old, during.body, header) and verify(new, during.body, header)

    _execute(
        app,
        sa.update(WebhookEndpoint)
        .where(WebhookEndpoint.public_id == uuid.UUID(created["id"]))
        .values(previous_secret_expires_at=utcnow() - timedelta(seconds=1)),
    )
    _emit(app, 9004, user_id=user.id)
    _tick(app)
    after = receiver.deliveries[1]
    header = after.headers["Flowlet-Signature"]
    assert len(after.signatures) == 1
    assert verify(new, after.body, header) and not verify(old, after.body, header)
    with app.app_context():
        changes = db.session.scalars(
            sa.select(AuditLog.changes).where(
                AuditLog.action == "webhooks.secret_rotated", AuditLog.resource_id == created["id"]
            )
        ).all()
        db.session.remove()
    assert len(changes) == 1 and old not in str(changes) and new not in str(changes)


# --- SSRF --------------------------------------------------------------------------------------


REFUSED_URLS = [
    "http://127.0.0.1:8080/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[::ffff:169.254.169.254]/hook",
    "http://[fe80::1]/hook",
    "http://localhost/hook",
    "http://10.1.2.3/hook",
    "http://192.168.0.10/hook",
    "http://0.0.0.0/hook",
    "http://224.0.0.1/hook",
]


def test_private_loopback_and_link_local_urls_are_refused_at_registration(
    app, client, admin, monkeypatch
):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE_NETWORKS", "")
    _, headers = admin
    for url in REFUSED_URLS:
        response = client.post(BASE, json={"url": url, "event_types": TYPES}, headers=headers)
        assert response.status_code == 422, url
        error = response.get_json()["error"]
        assert error["code"] == "validation_error" and "url" in error["details"], url
    # Allowed networks open exactly those addresses.
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE_NETWORKS", "127.0.0.1/32")
    assert (
        client.post(
            BASE, json={"url": "http://127.0.0.1:9/x", "event_types": TYPES}, headers=headers
        ).status_code
        == 201
    )
    for url in ("http://169.254.169.254/", "http://127.0.0.2/", "http://[::1]/"):
        response = client.post(BASE, json={"url": url, "event_types": TYPES}, headers=headers)
        assert response.status_code == 422, url


@pytest.mark.parametrize(
    "url, message",
    [
        ("ftp://example.com/x", "http or https"),
        ("http://user:pw@example.com/", "credentials"),
        ("http:///nohost", "no host"),
        ("https://example.com/#frag", "fragment"),
        ("http://does-not-exist.invalid/", "does not resolve"),
    ],
)
def test_malformed_urls_are_refused(client, admin, url, message):
    _, headers = admin
    response = client.post(BASE, json={"url": url, "event_types": TYPES}, headers=headers)
    assert response.status_code == 422
    assert message in response.get_json()["error"]["message"]


def test_an_address_refused_at_delivery_is_recorded_and_never_connected(
    app, client, local, receiver, admin, monkeypatch
):
    user, headers = admin
    created = _register(client, headers, receiver.url)
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE_NETWORKS", "")  # the rule changed
    event_id = _emit(app, 9005, user_id=user.id)
    _tick(app)
    assert receiver.deliveries == []
    delivery = _delivery(app, event_id)
    assert delivery.status == "pending" and delivery.attempts == 1
    (attempt,) = client.get(f"{BASE}/{created['id']}/deliveries", headers=headers).get_json()[
        "items"
    ]
    assert attempt["status_code"] is None
    assert attempt["error"].startswith("refused: The URL resolves to a private")


@pytest.mark.parametrize(
    "address, public",
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("169.254.169.254", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("::ffff:8.8.8.8", True),
        ("2002:7f00:1::1", False),  # 6to4 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
    ],
)
def test_which_addresses_are_public(address, public):
    assert webhooks_net.allowed(ipaddress.ip_address(address), ()) is public


def test_allowed_networks_open_only_themselves():
    allow = webhooks_net.parse_networks("127.0.0.1/32, fd00::/8")
    assert webhooks_net.allowed(ipaddress.ip_address("127.0.0.1"), allow)
    assert webhooks_net.allowed(ipaddress.ip_address("::ffff:127.0.0.1"), allow)
    assert webhooks_net.allowed(ipaddress.ip_address("fd00::5"), allow)
    assert not webhooks_net.allowed(ipaddress.ip_address("127.0.0.2"), allow)
    assert not webhooks_net.allowed(ipaddress.ip_address("169.254.169.254"), allow)


def _fake_dns(monkeypatch, answers: dict[str, list[str]]) -> list[str]:
    calls: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return real(host, port, *args, **kwargs)
        calls.append(host)
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answers[host]
        ]

    monkeypatch.setattr(webhooks_net.socket, "getaddrinfo", getaddrinfo)
    return calls


def test_every_resolved_address_is_checked(monkeypatch):
    _fake_dns(monkeypatch, {"mixed.partner.test": ["93.184.215.14", "169.254.169.254"]})
    with pytest.raises(webhooks_net.RefusedURL):
        webhooks_net.resolve("mixed.partner.test", 443, ())
    answer = webhooks_net.post("https://mixed.partner.test/hook", b"{}", {}, timeout=1, allow=())
    assert answer.status_code is None and answer.error.startswith("refused")


def test_the_connection_goes_to_the_address_checked_not_to_a_second_lookup(monkeypatch, receiver):
    """One lookup per attempt: a DNS server that answers differently later is never asked."""
    port = int(receiver.url.rsplit(":", 1)[1].split("/")[0])
    calls = _fake_dns(monkeypatch, {"hooks.partner.test": ["127.0.0.1"]})
    receiver.answers = [204]
    answer = webhooks_net.post(
        f"http://hooks.partner.test:{port}/hooks?x=1",
        b'{"id":"1"}',
        {"Content-Type": "application/json"},
        timeout=5,
        allow=webhooks_net.parse_networks("127.0.0.1/32"),
    )
    assert (answer.status_code, answer.error) == (204, None)
    assert calls == ["hooks.partner.test"]
    (delivery,) = receiver.deliveries
    assert delivery.headers["Host"] == f"hooks.partner.test:{port}"
    assert delivery.path == "/hooks?x=1"


# --- failing endpoints -------------------------------------------------------------------------


def test_an_endpoint_failing_n_times_in_a_row_is_disabled_and_the_admins_told(
    app, client, local, receiver, admin, monkeypatch
):
    monkeypatch.setitem(app.config, "WEBHOOK_MAX_AGE_SECONDS", 0)  # the first failure is final
    monkeypatch.setitem(app.config, "WEBHOOK_DISABLE_AFTER_FAILURES", 2)
    user, headers = admin
    created = _register(client, headers, receiver.url)
    receiver.answers = [500, 500, 500]
    first = _emit(app, 9006, user_id=user.id)
    _tick(app)
    assert _delivery(app, first).status == "failed"
    endpoint = client.get(f"{BASE}/{created['id']}", headers=headers).get_json()
    assert endpoint["status"] == "active" and endpoint["consecutive_failures"] == 1

    second = _emit(app, 9007, user_id=user.id)
    _tick(app)
    assert _delivery(app, second).status == "failed"
    endpoint = client.get(f"{BASE}/{created['id']}", headers=headers).get_json()
    assert endpoint["status"] == "disabled" and endpoint["consecutive_failures"] == 2
    assert endpoint["disabled_reason"] == "2 deliveries failed in a row"
    assert endpoint["disabled_at"]
    with app.app_context():
        (record,) = db.session.scalars(
            sa.select(AuditLog).where(
                AuditLog.action == "webhooks.endpoint_disabled",
                AuditLog.resource_id == created["id"],
            )
        ).all()
        assert record.actor_role == "system"
        mails = db.session.scalars(
            sa.select(EmailOutbox).where(
                EmailOutbox.kind == "webhook_disabled", EmailOutbox.user_id == user.id
            )
        ).all()
        assert len(mails) == 1 and mails[0].to_address == user.email
        db.session.remove()

    # Disabled: a new event waits for it, and a redelivery is refused until it is enabled.
    monkeypatch.setitem(app.config, "WEBHOOK_MAX_AGE_SECONDS", 86400)
    waiting = _emit(app, 9008, user_id=user.id)
    _tick(app)
    assert len(receiver.deliveries) == 2
    assert _delivery(app, waiting).status == "pending"
    response = client.post(f"{BASE}/{created['id']}/deliveries/{first}/redeliver", headers=headers)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "conflict"

    enabled = client.patch(
        f"{BASE}/{created['id']}", json={"status": "active"}, headers=headers
    ).get_json()
    assert enabled["status"] == "active" and enabled["consecutive_failures"] == 0
    assert enabled["disabled_at"] is None and enabled["disabled_reason"] is None
    receiver.secret, receiver.answers = created["secret"], []  # the receiver is back
    _tick(app)
    assert receiver.events_of(200) == [waiting]
    assert _delivery(app, waiting).status == "delivered"


def test_what_waited_too_long_on_a_disabled_endpoint_fails_unsent_and_not_as_a_failure(
    app, client, local, receiver, admin
):
    user, headers = admin
    created = _register(client, headers, receiver.url)
    path = f"{BASE}/{created['id']}"
    assert client.patch(path, json={"status": "disabled"}, headers=headers).status_code == 200
    stale, kept = _emit(app, 9800, user_id=user.id), _emit(app, 9801, user_id=user.id)
    _tick(app)
    assert _delivery(app, stale).status == "pending" == _delivery(app, kept).status
    past = utcnow() - timedelta(seconds=1)
    _execute(
        app,
        sa.update(WebhookDelivery)
        .where(WebhookDelivery.event_public_id == uuid.UUID(stale))
        .values(expires_at=past),
    )
    expired = _attempts_counted("expired")
    assert client.patch(path, json={"status": "active"}, headers=headers).status_code == 200
    receiver.secret = created["secret"]
    _tick(app)
    assert receiver.events_of() == [kept]  # the stale one was never sent
    gone = _delivery(app, stale)
    assert gone.status == "failed" and gone.last_status_code is None
    assert _attempts_counted("expired") == expired + 1
    (attempt,) = client.get(
        f"{path}/deliveries", query_string={"event_id": stale}, headers=headers
    ).get_json()["items"]
    assert attempt["error"] == "not sent: its time ran out while the endpoint was disabled"
    assert attempt["delivery_status"] == "failed" and attempt["status_code"] is None
    assert client.get(path, headers=headers).get_json()["consecutive_failures"] == 0


def test_a_disabled_endpoint_s_deliveries_fail_once_their_time_ran_out(
    app, client, local, receiver, admin
):
    user, headers = admin
    created = _register(client, headers, receiver.url)
    path = f"{BASE}/{created['id']}"
    assert client.patch(path, json={"status": "disabled"}, headers=headers).status_code == 200
    event_id = _emit(app, 9900, user_id=user.id)
    _tick(app)
    assert _delivery(app, event_id).status == "pending"
    _execute(
        app,
        sa.update(WebhookDelivery)
        .where(WebhookDelivery.event_public_id == uuid.UUID(event_id))
        .values(expires_at=utcnow() - timedelta(seconds=1)),
    )
    _tick(app)  # it stays disabled; the job fails what waited too long
    delivery = _delivery(app, event_id)
    assert delivery.status == "failed" and delivery.attempts == 1  # an attempt that says so
    assert delivery.last_error == "not sent: its time ran out while the endpoint was disabled"
    assert receiver.deliveries == []
    (attempt,) = client.get(f"{path}/deliveries", headers=headers).get_json()["items"]
    assert attempt["error"] == delivery.last_error and attempt["duration_ms"] == 0


def test_a_success_resets_the_count_of_failures(app, client, local, receiver, admin, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_MAX_AGE_SECONDS", 0)
    monkeypatch.setitem(app.config, "WEBHOOK_DISABLE_AFTER_FAILURES", 2)
    user, headers = admin
    created = _register(client, headers, receiver.url)
    receiver.secret = created["secret"]
    receiver.answers = [500]
    _emit(app, 9009, user_id=user.id)
    _emit(app, 9010, user_id=user.id)
    _tick(app)
    endpoint = client.get(f"{BASE}/{created['id']}", headers=headers).get_json()
    assert endpoint["status"] == "active" and endpoint["consecutive_failures"] == 0


# --- deliveries and redelivery -----------------------------------------------------------------


def test_deliveries_are_listed_and_an_event_redelivered(app, client, local, receiver, admin):
    user, headers = admin
    created = _register(client, headers, receiver.url)
    receiver.secret = created["secret"]
    event_id = _emit(app, 9011, user_id=user.id)
    other = _emit(app, 9012, user_id=user.id)
    _tick(app)
    deliveries = f"{BASE}/{created['id']}/deliveries"
    page = client.get(deliveries, headers=headers).get_json()
    assert [i["event_id"] for i in page["items"]] == [other, event_id]
    assert page["next_cursor"] is None
    item = page["items"][1]
    assert item["attempt"] == 1 and item["status_code"] == 200 and item["error"] is None
    assert item["delivery_status"] == "delivered" and item["duration_ms"] >= 0 and item["at"]

    response = client.post(f"{deliveries}/{event_id}/redeliver", headers=headers)
    assert response.status_code == 202
    assert response.get_json() == {"event_id": event_id, "status": "pending"}
    assert _delivery(app, event_id).status == "pending"
    _work(app)  # the job the redelivery queued (through the outbox), on a worker
    assert receiver.events_of() == [event_id, other, event_id]
    assert receiver.processed == [event_id, other]  # the receiver deduped by the event id

    attempts = client.get(
        deliveries, query_string={"event_id": event_id}, headers=headers
    ).get_json()["items"]
    assert [(a["attempt"], a["delivery_status"]) for a in attempts] == [
        (2, "delivered"),
        (1, "delivered"),
    ]
    first = client.get(deliveries, query_string={"limit": 2}, headers=headers).get_json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = client.get(
        deliveries, query_string={"limit": 2, "cursor": first["next_cursor"]}, headers=headers
    ).get_json()
    assert [i["event_id"] for i in rest["items"]] == [event_id] and rest["next_cursor"] is None
    none = client.get(
        deliveries, query_string={"event_id": str(uuid.uuid4())}, headers=headers
    ).get_json()
    assert none == {"items": [], "next_cursor": None}
    with app.app_context():
        assert (
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(AuditLog)
                .where(
                    AuditLog.action == "webhooks.redelivery_requested",
                    AuditLog.resource_id == created["id"],
                )
            )
            == 1
        )
        db.session.remove()

    missing = client.post(f"{deliveries}/{uuid.uuid4()}/redeliver", headers=headers)
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    unknown = client.post(f"{BASE}/{uuid.uuid4()}/deliveries/{event_id}/redeliver", headers=headers)
    assert unknown.status_code == 404


# --- fan-out: nothing lost, nothing duplicated -------------------------------------------------


def test_concurrent_fan_outs_write_each_delivery_once(app, client, local, admin):
    user, headers = admin
    created = _register(client, headers, "http://127.0.0.1:9/never")
    ids = {_emit(app, 9100 + n % 3, user_id=user.id) for n in range(30)}
    errors: list[BaseException] = []

    def fan_out() -> None:
        try:
            with app.app_context():
                webhooks_delivery.fan_out(db.session(), batch=7)  # a few transactions each
                db.session.remove()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=fan_out) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    with app.app_context():
        webhooks_delivery.fan_out(db.session())  # whatever a skipped run left
        rows = db.session.execute(
            sa.select(WebhookDelivery.event_public_id, WebhookDelivery.position)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(WebhookEndpoint.public_id == uuid.UUID(created["id"]))
        ).all()
        cursor = db.session.get(WebhookFanoutCursor, 1).position
        db.session.remove()
    assert not errors
    assert sorted(str(r.event_public_id) for r in rows) == sorted(ids)
    assert cursor >= max(r.position for r in rows)


def test_a_fan_out_that_dies_before_its_commit_loses_nothing(
    app, client, local, admin, monkeypatch
):
    user, headers = admin
    created = _register(client, headers, "http://127.0.0.1:9/never")
    event_id = _emit(app, 9200, user_id=user.id)

    class Crash(Exception):
        pass

    class DyingUow:
        def __getattr__(self, name):
            return getattr(uow, name)

        @staticmethod
        def commit(session, **kwargs):
            raise Crash

    monkeypatch.setattr(webhooks_delivery, "uow", DyingUow())
    with app.app_context():
        before = db.session.get(WebhookFanoutCursor, 1).position
        with pytest.raises(Crash):
            webhooks_delivery.fan_out(db.session())
        db.session.rollback()
        assert db.session.get(WebhookFanoutCursor, 1).position == before
        db.session.remove()
    monkeypatch.undo()
    with app.app_context():
        webhooks_delivery.fan_out(db.session())
        (row,) = db.session.scalars(
            sa.select(WebhookDelivery)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(WebhookEndpoint.public_id == uuid.UUID(created["id"]))
        ).all()
        assert str(row.event_public_id) == event_id
        db.session.remove()


def test_an_endpoint_gets_only_its_types_and_only_what_happened_after_it_was_registered(
    app, client, local, receiver, admin
):
    user, headers = admin
    before = _emit(app, 9300, user_id=user.id)
    created = _register(client, headers, receiver.url, types=["movement.held"])
    receiver.secret = created["secret"]
    _emit(app, 9300, user_id=user.id, kind="movement.completed")
    held = _emit(app, 9300, user_id=user.id, kind="movement.held")
    _tick(app)
    assert receiver.events_of() == [held]
    assert before not in receiver.events_of()


# --- the admin routes ---------------------------------------------------------------------------


def test_every_route_with_and_without_its_optional_parameters(app, client, local, admin):
    _, headers = admin
    bare = _register(client, headers, "http://127.0.0.1:9/a")
    assert bare["description"] is None and bare["event_types"] == TYPES
    full = _register(
        client,
        headers,
        "http://127.0.0.1:9/b",
        types=["movement.held", "card.authorized", "movement.held"],
        description="cards",
    )
    assert full["event_types"] == ["card.authorized", "movement.held"]
    assert full["description"] == "cards"

    listed = client.get(BASE, headers=headers).get_json()
    ids = [i["id"] for i in listed["items"]]
    assert ids.index(full["id"]) < ids.index(bare["id"])  # newest first
    assert all("secret" not in i for i in listed["items"])
    one = client.get(BASE, query_string={"limit": 1}, headers=headers).get_json()
    assert one["items"][0]["id"] == full["id"] and one["next_cursor"]
    two = client.get(
        BASE, query_string={"limit": 1, "cursor": one["next_cursor"]}, headers=headers
    ).get_json()
    assert two["items"][0]["id"] == bare["id"]

    changed = client.patch(
        f"{BASE}/{bare['id']}",
        json={"event_types": ["kyc.decided"], "description": "kyc"},
        headers=headers,
    ).get_json()
    assert changed["event_types"] == ["kyc.decided"] and changed["description"] == "kyc"
    disabled = client.patch(f"{BASE}/{bare['id']}", json={"status": "disabled"}, headers=headers)
    assert disabled.status_code == 200
    assert disabled.get_json()["disabled_reason"] == "disabled by an administrator"
    only_disabled = client.get(BASE, query_string={"status": "disabled"}, headers=headers)
    assert [i["id"] for i in only_disabled.get_json()["items"]] == [bare["id"]]
    only_active = client.get(BASE, query_string={"status": "active"}, headers=headers).get_json()
    assert full["id"] in [i["id"] for i in only_active["items"]]
    assert bare["id"] not in [i["id"] for i in only_active["items"]]

    assert client.get(f"{BASE}/{full['id']}/deliveries", headers=headers).get_json() == {
        "items": [],
        "next_cursor": None,
    }
    assert client.delete(f"{BASE}/{bare['id']}", headers=headers).status_code == 204
    assert client.get(f"{BASE}/{bare['id']}", headers=headers).status_code == 404
    assert client.delete(f"{BASE}/{bare['id']}", headers=headers).status_code == 404
    with app.app_context():
        actions = db.session.scalars(
            sa.select(AuditLog.action)
            .where(AuditLog.resource_id == bare["id"])
            .order_by(AuditLog.id)
        ).all()
        db.session.remove()
    assert actions == [
        "webhooks.endpoint_registered",
        "webhooks.endpoint_updated",
        "webhooks.endpoint_updated",
        "webhooks.endpoint_deleted",
    ]


@pytest.mark.parametrize(
    "method, path, body, status",
    [
        ("post", "", {"url": "http://127.0.0.1:9/", "event_types": ["nope"]}, 422),
        ("post", "", {"url": "http://127.0.0.1:9/", "event_types": []}, 422),
        ("post", "", {"url": "http://127.0.0.1:9/"}, 422),
        ("post", "", {"event_types": TYPES}, 422),
        ("post", "", {"url": "http://127.0.0.1:9/", "event_types": TYPES, "x": 1}, 422),
        ("post", "", {"url": 5, "event_types": TYPES}, 422),
        ("post", "", {"url": "http://127.0.0.1:9/", "event_types": "movement.held"}, 422),
        ("patch", "/{id}", {}, 422),
        ("patch", "/{id}", {"status": "paused"}, 422),
        ("patch", "/{id}", {"secret": "mine"}, 422),
        ("get", "?limit=0", None, 422),
        ("get", "?limit=500", None, 422),
        ("get", "?status=gone", None, 422),
        ("get", "?cursor=forged", None, 422),
        ("get", "/{id}/deliveries?event_id=not-a-uuid", None, 422),
        ("get", "/{id}/deliveries?cursor=forged", None, 422),
        ("get", "/not-a-uuid", None, 404),
        ("post", "/{missing}/rotate-secret", None, 404),
        ("patch", "/{missing}", {"status": "active"}, 404),
        ("get", "/{missing}/deliveries", None, 404),
    ],
)
def test_bad_input_is_a_4xx_in_the_error_envelope(client, local, admin, method, path, body, status):
    _, headers = admin
    endpoint = _register(client, headers, "http://127.0.0.1:9/x")
    url = BASE + path.format(id=endpoint["id"], missing=uuid.uuid4())
    kwargs = {"headers": headers} | ({"json": body} if body is not None else {})
    response = getattr(client, method)(url, **kwargs)
    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert set(error) >= {"code", "message", "details", "request_id"}


def test_only_administrators_manage_webhooks(app, client, db_session, local, admin):
    _, headers = admin
    endpoint = _register(client, headers, "http://127.0.0.1:9/x")
    customer = auth_headers(app, make_user(db_session))
    for method, path in [
        ("get", ""),
        ("post", ""),
        ("get", f"/{endpoint['id']}"),
        ("patch", f"/{endpoint['id']}"),
        ("delete", f"/{endpoint['id']}"),
        ("post", f"/{endpoint['id']}/rotate-secret"),
        ("get", f"/{endpoint['id']}/deliveries"),
        ("post", f"/{endpoint['id']}/deliveries/{uuid.uuid4()}/redeliver"),
    ]:
        forbidden = getattr(client, method)(BASE + path, headers=customer)
        assert forbidden.status_code == 403, (method, path)
        assert forbidden.get_json()["error"]["code"] == "forbidden"
        assert getattr(client, method)(BASE + path).status_code == 401, (method, path)


def test_attempts_are_recorded_with_status_and_duration(app, local, receiver, admin, client):
    user, headers = admin
    _register(client, headers, receiver.url)
    receiver.answers = [503]
    _emit(app, 9400, user_id=user.id)
    _tick(app)
    with app.app_context():
        (attempt,) = db.session.scalars(
            sa.select(WebhookAttempt)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookAttempt.endpoint_id)
            .where(WebhookEndpoint.url == receiver.url)
        ).all()
        assert (attempt.attempt, attempt.status_code, attempt.error) == (1, 503, "HTTP 503")
        assert attempt.duration_ms >= 0
        db.session.remove()


def test_deleting_an_endpoint_waits_for_a_delivery_in_flight_without_a_deadlock(
    app, client, local, receiver, admin, monkeypatch
):
    monkeypatch.setitem(app.config, "WEBHOOK_MAX_AGE_SECONDS", 0)
    user, headers = admin
    created = _register(client, headers, receiver.url)
    receiver.answers = [500]  # a failed delivery also counts on the endpoint's row
    receiver.stall = threading.Event()
    receiver.stall.set()
    _emit(app, 9500, user_id=user.id)
    failures: list[BaseException] = []

    def deliver() -> None:
        try:
            with app.app_context():
                webhooks_delivery.fan_out(db.session())
                webhooks_delivery.deliver_due(db.session(), budget_seconds=10)
                db.session.remove()
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    answers: list[int] = []

    def delete() -> None:
        answers.append(client.delete(f"{BASE}/{created['id']}", headers=headers).status_code)

    delivering = threading.Thread(target=deliver)
    delivering.start()
    assert receiver.reached.wait(10)
    deleting = threading.Thread(target=delete)
    deleting.start()
    deleting.join(1.5)
    assert deleting.is_alive()  # it waits for the attempt in flight
    receiver.release.set()
    delivering.join(15)
    deleting.join(15)
    assert not failures and answers == [204]
    assert client.get(f"{BASE}/{created['id']}", headers=headers).status_code == 404


def _self_signed(tmp_path) -> tuple[str, str]:
    """A certificate for hooks.partner.test that no CA signed, and its key (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hooks.partner.test")])
    now = utcnow()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("hooks.partner.test")]), False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


def test_https_checks_the_certificate_of_the_host_name_at_the_pinned_address(monkeypatch, tmp_path):
    import ssl

    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    names: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    seen: list[str | None] = []

    def serve() -> None:
        raw, _ = listener.accept()
        try:
            with context.wrap_socket(raw, server_side=True) as tls:
                seen.append(tls.server_hostname)
        except (ssl.SSLError, OSError):
            seen.append("handshake refused by the client")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    _fake_dns(monkeypatch, {"hooks.partner.test": ["127.0.0.1"]})
    answer = webhooks_net.post(
        f"https://hooks.partner.test:{port}/hook",
        b"{}",
        {},
        timeout=5,
        allow=webhooks_net.parse_networks("127.0.0.1/32"),
    )
    thread.join(5)
    listener.close()
    # Reached at the checked address, with the host name for SNI; the unknown issuer refused.
    assert answer.status_code is None
    assert answer.error == "TLS error: SSLCertVerificationError"
    assert seen == ["handshake refused by the client"]
    assert names == ["hooks.partner.test"]


def test_committed_events_wake_the_webhook_job(app):
    """`flask webhooks listen`: a commit's message on the events channel queues the job."""
    from app.events.webhooks_wake import listen

    redis = app.extensions["flowlet_redis"]
    queue = Queue("default", connection=redis)
    _work(app)  # an empty queue to start from
    stop = threading.Event()
    queued: list[int] = []
    listener = threading.Thread(target=lambda: queued.append(listen(app, stop=stop)))
    listener.start()
    try:
        deadline = time.monotonic() + 5
        while redis.pubsub_numsub(events.CHANNEL)[0][1] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        with app.app_context():
            user_id = make_user(db.session).id
            db.session.remove()
        for _ in range(3):  # a burst of commits: one run, or a few on a slow machine
            _emit(app, 9600, user_id=user_id)
        deadline = time.monotonic() + 5
        while not queue.job_ids and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
    finally:
        stop.set()
        listener.join(5)
    jobs = [queue.fetch_job(job_id) for job_id in queue.job_ids]
    assert {job.func_name for job in jobs} == {"app.events.webhooks_tasks.deliver_webhooks"}
    assert 1 <= len(jobs) == queued[0] <= 3
    _work(app)


def test_finished_deliveries_are_purged_after_the_retention_and_pending_ones_kept(
    app, client, local, receiver, admin
):
    user, headers = admin
    created = _register(client, headers, receiver.url)
    receiver.secret = created["secret"]
    delivered = _emit(app, 9700, user_id=user.id)
    _tick(app)
    receiver.answers = [500]
    pending = _emit(app, 9701, user_id=user.id)
    _tick(app)
    assert _delivery(app, delivered).status == "delivered"
    assert _delivery(app, pending).status == "pending"
    old = utcnow() - timedelta(seconds=app.config["WEBHOOK_RETENTION_SECONDS"] + 60)
    _execute(
        app,
        sa.update(WebhookDelivery)
        .where(WebhookDelivery.event_public_id.in_([uuid.UUID(delivered), uuid.UUID(pending)]))
        .values(updated_at=old),
    )
    _tick(app)
    with app.app_context():
        left = db.session.scalars(
            sa.select(WebhookDelivery.event_public_id)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(WebhookEndpoint.public_id == uuid.UUID(created["id"]))
        ).all()
        db.session.remove()
    assert [str(e) for e in left] == [pending]
    items = client.get(f"{BASE}/{created['id']}/deliveries", headers=headers).get_json()["items"]
    assert {i["event_id"] for i in items} == {pending}
