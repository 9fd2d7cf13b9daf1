"""Re-screening customers and beneficiaries when a list changes, and every night.

After a load, only who could match what the new version added or changed is screened again:
a probe index holds just those entries, every customer's name (as their latest KYC case
states it) and every beneficiary named in the last `SANCTIONS_BENEFICIARY_DAYS` is searched
in it, and only a name the probe finds is screened in full against the active lists. An entry
that did not change cannot match anyone it did not match before, and a removed entry matches
no one. The nightly run (`rescreen_all`) screens everyone against everything.

A customer whose open sanctions case already names an entry is not alerted again for it. A
run is recorded (`SanctionsScreening`, subject `customers`) with the versions it covered.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.auth.models import User, UserRole
from app.compliance.list_file import indexed
from app.compliance.models import (
    AlertStatus,
    ComplianceAlert,
    KycCase,
    SanctionsEntry,
    SanctionsList,
    SanctionsListChange,
    SanctionsScreening,
)
from app.compliance.name_index import NameIndex
from app.compliance.screening import (
    ScreeningMatch,
    Versions,
    alert_hit,
    index_for,
    record,
    screen,
)
from app.core import audit, uow
from app.core.extensions import db
from app.core.queue import enqueue, task

# The re-screening job's queue (the compliance jobs' queue, `tasks.QUEUE`).
RESCREEN_QUEUE = "maintenance"


@dataclass(frozen=True)
class Subject:
    """Someone to screen again: a customer, or a beneficiary a customer paid."""

    user_id: int
    name: str
    date_of_birth: date | None = None
    country: str | None = None
    beneficiary: bool = False


def _customers(session: Session, batch: int) -> Iterator[list[Subject]]:
    """Every customer, `batch` at a time, named as their latest KYC case names them (two
    statements a batch: the customers, then the latest cases of their id range)."""
    last_id = 0
    while users := session.execute(
        sa.select(User.id, User.first_name, User.last_name)
        .join(UserRole, sa.and_(UserRole.user_id == User.id, UserRole.role == "customer"))
        .where(User.id > last_id)
        .order_by(User.id)
        .limit(batch)
    ).all():
        first, last_id = users[0].id, users[-1].id
        latest = (
            sa.select(sa.func.max(KycCase.id))
            .where(KycCase.user_id.between(first, last_id))
            .group_by(KycCase.user_id)
        )
        cases = {
            c.user_id: c for c in session.scalars(sa.select(KycCase).where(KycCase.id.in_(latest)))
        }
        yield [_subject(u, cases.get(u.id)) for u in users]


def _subject(user: sa.Row[int, str, str], case: KycCase | None) -> Subject:
    if case is None:
        return Subject(user.id, f"{user.first_name} {user.last_name}")
    return Subject(
        user.id, f"{case.first_name} {case.last_name}", case.date_of_birth, case.nationality
    )


def _beneficiaries(session: Session) -> list[Subject]:
    """Payees screened in the last `SANCTIONS_BENEFICIARY_DAYS` days, once per payer."""
    days = int(current_app.config["SANCTIONS_BENEFICIARY_DAYS"])
    since = datetime.now(UTC) - timedelta(days=days)
    rows = session.execute(
        sa.select(SanctionsScreening.user_id, SanctionsScreening.name)
        .where(
            SanctionsScreening.subject == "beneficiary",
            SanctionsScreening.screened_at >= since,
            SanctionsScreening.user_id.is_not(None),
        )
        .distinct()
    )
    return [Subject(int(r.user_id), r.name, beneficiary=True) for r in rows]


def probe_for(session: Session, list_id: int) -> NameIndex:
    """An index of the entries version `list_id` added or changed."""
    entries = session.scalars(
        sa.select(SanctionsEntry)
        .join(SanctionsListChange, SanctionsListChange.entry_id == SanctionsEntry.id)
        .where(
            SanctionsListChange.list_id == list_id,
            SanctionsListChange.change.in_(("added", "changed")),
        )
    )
    return NameIndex.build(indexed(e, e.id) for e in entries)


def rescreen_changes(session: Session, *, list_id: int, batch: int = 1000) -> int:
    """Screen again who could match what version `list_id` added or changed; the hits."""
    version = session.get(SanctionsList, list_id)
    if version is None or not version.active:
        return 0  # a newer version replaced it; its own job screens the changes
    return _run(session, probe=probe_for(session, list_id), mode="changes", batch=batch)


def rescreen_all(session: Session, *, batch: int = 1000) -> int:
    """Screen every customer and recent beneficiary against the active lists; the hits."""
    return _run(session, probe=None, mode="all", batch=batch)


def _run(session: Session, *, probe: NameIndex | None, mode: str, batch: int) -> int:
    full = index_for(session)  # read once: the run screens against these versions
    versions = full[0]
    screened = candidates = hits = 0
    groups = itertools.chain(_customers(session, batch), [_beneficiaries(session)])
    for group in groups:
        for subject in group:
            screened += 1
            if probe is not None and not _probe(session, (versions, probe), subject):
                continue
            candidates += 1
            hits += _rescreen(session, subject, full)
        uow.commit(session)
    record(
        session,
        subject="customers",
        context=f"rescreen_{mode}",
        user_id=None,
        name=f"{screened} customers and beneficiaries",
        matches=[],
        versions=versions,
    )
    audit.record(
        session,
        "sanctions.rescreen_finished",
        resource_type="sanctions_list",
        resource_id=",".join(map(str, versions)),
        changes={"mode": mode, "screened": screened, "candidates": candidates, "hits": hits},
    )
    uow.commit(session)
    return hits


def _probe(session: Session, probe: tuple[Versions, NameIndex], subject: Subject) -> bool:
    if not len(probe[1]):
        return False
    return bool(
        screen(
            session,
            name=subject.name,
            date_of_birth=subject.date_of_birth,
            country=subject.country,
            index=probe,
            limit=1,
        )
    )


def _rescreen(session: Session, subject: Subject, full: tuple[Versions, NameIndex]) -> int:
    """Screen one subject in full; alert (and count 1) when an entry matches that the
    customer's open sanctions case does not name yet."""
    matches = screen(
        session,
        name=subject.name,
        date_of_birth=subject.date_of_birth,
        country=subject.country,
        subject="beneficiary" if subject.beneficiary else "customer",
        context="rescreen",
        user_id=subject.user_id,
        index=full,
    )
    if not matches or _known(session, subject.user_id, matches):
        return 0
    lead = (
        f"Re-screening: the beneficiary {subject.name} matches"
        if subject.beneficiary
        else "Re-screening against the lists: the customer matches"
    )
    alert_hit(session, user_id=subject.user_id, matches=matches, lead=lead, context="rescreen")
    return 1


def _known(session: Session, user_id: int, matches: list[ScreeningMatch]) -> bool:
    """Whether the customer's open sanctions case names every matched entry already."""
    open_case = session.scalar(
        sa.select(ComplianceAlert).where(
            ComplianceAlert.user_id == user_id,
            ComplianceAlert.case_key == "sanctions_hit",
            ComplianceAlert.status == AlertStatus.OPEN.value,
        )
    )
    if open_case is None:
        return False
    known = {
        m.get("list_entry_id")
        for hit in (open_case.details or {}).get("hits", [])
        for m in (hit.get("facts") or {}).get("matches", [])
    }
    return all(m.list_entry_id in known for m in matches)


def enqueue_rescreen(session: Session, *, list_id: int) -> str:
    """Re-screen who could match version `list_id`'s changes once it commits."""
    return enqueue(session, rescreen_customers, list_id, queue=RESCREEN_QUEUE)


@task
def rescreen_customers(list_id: int) -> int:
    """Screen again the customers and beneficiaries who could match what list version
    `list_id` added or changed; alerts for hits. Idempotent (no second alert for an entry an
    open case names); skips quietly when a newer version replaced this one."""
    return rescreen_changes(db.session(), list_id=list_id)
