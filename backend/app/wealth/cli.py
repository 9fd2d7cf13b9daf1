"""Operator commands: `flask rates fetch` and `flask scheduler`."""

from __future__ import annotations

from datetime import date

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

rates_cli = AppGroup("rates", help="Exchange rates.")


def _session():
    from app.core.extensions import db

    return db.session


@rates_cli.command("fetch")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Day to load (today).")
@click.option("--backfill", is_flag=True, help="Load every published day from --start to --end.")
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), help="First day of a backfill.")
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), help="Last day of a backfill (today).")
def rates_fetch(day, backfill: bool, start, end) -> None:
    """Load exchange rates from EXCHANGE_RATES_URL (one day, or a range with --backfill)."""
    from app.core.db import utcnow
    from app.wealth import rates

    session = _session()
    today = utcnow().date()
    try:
        if backfill:
            if start is None:
                raise click.UsageError("--backfill needs --start")
            first: date = start.date()
            last: date = end.date() if end else today
            if first > last:
                raise click.UsageError("--start is after --end")
            days = (last - first).days + 1
            with click.progressbar(length=days, label="Loading rates", show_pos=True) as bar:
                count = rates.backfill(session, start=first, end=last, progress=bar.update)
            click.echo(f"stored {count} rates for {first.isoformat()}..{last.isoformat()}")
            return
        if start or end:
            raise click.UsageError("--start/--end need --backfill")
        wanted = day.date() if day else today
        published, count = rates.fetch_day(session, day=wanted)
        note = "" if published == wanted else f" (published for {published.isoformat()})"
        click.echo(f"stored {count} rates for {wanted.isoformat()}{note}")
    except rates.RatesServiceError as exc:
        raise click.ClickException(str(exc)) from exc


@click.command("scheduler")
@with_appcontext
@click.option("--list", "list_only", is_flag=True, help="Print the schedule and exit.")
def scheduler(list_only: bool) -> None:
    """Run the periodic jobs (RQ cron scheduler); run exactly one per deployment."""
    from app.core.queue import get_redis
    from app.wealth.schedule import SCHEDULE, build_scheduler, live_schedulers

    for entry in SCHEDULE:
        click.echo(f"{entry.name:<24} {entry.when:<22} {entry.queue:<14} {entry.func}")
    if list_only:
        return
    redis = get_redis()
    if redis is None:
        raise click.ClickException("REDIS_URL is not set: there is no queue to schedule onto")
    running = live_schedulers(redis)
    if running:
        raise click.ClickException(f"a scheduler is already running: {', '.join(running)}")
    build_scheduler(redis).start()


def register(app: Flask) -> None:
    app.cli.add_command(rates_cli)
    app.cli.add_command(scheduler)
