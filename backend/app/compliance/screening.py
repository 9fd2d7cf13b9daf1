"""Screening a name against the active sanctions lists, with its explanation and its record.

Each source keeps one active version (`lists.load_entries`); a screening searches the active
versions of every source together, through one `NameIndex` per process, rebuilt when the set
of active versions changes. A screening that decides something (KYC, a beneficiary, a
re-screening hit, an officer's search) is recorded with the versions it was made against
(`SanctionsScreening`), so an examiner can ask which list a customer was screened against.
A match carries its explanation: the listed name or alias that matched, the name's score, and
what the date of birth and the country did to it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.compliance.alerts import raise_alert
from app.compliance.list_file import indexed
from app.compliance.models import (
    ComplianceAlert,
    SanctionsEntry,
    SanctionsList,
    SanctionsScreening,
    Severity,
)
from app.compliance.name_index import Match, NameIndex, country_adjustment, dob_adjustment
from app.compliance.translit import script_of, transliterations
from app.core.errors import DomainError


class SanctionsHit(DomainError):
    status, code, message = 403, "sanctions_hit", "The name matches the sanctions list."


def active_versions(session: Session) -> list[SanctionsList]:
    """The active version of every source, by kind."""
    return list(
        session.scalars(
            sa.select(SanctionsList)
            .where(SanctionsList.active.is_(True))
            .order_by(SanctionsList.kind)
        )
    )


def active_list(session: Session, kind: str | None = None) -> SanctionsList | None:
    """The active version of `kind`, or the latest loaded active version of any kind."""
    query = sa.select(SanctionsList).where(SanctionsList.active.is_(True))
    if kind is not None:
        query = query.where(SanctionsList.kind == kind)
    return session.scalar(query.order_by(SanctionsList.id.desc()).limit(1))


# --- the index --------------------------------------------------------------------------------

_cache_lock = threading.Lock()
Versions = tuple[int, ...]


def _active_ids(session: Session) -> Versions:
    ids = session.scalars(
        sa.select(SanctionsList.id).where(SanctionsList.active.is_(True)).order_by(SanctionsList.id)
    )
    return tuple(ids)


def index_for(session: Session) -> tuple[Versions, NameIndex]:
    """The `NameIndex` of the active versions, built once per process and set of versions;
    with the versions its entries were read from."""
    versions = _active_ids(session)
    cache: dict[str, tuple[Versions, Versions, NameIndex]] = current_app.extensions.setdefault(
        "flowlet_sanctions_index", {}
    )
    cached = cache.get("index")
    if cached is None or cached[0] != versions:
        with _cache_lock:
            cached = cache.get("index")
            if cached is None or cached[0] != versions:
                cached = cache["index"] = _build(session, versions)
    return cached[1], cached[2]


def _build(session: Session, versions: Versions) -> tuple[Versions, Versions, NameIndex]:
    # One statement reads the active versions and their entries together: a reload that
    # commits meanwhile is seen entirely or not at all.
    entries = session.scalars(
        sa.select(SanctionsEntry)
        .join(SanctionsList, SanctionsList.id == SanctionsEntry.list_id)
        .where(SanctionsList.active.is_(True))
        .order_by(SanctionsEntry.id)
    ).all()
    read = tuple(sorted({e.list_id for e in entries})) if entries else versions
    return versions, read, NameIndex.build(indexed(e, e.id) for e in entries)


def threshold() -> float:
    return float(current_app.config["SANCTIONS_MATCH_THRESHOLD"])


# --- screening ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScreeningMatch:
    list_entry_id: str
    name: str
    matched_name: str
    score: float
    program: str
    entry_type: str
    list_version_id: int = 0
    matched_alias: str | None = None
    factors: list[dict[str, Any]] = field(default_factory=list)
    # A name screened in another script, kept as written beside its Latin readings.
    query: dict[str, Any] | None = None


def explain(
    match: Match, *, date_of_birth: date | None, country: str | None
) -> list[dict[str, Any]]:
    """What made the score: the name (or alias) that matched, then the date of birth and the
    country when they moved it."""
    entry = match.entry
    factors: list[dict[str, Any]] = [
        {"factor": "name", "value": match.matched_name, "effect": match.name_score}
    ]
    dob = dob_adjustment(date_of_birth, entry.dates_of_birth)
    if date_of_birth is not None and entry.dates_of_birth:
        listed = ", ".join(entry.dates_of_birth)
        factors.append(
            {"factor": "date_of_birth", "value": f"{date_of_birth} / {listed}", "effect": dob}
        )
    place = country_adjustment(country, entry.countries)
    if country and entry.countries:
        listed = ", ".join(entry.countries)
        factors.append({"factor": "country", "value": f"{country} / {listed}", "effect": place})
    return factors


def written_as(name: str) -> dict[str, Any] | None:
    """A name in another script as written, its script and its Latin readings; None for a
    name in Latin letters."""
    script = script_of(name)
    if script == "latin":
        return None
    return {"text": name, "script": script, "transliterated_as": transliterations(name)}


def _as_match(
    m: Match, *, date_of_birth: date | None, country: str | None, query: dict[str, Any] | None
) -> ScreeningMatch:
    alias = m.matched_name if m.matched_name.casefold() != m.entry.name.casefold() else None
    return ScreeningMatch(
        list_entry_id=m.entry.public_id,
        name=m.entry.name,
        matched_name=m.matched_name,
        score=m.score,
        program=m.entry.program,
        entry_type=m.entry.entry_type,
        list_version_id=m.entry.list_id,
        matched_alias=alias,
        factors=explain(m, date_of_birth=date_of_birth, country=country),
        query=query,
    )


def screen(
    session: Session,
    *,
    name: str,
    date_of_birth: date | None = None,
    country: str | None = None,
    limit: int = 10,
    subject: str | None = None,
    context: str = "",
    user_id: int | None = None,
    index: tuple[Versions, NameIndex] | None = None,
) -> list[ScreeningMatch]:
    """Listed entries matching `name` at or above the configured threshold, best first.

    With a `subject` (`customer`, `beneficiary`, `officer`) the screening is recorded with the
    versions it was made against. `index` is the versions and index to search, read once by a
    run over many names (`index_for`), or a re-screening's probe.
    """
    versions, active = index or index_for(session)
    found: list[Match] = active.search(
        name, threshold=threshold(), date_of_birth=date_of_birth, country=country, limit=limit
    )
    query = written_as(name) if found else None
    matches = [
        _as_match(m, date_of_birth=date_of_birth, country=country, query=query) for m in found
    ]
    if subject is not None:
        record(
            session,
            subject=subject,
            context=context,
            user_id=user_id,
            name=name,
            matches=matches,
            versions=versions,
        )
    return matches


def record(
    session: Session,
    *,
    subject: str,
    context: str,
    user_id: int | None,
    name: str,
    matches: list[ScreeningMatch],
    versions: Versions,
) -> None:
    session.add(
        SanctionsScreening(
            user_id=user_id,
            subject=subject,
            context=context[:24],
            name=name[:350],
            list_ids=list(versions),
            match_count=len(matches),
            top_score=matches[0].score if matches else None,
        )
    )


def matches_as_details(matches: list[ScreeningMatch]) -> list[dict[str, Any]]:
    return [
        {
            "list_entry_id": m.list_entry_id,
            "list_version_id": m.list_version_id,
            "name": m.name,
            "matched_name": m.matched_name,
            "matched_alias": m.matched_alias,
            "score": m.score,
            "program": m.program,
            "factors": m.factors,
            **({"query": m.query} if m.query else {}),
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
    `context`, then `details`, then the matches with their explanations.
    """
    top = matches[0]
    matched = f" as {top.matched_alias}" if top.matched_alias else ""
    return raise_alert(
        session,
        user_id=user_id,
        alert_type="sanctions_hit",
        severity=Severity.CRITICAL.value,
        explanation=f"{lead} {top.name}{matched} ({top.program}, score {top.score:.2f}){tail}.",
        details={"context": context, **details, "matches": matches_as_details(matches)},
        score=round(top.score * 100),
    )
