"""`flask scheduler`: the periodic jobs of every domain, on RQ's own cron scheduler.

The table is the app's `core.schedule`, each domain adding its entries from its `init_app`.
"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from app.core.queue import get_redis
from app.core.schedule import build_scheduler, live_schedulers, schedule_of


@click.command("scheduler")
@with_appcontext
@click.option("--list", "list_only", is_flag=True, help="Print the schedule and exit.")
def scheduler(list_only: bool) -> None:
    """Run the periodic jobs (RQ cron scheduler); run exactly one per deployment."""
    entries = schedule_of(current_app).entries
    for entry in sorted(entries, key=lambda entry: entry.name):
        click.echo(f"{entry.name:<24} {entry.when:<22} {entry.queue:<14} {entry.func}")
    if list_only:
        return
    redis = get_redis()
    if redis is None:
        raise click.ClickException("REDIS_URL is not set: there is no queue to schedule onto")
    running = live_schedulers(redis)
    if running:
        raise click.ClickException(f"a scheduler is already running: {', '.join(running)}")
    build_scheduler(entries, redis).start()
