"""Sanctions list versions: loading one atomically, what it changed, retiring a source.

`load_entries` stores a list read in its publisher's layout as a new version of its source
(`kind`) and swaps it in, in one transaction: the new entries are inserted, compared with the
active version of the same source (entries added, removed and changed, by the publisher's
uid, kept as `SanctionsListChange`), the old version is deactivated and its entries deleted,
and the re-screening of who could match the changes is enqueued. A screening sees the old
version or the new one, never a mix; a broken file changes nothing. A version far shorter than
the one it replaces is refused unless forced (`SANCTIONS_MAX_SHRINK`).
"""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.compliance.list_file import ListShrank, ParsedEntry, parse_list
from app.compliance.models import SanctionsEntry, SanctionsList, SanctionsListChange
from app.compliance.rescreen import enqueue_rescreen
from app.core import audit, uow
from app.core.errors import NotFound

KINDS = ("ofac-sdn", "ofac-cons", "un", "eu", "uk", "flowlet-csv")
FIXTURE = Path(__file__).parent / "fixtures" / "sanctions_demo.csv"
BATCH = 1000
# What a change of an entry compares (lists compared as sets: order is not a change).
COMPARED = ("name", "entry_type", "program", "aliases", "dates_of_birth", "countries")


def kind_of(source: str) -> str:
    prefix = source.split(":", 1)[0]
    return prefix if prefix in KINDS else "flowlet-csv"


def load_list(
    session: Session,
    stream: IO[str],
    *,
    source: str,
    progress: Callable[[int], None] | None = None,
    force: bool = False,
) -> SanctionsList:
    """Load a list file in our CSV layout (`list_file`) as the new `flowlet-csv` version."""
    raw = stream.read()
    return load_entries(
        session,
        parse_list(io.StringIO(raw)),
        kind="flowlet-csv",
        source=source,
        sha256=sha256_of(raw.encode()),
        progress=progress,
        force=force,
    )


def sha256_of(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def load_fixture(session: Session) -> SanctionsList:
    """Load the invented demo list shipped with the code (tests and `seed-demo`)."""
    with FIXTURE.open(encoding="utf-8") as stream:
        return load_list(session, stream, source="fixture:sanctions_demo.csv")


def load_entries(
    session: Session,
    entries: Iterable[ParsedEntry],
    *,
    source: str,
    sha256: str,
    kind: str | None = None,
    published_at: datetime | None = None,
    progress: Callable[[int], None] | None = None,
    force: bool = False,
) -> SanctionsList:
    """Load a list's entries as the new active version of its source (one commit), then
    re-screen who could match what changed. `sha256` is the digest of the files read."""
    kind = kind or kind_of(source)
    # Serialize loads: the second waits for the first and then compares with it.
    actives = session.scalars(
        sa.select(SanctionsList).where(SanctionsList.active.is_(True)).with_for_update()
    ).all()
    previous = next((old for old in actives if old.kind == kind), None)
    version = SanctionsList(
        kind=kind,
        source=source[:255],
        sha256=sha256,
        entry_count=0,
        active=False,
        published_at=published_at,
        previous_id=previous.id if previous else None,
    )
    session.add(version)
    session.flush()
    count, aliases = _insert_entries(session, entries, list_id=version.id, progress=progress)
    if not force and previous is not None:
        _refuse_a_shrunk_list(session, previous, source=source, count=count)
    counts = _record_changes(session, version, previous)
    if previous is not None:
        previous.active = False
        session.flush()
        session.execute(sa.delete(SanctionsEntry).where(SanctionsEntry.list_id == previous.id))
    version.entry_count, version.alias_count, version.active = count, aliases, True
    version.added_count, version.removed_count, version.changed_count = counts
    _audit_loaded(session, version)
    enqueue_rescreen(session, list_id=version.id)
    uow.commit(session)
    return version


def _audit_loaded(session: Session, version: SanctionsList) -> None:
    audit.record(
        session,
        "sanctions.list_loaded",
        resource_type="sanctions_list",
        resource_id=version.id,
        changes={
            "source": version.source,
            "kind": version.kind,
            "sha256": version.sha256,
            "entries": version.entry_count,
            "aliases": version.alias_count,
            "added": version.added_count,
            "removed": version.removed_count,
            "changed": version.changed_count,
        },
    )


def _refuse_a_shrunk_list(session: Session, old: SanctionsList, *, source: str, count: int) -> None:
    share = float(current_app.config["SANCTIONS_MAX_SHRINK"])
    if count >= old.entry_count * (1 - share):
        return
    audit.refuse(
        session,
        ListShrank(
            f"The new {source} list has {count} entries against {old.entry_count}; "
            "it is refused as cut short (load it with --force if it is right).",
            details={"entries": [f"{count} < {old.entry_count} × (1 − {share:g})"]},
        ),
        "sanctions.list_loaded",
        resource_type="sanctions_list",
        resource_id=old.id,
        changes={"source": source, "entries": count, "active_entries": old.entry_count},
    )


def _insert_entries(
    session: Session,
    entries: Iterable[ParsedEntry],
    *,
    list_id: int,
    progress: Callable[[int], None] | None,
) -> tuple[int, int]:
    """Insert a list's entries under version `list_id`, `BATCH` rows a statement; returns
    the number of entries and of aliases."""
    count = aliases = 0
    rows: list[dict[str, Any]] = []
    for entry in entries:
        aliases += len(entry.aliases)
        rows.append(
            {
                "public_id": uuid.uuid4(),
                "list_id": list_id,
                "source_uid": entry.uid[:64],
                "name": entry.name[:350],
                "entry_type": entry.entry_type,
                "program": entry.program[:200],
                "aliases": entry.aliases,
                "dates_of_birth": entry.dates_of_birth,
                "countries": entry.countries,
                "remarks": entry.remarks,
            }
        )
        if len(rows) >= BATCH:
            count += _insert(session, SanctionsEntry, rows, progress)
    return count + _insert(session, SanctionsEntry, rows, progress), aliases


def _insert(
    session: Session,
    model: type[Any],
    rows: list[dict[str, Any]],
    progress: Callable[[int], None] | None = None,
) -> int:
    if not rows:
        return 0
    session.execute(sa.insert(model), rows)
    done = len(rows)
    rows.clear()
    if progress:
        progress(done)
    return done


# --- what a version changed -------------------------------------------------------------------


def _facts(session: Session, list_id: int) -> dict[str, dict[str, Any]]:
    """Each entry of a version by its publisher's uid: its id and the compared fields."""
    columns = [getattr(SanctionsEntry, name) for name in COMPARED]
    rows = session.execute(
        sa.select(SanctionsEntry.id, SanctionsEntry.source_uid, *columns).where(
            SanctionsEntry.list_id == list_id
        )
    )
    return {
        row.source_uid: {"id": row.id, **{name: getattr(row, name) for name in COMPARED}}
        for row in rows
    }


def _differences(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    changed = {}
    for name in COMPARED:
        old, new = before[name], after[name]
        same = sorted(old) == sorted(new) if isinstance(old, list) else old == new
        if not same:
            changed[name] = [old, new]
    return changed


def _record_changes(
    session: Session, version: SanctionsList, previous: SanctionsList | None
) -> tuple[int, int, int]:
    """Store what `version` adds, removes and changes against `previous` (everything is
    added when there is none); returns the three counts."""
    new = _facts(session, version.id)
    old = _facts(session, previous.id) if previous is not None else {}
    rows: list[dict[str, Any]] = []
    counts = {"added": 0, "removed": 0, "changed": 0}

    def add(
        change: str, uid: str, facts: dict[str, Any], entry_id: int | None, fields: Any
    ) -> None:
        counts[change] += 1
        rows.append(
            {
                "list_id": version.id,
                "change": change,
                "source_uid": uid,
                "name": facts["name"],
                "entry_id": entry_id,
                "fields": fields,
            }
        )
        if len(rows) >= BATCH:
            _insert(session, SanctionsListChange, rows)

    for uid, facts in new.items():
        if uid not in old:
            add("added", uid, facts, facts["id"], {})
        elif fields := _differences(old[uid], facts):
            add("changed", uid, facts, facts["id"], fields)
    for uid, facts in old.items():
        if uid not in new:
            add("removed", uid, facts, None, {k: facts[k] for k in COMPARED})
    _insert(session, SanctionsListChange, rows)
    return counts["added"], counts["removed"], counts["changed"]


# --- versions as officers see them ---------------------------------------------------------


def versions(session: Session, *, kind: str | None = None) -> sa.Select[SanctionsList]:
    """Every loaded version, the newest first (a query, for a page)."""
    query = sa.select(SanctionsList)
    if kind is not None:
        query = query.where(SanctionsList.kind == kind)
    return query.order_by(SanctionsList.id.desc())


def get_version(session: Session, list_id: int) -> SanctionsList:
    version = session.get(SanctionsList, list_id)
    if version is None:
        raise NotFound("No such list version.")
    return version


def changes(
    session: Session, list_id: int, *, change: str | None = None
) -> sa.Select[SanctionsListChange]:
    """What version `list_id` changed against the one before it (a query, for a page)."""
    get_version(session, list_id)
    query = sa.select(SanctionsListChange).where(SanctionsListChange.list_id == list_id)
    if change is not None:
        query = query.where(SanctionsListChange.change == change)
    return query.order_by(SanctionsListChange.id)


def retire(session: Session, kind: str) -> SanctionsList:
    """Stop screening against a source: its active version is deactivated (audited)."""
    version = session.scalar(
        sa.select(SanctionsList)
        .where(SanctionsList.kind == kind, SanctionsList.active.is_(True))
        .with_for_update()
    )
    if version is None:
        raise NotFound(f"No active {kind} list.")
    version.active = False
    session.flush()
    session.execute(sa.delete(SanctionsEntry).where(SanctionsEntry.list_id == version.id))
    audit.record(
        session,
        "sanctions.list_retired",
        resource_type="sanctions_list",
        resource_id=version.id,
        changes={"kind": kind, "entries": version.entry_count},
    )
    uow.commit(session)
    return version
