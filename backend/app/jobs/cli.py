"""`flask scheduler`: the periodic jobs of every domain, on RQ's own cron scheduler.

The table is the app's `core.schedule`, each domain adding its entries from its `init_app`.
Run one on every host: the one holding the scheduler lease (`core.lease`) schedules, the
others stand by and take over within a few seconds of its death.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click
from flask import current_app
from flask.cli import with_appcontext

from app.core.extensions import db
from app.core.lease import SCHEDULER_LEASE, Lease
from app.core.queue import get_redis
from app.core.schedule import build_scheduler, run_leased, schedule_of


@click.command("scheduler")
@with_appcontext
@click.option("--list", "list_only", is_flag=True, help="Print the schedule and exit.")
def scheduler(list_only: bool) -> None:
    """Run the periodic jobs (RQ cron scheduler) while this process holds the lease."""
    entries = schedule_of(current_app).entries
    for entry in sorted(entries, key=lambda entry: entry.name):
        click.echo(f"{entry.name:<24} {entry.when:<22} {entry.queue:<14} {entry.func}")
    if list_only:
        return
    redis = get_redis()
    if redis is None:
        raise click.ClickException("REDIS_URL is not set: there is no queue to schedule onto")
    if db.engine.dialect.name != "postgresql":
        raise click.ClickException("the scheduler lease needs PostgreSQL (DATABASE_URL)")
    config = current_app.config
    instance = config["INSTANCE_ID"]
    lease = Lease(
        db.engine.url,
        key=SCHEDULER_LEASE,
        instance=instance,
        stale_after=config["SCHEDULER_LEASE_STALE_SECONDS"],
    )
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo(f"scheduler {instance}: standing by for the lease")
    cron = build_scheduler(entries, redis, name=instance)
    try:
        while not run_leased(
            cron, lease, renew_every=config["SCHEDULER_LEASE_RENEW_SECONDS"], stop=stop
        ):
            pass
    finally:
        lease.release()
