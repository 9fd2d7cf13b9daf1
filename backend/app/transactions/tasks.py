"""Background jobs of the transactions domain (ids only; each calls one service)."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from flask import current_app
from rq import Queue, Retry
from rq.registry import ScheduledJobRegistry

from app.core import idempotency, uow
from app.core.extensions import db
from app.core.queue import enqueue, get_queue, task
from app.ledger import engine
from app.ledger.models import JournalTransaction, TxnStatus
from app.transactions.settlement import settle_external_transfer as settle

log = logging.getLogger("flowlet.transactions")


def enqueue_when_pending(ctx: engine.PolicyContext, txn: JournalTransaction) -> None:
    """An engine observer: an external transfer that is now `pending` goes to settlement."""
    if txn.status != TxnStatus.PENDING or txn.counterparty_iban is None:
        return
    if ctx.event not in ("held", "approved"):
        return
    ctx.session.flush()
    enqueue(
        ctx.session,
        settle_external_transfer,
        txn.id,
        queue="default",
        retry=Retry(max=3, interval=[10, 60, 300]),
        owner_id=txn.initiated_by_id,
    )


@task
def settle_external_transfer(transaction_id: int) -> str | None:
    """Post a pending external transfer to the settlement account (reversed if refused)."""
    try:
        txn = settle(db.session(), transaction_id=transaction_id)
        return txn.status if txn is not None else None
    finally:
        db.session.remove()


PURGE_JOB_PREFIX = "flowlet-purge-idempotency-keys-"


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
        schedule_idempotency_purge(get_queue("maintenance"))
    return count


def schedule_idempotency_purge(queue: Queue) -> str | None:
    """Book the next purge run unless one is already booked; returns its job id.

    Called when a worker starts and by the purge job itself; the interval is
    `IDEMPOTENCY_PURGE_INTERVAL_SECONDS` (0 turns the self-scheduling off).
    """
    interval = int(current_app.config["IDEMPOTENCY_PURGE_INTERVAL_SECONDS"])
    if interval <= 0:
        return None
    # rq leaves the registry's __init__ unannotated (an error only under disallow_untyped_calls).
    registry = ScheduledJobRegistry(queue=queue)  # type: ignore[no-untyped-call, unused-ignore]
    booked = [j for j in registry.get_job_ids() if j.startswith(PURGE_JOB_PREFIX)]
    if booked:
        return booked[0]
    job_id = f"{PURGE_JOB_PREFIX}{time.time_ns()}"
    queue.enqueue_in(
        timedelta(seconds=interval), purge_idempotency_keys, reschedule=True, job_id=job_id
    )
    return job_id
