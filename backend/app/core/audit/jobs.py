"""The audit sealer as a periodic job: every worker on the `maintenance` queue books it when it
starts (`init_app` adds the booking to the schedule), and each run books the next."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from flask import Flask, current_app
from rq import Queue
from rq.registry import ScheduledJobRegistry

from app.core import audit
from app.core.extensions import db
from app.core.queue import get_redis, task
from app.core.schedule import Booking, schedule_of

log = logging.getLogger("flowlet.audit")

SEAL_JOB_PREFIX = "flowlet-audit-seal-"
SEAL_QUEUE = "maintenance"


def init_app(app: Flask) -> None:
    """The booking every maintenance worker makes when it starts."""
    schedule_of(app).add_booking(Booking("audit-seal", SEAL_QUEUE, schedule_audit_seal))


@task
def seal_audit_chain(reschedule: bool = False) -> int:
    """Chain the audit records committed since the last run; books the next run when asked."""
    try:
        # Keep at it for a moment while records wait behind a transaction still running.
        count = audit.seal(db.engine, settle_seconds=1.0)
    finally:
        if reschedule:
            redis = get_redis()
            if redis is not None:
                schedule_audit_seal(Queue(SEAL_QUEUE, connection=redis))
    if count:
        log.info("sealed %d audit records", count)
    return count


def schedule_audit_seal(queue: Queue) -> str | None:
    """Book the next sealer run unless one is booked; returns its job id.

    Called when a worker starts and by the job itself; the interval is
    `AUDIT_SEAL_INTERVAL_SECONDS` (0 turns the self-scheduling off).
    """
    interval = float(current_app.config["AUDIT_SEAL_INTERVAL_SECONDS"])
    if interval <= 0:
        return None
    # A running job is no longer in it. (rq leaves `ScheduledJobRegistry()` unannotated; the
    # queue's property builds the same registry.)
    registry: ScheduledJobRegistry = queue.scheduled_job_registry
    booked = [j for j in registry.get_job_ids() if j.startswith(SEAL_JOB_PREFIX)]
    if booked:
        return booked[0]
    job_id = f"{SEAL_JOB_PREFIX}{time.time_ns()}"
    queue.enqueue_in(
        timedelta(seconds=interval),
        seal_audit_chain,
        reschedule=True,
        job_id=job_id,
        result_ttl=0,
        failure_ttl=3600,
    )
    return job_id
