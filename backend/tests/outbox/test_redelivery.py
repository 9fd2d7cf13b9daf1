"""At-least-once delivery (issue 21): a row is done only in its job's own transaction, a row
not done in time is pushed again whatever Redis says, and a job run twice has one effect."""

from __future__ import annotations

import os
import signal
import uuid

import pytest
import sqlalchemy as sa
from rq import Queue, SimpleWorker

from app.core import uow
from app.core.audit import AuditLog
from app.core.extensions import db
from app.core.outbox import DONE, SENT, JobOutbox, push
from app.core.queue import enqueue
from app.worker import run_maintenance_round
from tests.core.test_queue import record_probe
from tests.outbox.jobs import effect_then_raise, slow_probe
from tests.outbox.test_worker import _start_worker, _wait

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

QUEUES = ["default", "sync", "notifications", "maintenance"]


def _queues(app) -> list[Queue]:
    return [Queue(q, connection=app.extensions["flowlet_redis"]) for q in QUEUES]


def _work(app) -> None:
    with app.app_context():
        redis = app.extensions["flowlet_redis"]
        SimpleWorker(_queues(app), connection=redis).work(burst=True)


def _enqueue(app, func, *args, **options) -> str:
    """Decide a job in a committed transaction; Redis is up, so it is pushed at once."""
    with app.app_context():
        job_id = enqueue(db.session, func, *args, **options)
        uow.commit(db.session)
        db.session.remove()
    return job_id


def _row(app, job_id: str) -> JobOutbox:
    with app.app_context():
        row = db.session.get(JobOutbox, job_id)
        db.session.expunge_all()
        db.session.remove()
        return row


def _effects(app, marker: str, action: str = "probe.job") -> int:
    with app.app_context():
        count = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditLog)
            .where(AuditLog.action == action, AuditLog.resource_id == marker)
        )
        db.session.remove()
        return int(count)


def _age(app, job_id: str, seconds: int) -> None:
    """Move a row's clock back (it was handed to RQ and decided `seconds` ago)."""
    with app.app_context():
        db.session.execute(
            sa.update(JobOutbox)
            .where(JobOutbox.id == job_id)
            .values(
                sent_at=sa.func.now() - sa.func.make_interval(0, 0, 0, 0, 0, 0, seconds),
                created_at=sa.func.now() - sa.func.make_interval(0, 0, 0, 0, 0, 0, seconds),
            )
        )
        uow.commit(db.session)
        db.session.remove()


def test_a_job_dequeued_by_a_worker_that_died_is_redelivered_with_one_effect(outage_app):
    app = outage_app
    redis = app.extensions["flowlet_redis"]
    marker = uuid.uuid4().hex
    job_id = _enqueue(app, record_probe, marker)
    assert _row(app, job_id).status == SENT
    # A worker takes the job (the very call RQ's worker makes on its queues), then dies.
    job, _ = Queue.dequeue_any(_queues(app), None, connection=redis)
    assert job.id == job_id
    assert all(q.count == 0 for q in _queues(app))
    assert job.get_status(refresh=True) == "queued"  # the hash lies: it is in no queue
    run_maintenance_round(app, QUEUES)
    assert _row(app, job_id).status == SENT  # not yet: it was handed over a moment ago
    _age(app, job_id, app.config["OUTBOX_REDELIVER_AFTER_SECONDS"] + 1)
    run_maintenance_round(app, QUEUES)
    row = _row(app, job_id)
    assert row.status == SENT and row.attempts == 1 and "pushed again" in row.last_error
    # Pushed again once (the sweep may push other tests' old rows beside it).
    assert Queue("default", connection=redis).job_ids.count(job_id) == 1
    _work(app)
    assert _row(app, job_id).status == DONE
    assert _effects(app, marker) == 1


def test_a_job_still_queued_is_not_pushed_again(outage_app):
    app = outage_app
    job_id = _enqueue(app, record_probe, uuid.uuid4().hex)
    _age(app, job_id, app.config["OUTBOX_REDELIVER_AFTER_SECONDS"] + 1)
    run_maintenance_round(app, QUEUES)
    assert _row(app, job_id).attempts == 0
    # Once in its queue (other tests' jobs may wait there too).
    assert Queue("default", connection=app.extensions["flowlet_redis"]).job_ids.count(job_id) == 1
    _work(app)


def test_a_job_run_twice_has_one_effect(outage_app):
    app = outage_app
    redis = app.extensions["flowlet_redis"]
    marker = uuid.uuid4().hex
    job_id = _enqueue(app, record_probe, marker)
    _work(app)
    assert _row(app, job_id).status == DONE
    with app.app_context():
        push(redis, db.session.get(JobOutbox, job_id), again=True)  # delivered a second time
        db.session.remove()
    _work(app)
    assert Queue("default", connection=redis).fetch_job(job_id).return_value() is None
    assert _effects(app, marker) == 1


def test_a_run_beside_a_live_one_waits_for_it_and_does_nothing(pg_url, outage_app, private_redis):
    """The worker dies, its work horse (a process group of its own) lives on: RQ runs the job
    again while the first run has not committed. The second waits on the row and skips."""
    app = outage_app
    redis = app.extensions["flowlet_redis"]
    marker = uuid.uuid4().hex
    job_id = _enqueue(app, slow_probe, marker, 8, retry=2)
    worker = _start_worker(pg_url, private_redis.url)
    try:
        assert _wait(lambda: redis.get(f"flowlet-test:starts:{marker}") == b"1", 30)
        os.killpg(worker.pid, signal.SIGKILL)  # the worker only: the horse goes on
        worker.wait(timeout=10)
        worker = _start_worker(pg_url, private_redis.url)
        job = Queue("default", connection=redis).fetch_job(job_id)
        # Two executions: the horse's, and RQ's retry once the dead worker's heartbeat lapsed.
        assert _wait(lambda: len(job.results()) == 2, 40)
        assert {r.return_value for r in job.results()} == {1, None}
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    assert redis.get(f"flowlet-test:starts:{marker}") == b"1"  # the second did not start it
    assert _row(app, job_id).status == DONE
    assert _effects(app, marker, "probe.slow_job") == 1


def test_the_row_is_done_in_the_transaction_of_the_job_s_effect(outage_app):
    app = outage_app
    marker = uuid.uuid4().hex
    job_id = _enqueue(app, record_probe, marker)
    _work(app)
    with app.app_context():
        row_xmin = db.session.scalar(
            sa.text("SELECT xmin::text FROM job_outbox WHERE id = :id"), {"id": job_id}
        )
        effect_xmin = db.session.scalar(
            sa.text(
                "SELECT xmin::text FROM audit_log WHERE action = 'probe.job' AND resource_id = :m"
            ),
            {"m": marker},
        )
        db.session.remove()
    assert row_xmin == effect_xmin  # written by the same transaction


def test_a_job_that_raises_before_its_commit_leaves_its_row_not_done(outage_app):
    app = outage_app
    marker = uuid.uuid4().hex
    job_id = _enqueue(app, effect_then_raise, marker, retry=0)
    _work(app)
    assert (
        Queue("default", connection=app.extensions["flowlet_redis"]).fetch_job(job_id).get_status()
        == "failed"
    )
    assert _row(app, job_id).status == SENT
    assert _effects(app, marker) == 0


def test_health_is_degraded_with_an_old_undone_job_and_ok_once_it_is_done(outage_app):
    app, client = outage_app, outage_app.test_client()
    with app.app_context():  # rows other tests of this database left undone are not ours
        db.session.execute(
            sa.update(JobOutbox)
            .where(JobOutbox.status.in_(["pending", "sent"]))
            .values(status="failed")
        )
        uow.commit(db.session)
        db.session.remove()
    job_id = _enqueue(app, record_probe, uuid.uuid4().hex)
    alert = app.config["OUTBOX_UNDONE_ALERT_SECONDS"]
    response = client.get("/health/detailed")
    assert response.status_code == 200 and response.json["status"] == "ok"
    _age(app, job_id, alert + 60)
    response = client.get("/health/detailed")
    outbox = response.json["components"]["outbox"]
    assert response.status_code == 200 and response.json["status"] == "degraded"
    assert outbox["status"] == "degraded" and outbox["undone"] == 1
    assert outbox["oldest_undone_age_seconds"] >= alert + 60
    text = client.get("/metrics").get_data(as_text=True)
    (line,) = [
        x for x in text.splitlines() if x.startswith("flowlet_outbox_oldest_undone_age_seconds ")
    ]
    assert float(line.split()[1]) >= alert + 60
    _work(app)
    response = client.get("/health/detailed")
    assert response.status_code == 200 and response.json["status"] == "ok"
    assert response.json["components"]["outbox"]["oldest_undone_age_seconds"] == 0
