"""RQ worker entry: one app, a fresh app context (and database session) per job."""

from __future__ import annotations

from flask import current_app
from rq import Queue, SimpleWorker


def run_worker(queue_names: list[str], *, burst: bool = False) -> None:
    """Work the queues in this process; each job pushes its own app context (core.queue.task)."""
    from app.core.queue import get_redis

    redis = get_redis()
    if redis is None:
        raise SystemExit("REDIS_URL is not set: jobs run inline, there is no queue to work")
    queues = [Queue(name, connection=redis) for name in queue_names]
    if "low" in queue_names:
        from app.transactions.tasks import schedule_idempotency_purge

        schedule_idempotency_purge(Queue("low", connection=redis))
    if "maintenance" in queue_names:
        from app.compliance.audit_tasks import schedule_audit_seal

        schedule_audit_seal(Queue("maintenance", connection=redis))
    current_app.logger.info("worker starting on %s", ", ".join(queue_names))
    SimpleWorker(queues, connection=redis).work(burst=burst, with_scheduler=True)
