"""Job functions for the worker tests (module level, so a worker process can import them)."""

from __future__ import annotations

import os
import time

from app.core import audit, uow
from app.core.extensions import db
from app.core.queue import get_redis, task


@task
def slow_probe(marker: str, seconds: float) -> int:
    """Count the start in Redis, sleep, then leave an audit record; returns the start count."""
    starts = int(get_redis().incr(f"flowlet-test:starts:{marker}"))
    get_redis().set(f"flowlet-test:pid:{marker}:{starts}", os.getpid())  # the work horse
    time.sleep(seconds if starts == 1 else 0)
    audit.record(db.session, "probe.slow_job", resource_type="probe", resource_id=marker)
    uow.commit(db.session)
    return starts


@task
def failing_probe(marker: str) -> None:
    raise RuntimeError(f"probe {marker} fails")


@task
def effect_then_raise(marker: str) -> None:
    """Stage an audit record (the job's effect), then fail before committing it."""
    audit.record(db.session, "probe.job", resource_type="probe", resource_id=marker)
    raise RuntimeError(f"probe {marker} fails before its commit")
