"""The sanctions list: loading (atomic replacement), the in-memory index, and screening.

`load_list` reads a CSV in the OFAC SDN layout (`list_file.parse_list`) into a new
`SanctionsList` version and switches the active version in the same transaction, so screening
sees the old list or the new one, never half of one. Each process keeps one `NameIndex` for the
active version and rebuilds it when the active version changes.

`screen` is the one screening call: officers (`POST /compliance/screenings`), KYC, a change
of name and IBAN beneficiaries all use it; each caller raises its own alert on a hit (a change
of name is refused with `SanctionsHit`, a transfer held for review).
"""

from __future__ import annotations

import hashlib
import io
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.auth.models import User
from app.compliance.alerts import raise_alert
from app.compliance.list_file import ListShrank, ParsedEntry, indexed, parse_list
from app.compliance.models import (
    AlertStatus,
    ComplianceAlert,
    KycCase,
    SanctionsEntry,
    SanctionsList,
    Severity,
)
from app.compliance.name_index import Match, NameIndex
from app.core import audit, uow
from app.core.errors import DomainError
from app.core.extensions import db
from app.core.queue import enqueue, task

# The re-screening job's queue (the compliance jobs' queue, `tasks.QUEUE`).
RESCREEN_QUEUE = "maintenance"
FIXTURE = Path(__file__).parent / "fixtures" / "sanctions_demo.csv"


class SanctionsHit(DomainError):
    status, code, message = 403, "sanctions_hit", "The name matches the sanctions list."


# --- loading ----------------------------------------------------------------------------------

BATCH = 1000


def load_list(
    session: Session,
    stream: IO[str],
    *,
    source: str,
    total: int | None = None,
    progress: Callable[[int], None] | None = None,
    force: bool = False,
) -> SanctionsList:
    """Load a list file in our CSV layout (`list_file`) as the new active version."""
    raw = stream.read()
    digest = hashlib.sha256(raw.encode()).hexdigest()
    return load_entries(
        session,
        parse_list(io.StringIO(raw)),
        source=source,
        sha256=digest,
        progress=progress,
        force=force,
    )


def load_entries(
    session: Session,
    entries: Iterable[ParsedEntry],
    *,
    source: str,
    sha256: str,
    progress: Callable[[int], None] | None = None,
    force: bool = False,
) -> SanctionsList:
    """Load a list's entries as the new active version (one commit) and re-screen customers.

    The new version's entries are inserted, the old version is deactivated and its entries
    deleted, and the re-screening job is enqueued, all in one transaction. `sha256` is the
    digest of the files the entries were read from. A version of the same source with more
    than `SANCTIONS_MAX_SHRINK` fewer entries is refused (`ListShrank`, audited) unless
    `force`: the old list stays.
    """
    digest = sha256
    # Serialize loads: the second waits for the first and then replaces it.
    previous = session.scalars(
        sa.select(SanctionsList).where(SanctionsList.active.is_(True)).with_for_update()
    ).all()
    version = SanctionsList(source=source[:255], sha256=digest, entry_count=0, active=False)
    session.add(version)
    session.flush()
    count = _insert_entries(session, entries, list_id=version.id, progress=progress)
    if not force:
        _refuse_a_shrunk_list(session, previous, source=source, count=count)
    for old in previous:
        old.active = False
    session.flush()
    for old in previous:
        session.execute(sa.delete(SanctionsEntry).where(SanctionsEntry.list_id == old.id))
    version.entry_count = count
    version.active = True
    audit.record(
        session,
        "sanctions.list_loaded",
        resource_type="sanctions_list",
        resource_id=version.id,
        changes={"source": source, "sha256": digest, "entries": count},
    )
    enqueue_rescreen(session, list_id=version.id)
    uow.commit(session)
    return version


def _refuse_a_shrunk_list(
    session: Session, previous: Sequence[SanctionsList], *, source: str, count: int
) -> None:
    share = float(current_app.config["SANCTIONS_MAX_SHRINK"])
    for old in previous:
        if old.source == source and count < old.entry_count * (1 - share):
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
) -> int:
    """Insert a list's entries under version `list_id`, `BATCH` rows a statement."""
    count = 0
    rows: list[dict[str, Any]] = []
    for entry in entries:
        rows.append(
            {
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
            count += _insert(session, rows, progress)
    return count + _insert(session, rows, progress)


def _insert(
    session: Session, rows: list[dict[str, Any]], progress: Callable[[int], None] | None
) -> int:
    if not rows:
        return 0
    for row in rows:
        row["public_id"] = uuid.uuid4()
    session.execute(sa.insert(SanctionsEntry), rows)
    done = len(rows)
    rows.clear()
    if progress:
        progress(done)
    return done


def load_fixture(session: Session) -> SanctionsList:
    """Load the invented demo list shipped with the code (tests and `seed-demo`)."""
    with FIXTURE.open(encoding="utf-8") as stream:
        return load_list(session, stream, source="fixture:sanctions_demo.csv")


def active_list(session: Session) -> SanctionsList | None:
    return session.scalar(sa.select(SanctionsList).where(SanctionsList.active.is_(True)))


# --- the index --------------------------------------------------------------------------------

_cache_lock = threading.Lock()


def _index_for(session: Session) -> tuple[int | None, NameIndex]:
    """The `NameIndex` of the active list, built once per process and version."""
    list_id = session.scalar(sa.select(SanctionsList.id).where(SanctionsList.active.is_(True)))
    cache: dict[str, tuple[int | None, NameIndex]] = current_app.extensions.setdefault(
        "flowlet_sanctions_index", {}
    )
    cached = cache.get("index")
    if cached is not None and cached[0] == list_id:
        return cached
    with _cache_lock:
        cached = cache.get("index")
        if cached is not None and cached[0] == list_id:
            return cached
        # One statement reads the active version and its entries together: a reload that
        # commits meanwhile is seen entirely or not at all.
        entries = session.scalars(
            sa.select(SanctionsEntry)
            .join(SanctionsList, SanctionsList.id == SanctionsEntry.list_id)
            .where(SanctionsList.active.is_(True))
            .order_by(SanctionsEntry.id)
        ).all()
        list_id = entries[0].list_id if entries else list_id
        built = (list_id, NameIndex.build(indexed(e, e.id) for e in entries))
        cache["index"] = built
        return built


def threshold() -> float:
    return float(current_app.config["SANCTIONS_MATCH_THRESHOLD"])


@dataclass(frozen=True)
class ScreeningMatch:
    list_entry_id: str
    name: str
    matched_name: str
    score: float
    program: str
    entry_type: str


def screen(
    session: Session,
    *,
    name: str,
    date_of_birth: date | None = None,
    country: str | None = None,
    limit: int = 10,
) -> list[ScreeningMatch]:
    """Listed entries matching `name` at or above the configured threshold, best first."""
    _, index = _index_for(session)
    found: list[Match] = index.search(
        name, threshold=threshold(), date_of_birth=date_of_birth, country=country, limit=limit
    )
    return [
        ScreeningMatch(
            list_entry_id=m.entry.public_id,
            name=m.entry.name,
            matched_name=m.matched_name,
            score=m.score,
            program=m.entry.program,
            entry_type=m.entry.entry_type,
        )
        for m in found
    ]


def officer_screening(
    session: Session, *, name: str, date_of_birth: date | None = None, country: str | None = None
) -> dict[str, Any]:
    """An officer's ad-hoc screening (audited, changes nothing else)."""
    matches = screen(session, name=name, date_of_birth=date_of_birth, country=country)
    audit.record(
        session,
        "sanctions.screening",
        resource_type="sanctions_list",
        changes={
            "name": name,
            "matches": len(matches),
            "top_score": matches[0].score if matches else None,
        },
    )
    uow.commit(session)
    return {"matches": matches, "threshold": threshold()}


def matches_as_details(matches: list[ScreeningMatch]) -> list[dict[str, Any]]:
    return [
        {
            "list_entry_id": m.list_entry_id,
            "name": m.name,
            "matched_name": m.matched_name,
            "score": m.score,
            "program": m.program,
        }
        for m in matches
    ]


def alert_hit(
    session: Session,
    *,
    user_id: int | None,
    matches: list[ScreeningMatch],
    lead: str,
    context: str,
    tail: str = "",
    **details: Any,
) -> ComplianceAlert:
    """A critical `sanctions_hit` alert on `matches` (best first), scored by the best one.

    The explanation reads `{lead} {best match} ({program}, score …){tail}.`; the details are
    `context`, then `details`, then the matches.
    """
    top = matches[0]
    return raise_alert(
        session,
        user_id=user_id,
        alert_type="sanctions_hit",
        severity=Severity.CRITICAL.value,
        explanation=f"{lead} {top.name} ({top.program}, score {top.score:.2f}){tail}.",
        details={"context": context, **details, "matches": matches_as_details(matches)},
        score=round(top.score * 100),
    )


# --- re-screening -------------------------------------------------------------------------------


def rescreen_all(session: Session, *, list_id: int, batch: int = 500) -> int:
    """Screen every customer against list version `list_id`; returns the number of hits.

    Customers are read in id order, `batch` at a time, committing after each batch. A
    customer whose open sanctions case already names an entry is not alerted again for it.
    """
    active = active_list(session)
    if active is None or active.id != list_id:
        return 0  # a newer list replaced this one; its own job screens everyone
    hits = 0
    last_id = 0
    while users := session.scalars(
        sa.select(User).where(User.id > last_id).order_by(User.id).limit(batch)
    ).all():
        last_id = users[-1].id
        for user in users:
            if user.has_role("customer") and _rescreen(session, user, list_id=list_id):
                hits += 1
        uow.commit(session)
    audit.record(
        session,
        "sanctions.rescreen_finished",
        resource_type="sanctions_list",
        resource_id=list_id,
        changes={"hits": hits},
    )
    uow.commit(session)
    return hits


def _rescreen(session: Session, user: User, *, list_id: int) -> bool:
    """Screen one customer; alert (and say True) when an entry matches that the customer's
    open sanctions case does not name yet."""
    matches = _screen_customer(session, user)
    if not matches:
        return False
    known = _known_entries(session, user)
    if all(m.list_entry_id in known for m in matches):
        return False
    alert_hit(
        session,
        user_id=user.id,
        matches=matches,
        lead="Re-screening against the new list: the customer matches",
        context="rescreen",
        list_id=list_id,
    )
    return True


def _screen_customer(session: Session, user: User) -> list[ScreeningMatch]:
    """Screen a customer as their latest KYC case names them (else as their profile does).

    The case is read as `kyc.current_case` reads it; kyc imports this module, not the reverse.
    """
    case = session.scalar(
        sa.select(KycCase)
        .where(KycCase.user_id == user.id)
        .order_by(KycCase.created_at.desc(), KycCase.id.desc())
        .limit(1)
    )
    if case is None:
        return screen(session, name=f"{user.first_name} {user.last_name}")
    return screen(
        session,
        name=f"{case.first_name} {case.last_name}",
        date_of_birth=case.date_of_birth,
        country=case.nationality,
    )


def _known_entries(session: Session, user: User) -> set[str]:
    """The listed entries the customer's open sanctions case names already."""
    open_case = session.scalar(
        sa.select(ComplianceAlert).where(
            ComplianceAlert.user_id == user.id,
            ComplianceAlert.case_key == "sanctions_hit",
            ComplianceAlert.status == AlertStatus.OPEN.value,
        )
    )
    if open_case is None:
        return set()
    return {
        m.get("list_entry_id")
        for hit in (open_case.details or {}).get("hits", [])
        for m in (hit.get("facts") or {}).get("matches", [])
    }


def enqueue_rescreen(session: Session, *, list_id: int) -> str:
    """Re-screen every customer once the list version `list_id` commits."""
    return enqueue(session, rescreen_customers, list_id, queue=RESCREEN_QUEUE)


@task
def rescreen_customers(list_id: int) -> int:
    """Screen every customer's name against list version `list_id`; alerts for hits.

    Idempotent: a customer already in an open sanctions case is not raised twice for the
    same entry. Skips quietly when a newer list has replaced this one.
    """
    return rescreen_all(db.session(), list_id=list_id)
