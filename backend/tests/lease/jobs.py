"""The job the lease tests schedule (module level, so RQ worker processes can import it)."""

from __future__ import annotations

import os
import time

from app.core.queue import get_redis, task

RUNS_KEY = "flowlet-test:lease-probe:runs"


@task
def lease_probe() -> None:
    """Note when this run happened and which worker ran it (the work horse's parent)."""
    get_redis().rpush(RUNS_KEY, f"{time.time():.3f} {os.getppid()}")
