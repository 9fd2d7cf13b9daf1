"""`flask sanctions load FILE | status` and `flask aml run --days N`."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta

import click
from flask.cli import AppGroup

from app.compliance.list_file import ListFileInvalid
from app.compliance.sanctions import active_list, load_list
from app.compliance.tasks import QUEUE, run_aml_batch
from app.core import uow
from app.core.extensions import db
from app.core.queue import enqueue

sanctions_cli = AppGroup("sanctions", help="The sanctions list used for screening.")
aml_cli = AppGroup("aml", help="AML transaction monitoring.")


@sanctions_cli.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def load(path: str) -> None:
    """Load a list in the OFAC SDN CSV layout; replaces the active list atomically."""
    with open(path, encoding="utf-8-sig") as stream:
        total = max(sum(1 for _ in stream) - 1, 0)
    with open(path, encoding="utf-8-sig") as stream:
        show = sys.stdout.isatty()
        with click.progressbar(
            length=total, label="Loading entries", file=None if show else open(os.devnull, "w")
        ) as bar:
            try:
                version = load_list(
                    db.session(), stream, source=os.path.basename(path), progress=bar.update
                )
            except ListFileInvalid as exc:
                raise click.ClickException(exc.message) from exc
    click.echo(
        f"loaded {version.entry_count} entries (list {version.id}, sha256 {version.sha256[:12]}…); "
        "customers are being re-screened"
    )


@sanctions_cli.command("status")
def status() -> None:
    """Show the active list."""
    current = active_list(db.session())
    if current is None:
        click.echo("no sanctions list loaded")
        return
    click.echo(
        f"list {current.id}: {current.entry_count} entries from {current.source}, "
        f"loaded {current.loaded_at.isoformat()}, sha256 {current.sha256}"
    )


@aml_cli.command("run")
@click.option("--days", default=1, show_default=True, help="How many days back from now.")
def aml_batch(days: int) -> None:
    """Queue the AML rules over the last DAYS days (queue `maintenance`)."""
    end = datetime.now(UTC)
    start = end - timedelta(days=days)
    job = enqueue(db.session(), run_aml_batch, start.isoformat(), end.isoformat(), queue=QUEUE)
    uow.commit(db.session())
    click.echo(f"queued AML batch {job} for {start.isoformat()} – {end.isoformat()}")
