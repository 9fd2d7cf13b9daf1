"""`flask worker` as operators run it: a real worker process, killed with SIGKILL mid-job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from rq import Queue
from rq.job import Job

from app import create_app
from app.core import uow
from app.core.audit import AuditLog
from app.core.extensions import db
from app.core.outbox import DONE, FAILED, JobOutbox
from app.core.queue import enqueue
from tests.conftest import make_config
from tests.core.test_queue import record_probe
from tests.outbox.jobs import failing_probe, slow_probe

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

BACKEND = Path(__file__).resolve().parents[2]


def _start_worker(pg_url: str, redis_url: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "FLOWLET_ENV": "testing",
        "DATABASE_URL": pg_url,
        "REDIS_URL": redis_url,
        "WORKER_HEARTBEAT_SECONDS": "1",
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "flask"), "--app", "main", "worker"],
        cwd=BACKEND,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the work horse dies with it
    )


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_a_job_abandoned_by_a_killed_worker_runs_again_within_a_minute(
    pg_url, outage_app, private_redis
):
    app = outage_app
    redis = app.extensions["flowlet_redis"]
    marker = uuid.uuid4().hex
    with app.app_context():
        job_id = enqueue(db.session, slow_probe, marker, 120, retry=2)
        uow.commit(db.session)
        db.session.remove()
    worker = _start_worker(pg_url, private_redis.url)
    try:
        assert _wait(lambda: redis.get(f"flowlet-test:starts:{marker}") == b"1", 30)
        # The worker and its work horse (RQ puts the horse in a process group of its own).
        os.killpg(worker.pid, signal.SIGKILL)
        os.kill(int(redis.get(f"flowlet-test:pid:{marker}:1")), signal.SIGKILL)
        worker.wait(timeout=10)
        killed_at = time.monotonic()
        worker = _start_worker(pg_url, private_redis.url)
        job = Job.fetch(job_id, connection=redis)
        assert _wait(lambda: job.get_status(refresh=True) == "finished", 60)
        assert time.monotonic() - killed_at < 60
        assert job.return_value() == 2  # it started twice, and finished once
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    with app.app_context():
        done = db.session.scalars(
            sa.select(AuditLog).where(
                AuditLog.action == "probe.slow_job", AuditLog.resource_id == marker
            )
        ).all()
        assert len(done) == 1
        db.session.remove()


def test_the_worker_relays_rows_left_pending_while_redis_was_down(
    pg_url, outage_app, private_redis
):
    app = outage_app
    marker = uuid.uuid4().hex
    private_redis.stop()
    with app.app_context():
        job_id = enqueue(db.session, slow_probe, marker, 0)
        uow.commit(db.session)
        db.session.remove()
    private_redis.start()
    worker = _start_worker(pg_url, private_redis.url)
    try:
        job_done = lambda: (  # noqa: E731
            Job.exists(job_id, connection=app.extensions["flowlet_redis"])
            and Job.fetch(job_id, connection=app.extensions["flowlet_redis"]).get_status()
            == "finished"
        )
        # The row is due 5 s after its commit (the request's own push had that long).
        assert _wait(job_done, 30)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    assert Queue("default", connection=app.extensions["flowlet_redis"]).count == 0


def test_inline_jobs_run_after_commit_and_a_failure_never_reaches_the_caller(pg_url):
    inline_app = create_app(make_config(pg_url))
    marker = uuid.uuid4().hex
    with inline_app.app_context():
        failing_id = enqueue(db.session, failing_probe, marker)
        ok_id = enqueue(db.session, record_probe, marker)
        uow.commit(db.session)  # the failing job does not raise here
        db.session.expire_all()
        assert db.session.get(JobOutbox, ok_id).status == DONE
        failed = db.session.get(JobOutbox, failing_id)
        assert failed.status == FAILED and "RuntimeError" in failed.last_error
        db.session.remove()
        db.engine.dispose()
