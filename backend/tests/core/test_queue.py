"""Jobs are sent only after the commit, run by a real RQ worker on real Redis."""

import uuid

import pytest
import sqlalchemy as sa
from rq import Queue

from app import create_app
from app.core import audit, uow
from app.core.audit import AuditLog
from app.core.extensions import db
from app.core.queue import enqueue, task
from tests.conftest import make_config

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@task
def record_probe(marker: str) -> str:
    """A job that leaves an audit record, so the test can see it ran (and as whom)."""
    audit.record(db.session, "probe.job", resource_type="probe", resource_id=marker)
    uow.commit(db.session)
    return marker


def _records(session, marker):
    return session.scalars(
        sa.select(AuditLog).where(AuditLog.action == "probe.job", AuditLog.resource_id == marker)
    ).all()


def test_job_is_enqueued_after_commit_and_run_by_a_worker(app, db_session, run_jobs):
    marker = uuid.uuid4().hex
    queue = Queue("default", connection=app.extensions["flowlet_redis"])
    with app.app_context():
        job_id = enqueue(db.session, record_probe, marker)
        assert queue.fetch_job(job_id) is None  # nothing is sent before the commit
        uow.commit(db.session)
        assert queue.fetch_job(job_id) is not None
        db.session.remove()
    run_jobs()
    job = queue.fetch_job(job_id)
    assert job.get_status() == "finished"
    assert job.return_value() == marker
    (entry,) = _records(db_session, marker)
    assert entry.actor_role == "system"


def test_rolled_back_unit_of_work_sends_no_job(app, db_session, run_jobs):
    marker = uuid.uuid4().hex
    queue = Queue("default", connection=app.extensions["flowlet_redis"])
    with app.app_context():
        job_id = enqueue(db.session, record_probe, marker)
        db.session.rollback()
        uow.commit(db.session)
        db.session.remove()
    assert queue.fetch_job(job_id) is None
    run_jobs()
    assert _records(db_session, marker) == []


def test_without_redis_jobs_run_inline_after_commit(pg_url, db_session):
    inline_app = create_app(make_config(pg_url))
    assert inline_app.config["RQ_INLINE"] is True
    marker = uuid.uuid4().hex
    with inline_app.app_context():
        enqueue(db.session, record_probe, marker)
        assert _records(db.session, marker) == []
        uow.commit(db.session)
        db.session.remove()
        db.engine.dispose()
    db_session.expire_all()
    assert len(_records(db_session, marker)) == 1


def _sample(client, name: str) -> float:
    """The value of one Prometheus sample in /metrics (0 when it is not there yet)."""
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_job_outcomes_are_counted_in_metrics(app, client, run_jobs):
    sample = 'flowlet_jobs_total{job="record_probe",outcome="finished"}'
    before = _sample(client, sample)
    with app.app_context():
        enqueue(db.session, record_probe, uuid.uuid4().hex)
        uow.commit(db.session)
        db.session.remove()
    run_jobs()
    assert _sample(client, sample) == before + 1
