"""Operator commands: `flask rates fetch` (registered by `app.wealth.init_app`)."""

from __future__ import annotations

from datetime import date

import click
from flask.cli import AppGroup

from app.core.db import utcnow
from app.core.extensions import db
from app.wealth import rates

rates_cli = AppGroup("rates", help="Exchange rates.")


@rates_cli.command("fetch")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Day to load (today).")
@click.option("--backfill", is_flag=True, help="Load every published day from --start to --end.")
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), help="First day of a backfill.")
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), help="Last day of a backfill (today).")
def rates_fetch(day, backfill: bool, start, end) -> None:
    """Load exchange rates from EXCHANGE_RATES_URL (one day, or a range with --backfill)."""
    session = db.session()
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
