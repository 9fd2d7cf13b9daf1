"""The workers seal the audit chain on their own: a job on the `maintenance` queue books itself."""

import pytest
import sqlalchemy as sa
from rq import Queue
from rq.registry import ScheduledJobRegistry

from app.core import audit, uow
from app.core.audit import AuditLog
from app.core.audit.jobs import SEAL_JOB_PREFIX, schedule_audit_seal, seal_audit_chain

pytestmark = pytest.mark.postgres


def test_sealer_job_chains_committed_records_and_books_its_next_run(app, db_session, run_jobs):
    audit.record(db_session, "probe.sealer", resource_id="job-1")
    uow.commit(db_session)
    record = db_session.scalars(sa.select(AuditLog).where(AuditLog.resource_id == "job-1")).one()
    assert record.seal is None

    with app.app_context():
        queue = Queue("maintenance", connection=app.extensions["flowlet_redis"])
        registry = ScheduledJobRegistry(queue=queue)
        for job_id in registry.get_job_ids():
            registry.remove(job_id, delete_job=True)
        queue.enqueue(seal_audit_chain, reschedule=True)
    run_jobs(queues=("maintenance",))

    db_session.expire_all()
    record = db_session.get(AuditLog, record.id)
    assert record.seal is not None
    with app.app_context():
        booked = [j for j in registry.get_job_ids() if j.startswith(SEAL_JOB_PREFIX)]
        assert len(booked) == 1
        # A worker starting again finds the booking and does not add a second one.
        assert schedule_audit_seal(queue) == booked[0]
        for job_id in registry.get_job_ids():
            registry.remove(job_id, delete_job=True)


def test_a_run_booked_under_the_old_job_path_still_seals(app, db_session, run_jobs):
    """Runs booked before the sealer left `app.compliance` name their old dotted path."""
    audit.record(db_session, "probe.sealer", resource_id="job-old-path")
    uow.commit(db_session)
    with app.app_context():
        queue = Queue("maintenance", connection=app.extensions["flowlet_redis"])
        job = queue.enqueue("app.compliance.audit_tasks.seal_audit_chain")
    run_jobs(queues=("maintenance",))

    assert job.func_name == "app.compliance.audit_tasks.seal_audit_chain"
    record = db_session.scalars(
        sa.select(AuditLog).where(AuditLog.resource_id == "job-old-path")
    ).one()
    assert record.seal is not None
