"""`flask sanctions load [--source …] FILE… | status` and `flask aml run --days N`."""

from __future__ import annotations

import hashlib
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from flask.cli import AppGroup

from app.compliance import eu, ofac, uk, un
from app.compliance.list_file import ListFileInvalid
from app.compliance.lists import KINDS
from app.compliance.models import SanctionsList
from app.compliance.sanctions import active_versions, load_entries, load_list, retire
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
    type=click.Choice(["ofac-sdn", "ofac-cons", "un", "eu", "uk", "flowlet-csv"]),
    default="ofac-sdn",
    show_default=True,
    help="The list's layout: OFAC's files (SDN, consolidated), the UN's or the EU's XML, "
    "the UK's CSV, our CSV.",
)
@click.option("--force", is_flag=True, help="Load even a list far shorter than the active one.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def load(source: str, force: bool, paths: tuple[str, ...]) -> None:
    """Load a list; replaces the active list atomically.

    For OFAC's lists give the main file (SDN.CSV, CONS_PRIM.CSV) and, when you have them, its
    ALT and ADD companions, in any order: they are told apart by name.
    """
    try:
        if source in ("flowlet-csv", "un", "eu", "uk") and len(paths) != 1:
            raise click.UsageError(f"--source {source} takes one file")
        if source == "flowlet-csv":
            version = _load_csv(paths[0], force)
        elif source in ("un", "eu", "uk"):
            version = _load_file(source, paths[0], force)
        else:
            version = _load_ofac(source, paths, force)
    except ListFileInvalid as exc:
        detail = "; ".join(m for ms in exc.details.values() for m in ms)
        raise click.ClickException(f"{exc.message} {detail}".strip()) from exc
    click.echo(
        f"loaded {version.entry_count} entries (list {version.id}, sha256 {version.sha256[:12]}…); "
        "customers are being re-screened"
    )


def _load_csv(path: str, force: bool) -> SanctionsList:
    with open(path, encoding="utf-8-sig") as stream:
        total = max(sum(1 for _ in stream) - 1, 0)
    with open(path, encoding="utf-8-sig") as stream:
        show = sys.stdout.isatty()
        with click.progressbar(
            length=total, label="Loading entries", file=None if show else open(os.devnull, "w")
        ) as bar:
            return load_list(
                db.session(),
                stream,
                source=os.path.basename(path),
                progress=bar.update,
                force=force,
            )


def _load_ofac(source: str, paths: tuple[str, ...], force: bool) -> SanctionsList:
    """SDN.CSV (or CONS_PRIM.CSV) with its ALT and ADD files, told apart by their names."""
    files: dict[str, str] = {}
    for path in paths:
        stem = os.path.splitext(os.path.basename(path))[0].upper()
        role = "alt" if stem.endswith("ALT") else "add" if stem.endswith("ADD") else "main"
        if role in files:
            raise click.UsageError(f"two {role} files: {files[role]} and {path}")
        files[role] = path
    if "main" not in files:
        raise click.UsageError("give the main file (SDN.CSV or CONS_PRIM.CSV)")
    raw = {role: Path(path).read_bytes() for role, path in files.items()}
    digest = hashlib.sha256(b"".join(raw[r] for r in ("main", "alt", "add") if r in raw))
    text = {role: ofac.decode(data) for role, data in raw.items()}
    entries = list(ofac.read(text["main"], text.get("alt"), text.get("add")))
    # OFAC's CSV files carry no date: the main file's modification time stands for it.
    published = datetime.fromtimestamp(os.path.getmtime(files["main"]), UTC)
    return load_entries(
        db.session(),
        entries,
        kind=source,
        source=f"{source}:{os.path.basename(files['main'])}",
        sha256=digest.hexdigest(),
        published_at=published,
        force=force,
    )


def _load_file(source: str, path: str, force: bool) -> SanctionsList:
    """The UN Security Council Consolidated List, the EU's consolidated list (XML) or the UK
    Sanctions List (CSV): one file."""
    raw = Path(path).read_bytes()
    entries = list({"un": un, "eu": eu, "uk": uk}[source].read(raw))
    return load_entries(
        db.session(),
        entries,
        kind=source,
        source=f"{source}:{os.path.basename(path)}",
        sha256=hashlib.sha256(raw).hexdigest(),
        published_at=published_at(source, raw),
        force=force,
    )


def published_at(source: str, raw: bytes) -> datetime | None:
    """The date the publisher gave the file, as its layout states it."""
    if source == "uk":
        return uk.published_at(uk.decode(raw))
    return (un if source == "un" else eu).published_at((un if source == "un" else eu).parse(raw))


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
