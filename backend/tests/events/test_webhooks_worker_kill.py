"""A `flask worker` killed with SIGKILL while the receiver holds its POST: the delivery is due
again at once, the next run delivers it, and the receiver (the doc's snippet) dedupes by the
event id."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import create_app
from app.core import events, uow
from app.core.extensions import db
from app.core.queue import enqueue
from app.events import webhooks
from app.events.webhooks_models import WebhookAttempt, WebhookDelivery
from app.events.webhooks_tasks import deliver_webhooks
from tests.conftest import make_config
from tests.events.webhook_receiver import Receiver
from tests.factories import make_user
from tests.outbox.servers import PrivateRedis

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

BACKEND = Path(__file__).resolve().parents[2]
SETTINGS = {"WEBHOOK_ALLOW_PRIVATE_NETWORKS": "127.0.0.1/32", "WEBHOOK_TIMEOUT_SECONDS": "60"}


@pytest.fixture
def private_redis():
    server = PrivateRedis()
    server.start()
    yield server
    server.close()


@pytest.fixture
def kill_app(pg_url, private_redis):
    application = create_app(
        make_config(
            pg_url,
            private_redis.url,
            WEBHOOK_ALLOW_PRIVATE_NETWORKS="127.0.0.1/32",
            WEBHOOK_TIMEOUT_SECONDS=60,
        )
    )
    yield application
    with application.app_context():
        db.session.execute(sa.text("DELETE FROM webhook_endpoints"))
        uow.commit(db.session)
        db.session.remove()
        db.engine.dispose()


def _worker(pg_url: str, redis_url: str) -> subprocess.Popen:
    env = {
        **os.environ,
        **SETTINGS,
        "FLOWLET_ENV": "testing",
        "DATABASE_URL": pg_url,
        "REDIS_URL": redis_url,
        "WORKER_HEARTBEAT_SECONDS": "1",
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("flask")), "--app", "main", "worker", "-q", "default"],
        cwd=BACKEND,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _children(pid: int) -> list[int]:
    """The processes `pid` forked (RQ's work horse has a process group of its own)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _kill(worker: subprocess.Popen) -> None:
    horses = _children(worker.pid)
    os.killpg(worker.pid, signal.SIGKILL)
    for horse in horses:
        with contextlib.suppress(ProcessLookupError):
            os.kill(horse, signal.SIGKILL)
    worker.wait(timeout=10)


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _run_job(app) -> None:
    """Queue the webhook job as the scheduler would, through the outbox."""
    with app.app_context():
        enqueue(db.session, deliver_webhooks)
        uow.commit(db.session)
        db.session.remove()


def _delivery(app, event_id: str, *, skip_locked: bool = False) -> WebhookDelivery | None:
    with app.app_context():
        stmt = sa.select(WebhookDelivery).where(
            WebhookDelivery.event_public_id == uuid.UUID(event_id)
        )
        if skip_locked:
            stmt = stmt.with_for_update(skip_locked=True)
        row = db.session.scalars(stmt).first()
        if row is not None:
            db.session.expunge(row)
        db.session.rollback()
        db.session.remove()
        return row


def test_a_worker_killed_mid_delivery_delivers_again_and_the_receiver_dedupes(
    pg_url, private_redis, kill_app
):
    app = kill_app
    receiver = Receiver().start()
    receiver.stall = threading.Event()
    receiver.stall.set()
    workers: list[subprocess.Popen] = []
    try:
        with app.app_context():
            admin = make_user(db.session, role="admin")
            created = webhooks.create_endpoint(
                db.session, actor=admin, url=receiver.url, event_types=["movement.completed"]
            )
            receiver.secret = created.secret
            event_id = str(
                events.emit(db.session, "movement.completed", {"n": 1}, user_id=admin.id)
            )
            uow.commit(db.session)
            db.session.remove()

        _run_job(app)
        workers.append(_worker(pg_url, private_redis.url))
        assert receiver.reached.wait(60), "the worker never reached the receiver"
        # Mid-POST: nothing committed, the row held by the worker's transaction.
        pending = _delivery(app, event_id)
        assert pending is not None and (pending.status, pending.attempts) == ("pending", 0)
        assert _delivery(app, event_id, skip_locked=True) is None

        _kill(workers.pop())
        # The database drops the dead worker's transaction and its lock with the connection.
        assert _wait(lambda: _delivery(app, event_id, skip_locked=True) is not None, 15)

        workers.append(_worker(pg_url, private_redis.url))
        _run_job(app)  # the next periodic run
        assert _wait(lambda: _delivery(app, event_id).status == "delivered", 60)
    finally:
        receiver.release.set()
        for worker in workers:
            _kill(worker)
        receiver.close()

    # The receiver saw the event twice and handled it once.
    assert receiver.events_of() == [event_id, event_id]
    assert receiver.processed == [event_id]
    delivered = _delivery(app, event_id)
    assert delivered.attempts == 1 and delivered.last_status_code == 200
    with app.app_context():
        attempts = db.session.scalars(
            sa.select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivered.id)
        ).all()
        assert [(a.attempt, a.status_code) for a in attempts] == [(1, 200)]
        db.session.remove()
