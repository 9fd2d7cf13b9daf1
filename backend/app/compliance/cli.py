"""`flask sanctions load [--source …] FILE… | fetch | status | retire KIND` and `flask aml run
--days N`."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from flask.cli import AppGroup

from app.compliance.fetch import fetch_all
from app.compliance.list_file import ListFileInvalid
from app.compliance.lists import KINDS
from app.compliance.readers import read_files, role_of
from app.compliance.sanctions import active_versions, load_entries, retire
from app.compliance.tasks import QUEUE, run_aml_batch
from app.core import uow
from app.core.errors import NotFound
from app.core.extensions import db
from app.core.queue import enqueue

sanctions_cli = AppGroup("sanctions", help="The sanctions list used for screening.")
aml_cli = AppGroup("aml", help="AML transaction monitoring.")


@sanctions_cli.command("load")
@click.option(
    "--source",
    type=click.Choice(KINDS),
    default="ofac-sdn",
    show_default=True,
    help="The list's layout: OFAC's files (SDN, consolidated), the UN's or the EU's XML, "
    "the UK's CSV, our CSV.",
)
@click.option("--force", is_flag=True, help="Load even a list far shorter than the active one.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def load(source: str, force: bool, paths: tuple[str, ...]) -> None:
    """Load a list as the new version of its source; swaps it in atomically.

    For OFAC's lists give the main file (SDN.CSV, CONS_PRIM.CSV) and, when you have them, its
    ALT and ADD companions, in any order: they are told apart by name.
    """
    files = {os.path.basename(path): Path(path).read_bytes() for path in paths}
    if len(files) != len(paths):
        raise click.UsageError("two files of the same name")
    # OFAC's CSV files carry no date: the main file's modification time stands for it.
    main = next((p for p in paths if role_of(p) == "main"), paths[0])
    modified = datetime.fromtimestamp(os.path.getmtime(main), UTC)
    try:
        read = read_files(source, files, published_at=modified)
        quiet = None if sys.stdout.isatty() else open(os.devnull, "w")  # noqa: SIM115
        with click.progressbar(
            length=len(read.entries), label="Loading entries", file=quiet
        ) as bar:
            version = load_entries(
                db.session(),
                read.entries,
                kind=source,
                source=f"{source}:{read.main}",
                sha256=read.sha256,
                published_at=read.published_at,
                progress=bar.update,
                force=force,
            )
    except ListFileInvalid as exc:
        detail = "; ".join(m for ms in exc.details.values() for m in ms)
        raise click.ClickException(f"{exc.message} {detail}".strip()) from exc
    click.echo(
        f"loaded {version.entry_count} entries (list {version.id}, sha256 {version.sha256[:12]}…); "
        f"{version.added_count} added, {version.removed_count} removed, "
        f"{version.changed_count} changed; who could match them is being re-screened"
    )


@sanctions_cli.command("fetch")
@click.argument("kinds", nargs=-1, type=click.Choice(KINDS))
def fetch(kinds: tuple[str, ...]) -> None:
    """Download the lists of SANCTIONS_SOURCES (or those of KINDS), verify them and swap in
    what changed. Exits 1 when a source failed (its active version stays)."""
    try:
        results = fetch_all(db.session(), list(kinds) or None)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if not results:
        raise click.ClickException("SANCTIONS_SOURCES names no source to fetch")
    for result in results:
        click.echo(f"{result.kind}: {result.outcome} ({result.detail})")
    if any(result.outcome == "failed" for result in results):
        sys.exit(1)


@sanctions_cli.command("status")
def status() -> None:
    """Show the active version of every source."""
    actives = active_versions(db.session())
    if not actives:
        click.echo("no sanctions list loaded")
    for current in actives:
        published = current.published_at.date().isoformat() if current.published_at else "?"
        click.echo(
            f"{current.kind}: list {current.id}, {current.entry_count} entries "
            f"({current.alias_count} aliases) from {current.source}, published {published}, "
            f"loaded {current.loaded_at.isoformat()}, sha256 {current.sha256}"
        )


@sanctions_cli.command("retire")
@click.argument("kind", type=click.Choice(KINDS))
def retire_list(kind: str) -> None:
    """Stop screening against a source (its active version is deactivated, audited)."""
    try:
        version = retire(db.session(), kind)
    except NotFound as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"retired {kind} list {version.id}")


@aml_cli.command("run")
@click.option("--days", default=1, show_default=True, help="How many days back from now.")
def aml_batch(days: int) -> None:
    """Queue the AML rules over the last DAYS days (queue `maintenance`)."""
    end = datetime.now(UTC)
    start = end - timedelta(days=days)
    job = enqueue(db.session(), run_aml_batch, start.isoformat(), end.isoformat(), queue=QUEUE)
    uow.commit(db.session())
    click.echo(f"queued AML batch {job} for {start.isoformat()} – {end.isoformat()}")
