"""The idempotency-key purge as a periodic job (keys are a core matter: `core.idempotency`).

It runs twice over: hourly from the cron table (`flask scheduler`), and booked by the workers
themselves (`IDEMPOTENCY_PURGE_INTERVAL_SECONDS`), so a deployment without the scheduler still
purges. `flask ledger purge-idempotency-keys` does the same by hand.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from flask import Flask, current_app
from rq import Queue

from app.core import idempotency, uow
from app.core.extensions import db
from app.core.queue import get_queue, task
from app.core.schedule import Booking, Entry, schedule_of

log = logging.getLogger("flowlet.idempotency")

PURGE_JOB_PREFIX = "flowlet-purge-idempotency-keys-"
PURGE_QUEUE = "maintenance"


def init_app(app: Flask) -> None:
    """The hourly cron entry, and the booking every maintenance worker makes when it starts."""
    schedule = schedule_of(app)
    schedule.add(
        Entry(
            "idempotency-key-purge",
            "app.core.idempotency_purge.purge_idempotency_keys",
            PURGE_QUEUE,
            interval=3600,
        )
    )
    schedule.add_booking(Booking("idempotency-key-purge", PURGE_QUEUE, schedule_idempotency_purge))


@task
def purge_idempotency_keys(reschedule: bool = False) -> int:
    """Delete idempotency keys older than their retention (24 h by default).

    With `reschedule`, the job books its next run, so the workers keep purging on their own.
    """
    try:
        count = idempotency.purge_expired(db.session())
        uow.commit(db.session())
        log.info("purged %d expired idempotency keys", count)
    finally:
        db.session.remove()
    if reschedule:
        schedule_idempotency_purge(get_queue(PURGE_QUEUE))
    return count


def schedule_idempotency_purge(queue: Queue) -> str | None:
    """Book the next purge run unless one is already booked; returns its job id.

    Called when a worker starts and by the purge job itself; the interval is
    `IDEMPOTENCY_PURGE_INTERVAL_SECONDS` (0 turns the self-scheduling off).
    """
    interval = int(current_app.config["IDEMPOTENCY_PURGE_INTERVAL_SECONDS"])
    if interval <= 0:
        return None
    registry = queue.scheduled_job_registry  # a running job is no longer in it
    booked = [str(j) for j in registry.get_job_ids() if str(j).startswith(PURGE_JOB_PREFIX)]
    if booked:
        return booked[0]
    job_id = f"{PURGE_JOB_PREFIX}{time.time_ns()}"
    queue.enqueue_in(
        timedelta(seconds=interval), purge_idempotency_keys, reschedule=True, job_id=job_id
    )
    return job_id
