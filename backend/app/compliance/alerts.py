"""Alerts and case review: raise (one open case per customer and pattern), list, read, assign,
resolve. Every step is audited with the officer as actor.

`get_alert` is the one read of an alert with everything behind it (the customer, the
transactions, the notes), for the API and for reports such as a SAR draft.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from app.auth.models import User
from app.compliance.models import (
    AlertNote,
    AlertResolution,
    AlertStatus,
    AlertTransaction,
    ComplianceAlert,
    Severity,
)
from app.core import audit, uow
from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden, NotFound, ValidationError
from app.core.pagination import Page, paginate

SEVERITY_ORDER = [s.value for s in Severity]
MAX_HITS_KEPT = 50


class AlertNotFound(NotFound):
    message = "The alert was not found."


def _max_severity(a: str, b: str) -> str:
    return max(a, b, key=lambda s: SEVERITY_ORDER.index(s) if s in SEVERITY_ORDER else 0)


def raise_alert(
    session: Session,
    *,
    user_id: int | None,
    alert_type: str,
    severity: str,
    explanation: str,
    transaction_ids: Iterable[int] = (),
    details: dict | None = None,
    score: int = 0,
    now: datetime | None = None,
) -> ComplianceAlert:
    """Open an alert, or add this hit to the customer's open alert of the same type.

    Flushes only; the caller's unit of work commits. Concurrent hits for the same customer and
    type meet on a unique index and end up in one alert.
    """
    now = now or utcnow()
    ids = [i for i in dict.fromkeys(transaction_ids) if i is not None]
    hit = _hit(now, explanation, ids, details)
    alert = _open_case(session, user_id=user_id, alert_type=alert_type) if user_id else None
    created = False
    if alert is None:
        # A new alert names the movement's transaction: write what the unit of work staged
        # (the movement itself among it) first. A hit on an open case needs no such trip: its
        # links go with the movement in the unit's one write.
        uow.of(session).flush()
        candidate = _new_alert(
            user_id=user_id,
            alert_type=alert_type,
            severity=severity,
            explanation=explanation,
            transaction_id=ids[0] if ids else None,
            hit=hit,
            score=score,
            now=now,
        )
        alert, created = _open(session, candidate)
    if not created:
        _add_hit(alert, hit, severity=severity, score=score, explanation=explanation, now=now)
    _link(session, alert, ids)
    audit.record(
        session,
        "compliance.alert_raised" if created else "compliance.alert_hit_added",
        resource_type="compliance_alert",
        resource=alert,
        changes={
            "type": alert_type,
            "severity": alert.severity,
            "hit_count": alert.hit_count,
            "transactions": len(ids),
        },
    )
    return alert


def _new_alert(
    *,
    user_id: int | None,
    alert_type: str,
    severity: str,
    explanation: str,
    transaction_id: int | None,
    hit: dict,
    score: int,
    now: datetime,
) -> ComplianceAlert:
    """An open alert of one hit; a customer's is the case of its type (`case_key`)."""
    return ComplianceAlert(
        alert_type=alert_type,
        case_key=alert_type if user_id is not None else None,
        severity=severity,
        status=AlertStatus.OPEN.value,
        user_id=user_id,
        transaction_id=transaction_id,
        score=score,
        rules=[alert_type],
        explanation=explanation,
        details={"hits": [hit]},
        hit_count=1,
        last_hit_at=now,
    )


def _open(session: Session, candidate: ComplianceAlert) -> tuple[ComplianceAlert, bool]:
    """Insert a new alert; (alert, created). A customer's case that a concurrent hit opened
    first (the unique index on open cases) is taken instead, locked."""
    if candidate.user_id is None:
        session.add(candidate)
        session.flush()
        return candidate, True
    try:
        with session.begin_nested():
            session.add(candidate)
            session.flush()
        return candidate, True
    except IntegrityError:
        alert = _open_case(session, user_id=candidate.user_id, alert_type=candidate.alert_type)
        if alert is None:
            raise
        return alert, False


def _add_hit(
    alert: ComplianceAlert, hit: dict, *, severity: str, score: int, explanation: str, now: datetime
) -> None:
    """One more hit on an open case: counted, the highest severity and score kept, the
    latest MAX_HITS_KEPT hits listed."""
    alert.hit_count += 1
    alert.last_hit_at = now
    alert.severity = _max_severity(alert.severity, severity)
    alert.score = max(alert.score, score)
    alert.explanation = explanation
    hits = [*(alert.details or {}).get("hits", []), hit]
    alert.details = {**(alert.details or {}), "hits": hits[-MAX_HITS_KEPT:]}


def _hit(now: datetime, explanation: str, ids: list[int], details: dict | None) -> dict:
    return {
        "at": now.isoformat(),
        "explanation": explanation,
        "transaction_ids": ids,
        **({"facts": details} if details else {}),
    }


def _open_case(session: Session, *, user_id: int, alert_type: str) -> ComplianceAlert | None:
    return session.scalar(
        sa.select(ComplianceAlert)
        .where(
            ComplianceAlert.user_id == user_id,
            ComplianceAlert.case_key == alert_type,
            ComplianceAlert.status == AlertStatus.OPEN.value,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _link(session: Session, alert: ComplianceAlert, ids: list[int]) -> None:
    """Link the transactions behind a hit to the alert (staged: written with the unit)."""
    if ids:
        uow.of(session).stage(_write_links, (alert.id, ids, utcnow()))


def _merged_links(items: list[tuple[int, list[int], datetime]]) -> list[dict]:
    """One insert per alert (two hits of one unit may share transactions)."""
    merged: dict[int, dict] = {}
    for alert_id, ids, at in items:
        entry = merged.setdefault(alert_id, {"alert_id": alert_id, "ids": [], "at": at})
        entry["ids"] = list(dict.fromkeys([*entry["ids"], *ids]))
    return list(merged.values())


def _build_link_insert(prefix: str) -> sa.Insert:
    """Insert the links an alert does not have yet, from an array of transaction ids."""
    table = AlertTransaction.__table__
    alert_id = sa.bindparam(f"{prefix}alert_id", type_=sa.BigInteger)
    ids = (
        sa.func.unnest(sa.bindparam(f"{prefix}ids", type_=postgresql.ARRAY(sa.BigInteger)))
        .table_valued("id")
        .render_derived(name="t")
    )
    known = table.alias("known")
    rows = sa.select(
        alert_id, ids.c.id, sa.bindparam(f"{prefix}at", type_=table.c.created_at.type)
    ).where(~sa.exists().where(known.c.alert_id == alert_id, known.c.transaction_id == ids.c.id))
    return postgresql.insert(table).from_select(["alert_id", "transaction_id", "created_at"], rows)


_LINK_INSERTS: dict[str, sa.Insert] = {}


def _link_insert(prefix: str) -> sa.Insert:
    stmt = _LINK_INSERTS.get(prefix)
    if stmt is None:
        stmt = _LINK_INSERTS[prefix] = _build_link_insert(prefix)
    return stmt


def _write_links(session: Session, items: list[tuple[int, list[int], datetime]]) -> None:
    """Insert the staged links (the unit of work calls it; the alert row is locked)."""
    table = AlertTransaction.__table__
    for entry in _merged_links(items):
        if session.get_bind().dialect.name == "postgresql":
            session.execute(_link_insert(""), entry)
            continue
        known = set(
            session.scalars(
                sa.select(table.c.transaction_id).where(
                    table.c.alert_id == entry["alert_id"], table.c.transaction_id.in_(entry["ids"])
                )
            )
        )
        new = [i for i in entry["ids"] if i not in known]
        if new:
            session.execute(
                sa.insert(table),
                [
                    {"alert_id": entry["alert_id"], "transaction_id": i, "created_at": entry["at"]}
                    for i in new
                ],
            )


@uow.composes(_write_links)
def _compose_links(session: Session, items: list[tuple[int, list[int], datetime]]) -> list:
    parts = []
    for entry in _merged_links(items):

        def values(prefix: str, entry: dict = entry) -> dict:
            return {f"{prefix}{name}": value for name, value in entry.items()}

        parts.append(uow.Part(("alert_links",), _link_insert, values))
    return parts


# --- alerts raised by the transaction review (held transfers) ---------------------------------


def raise_transaction_alert(
    session: Session, *, user_id: int | None, transaction, score: int, rules: list[str]
) -> ComplianceAlert:
    """Open an alert for a transaction the risk rules held (flushes; the caller commits)."""
    alert = ComplianceAlert(
        alert_type="transaction_review",
        severity="high" if score >= 80 else "medium",
        status=AlertStatus.OPEN.value,
        user_id=user_id,
        transaction=transaction,
        score=score,
        rules=list(rules),
        explanation="Held for review by the risk rules: " + ", ".join(rules) + ".",
        hit_count=1,
        last_hit_at=utcnow(),
    )
    session.add(alert)
    session.flush()
    if transaction is not None and transaction.id is not None:
        session.add(AlertTransaction(alert_id=alert.id, transaction_id=transaction.id))
    audit.record(
        session,
        "compliance.alert_raised",
        resource_type="compliance_alert",
        resource=alert,
        changes={"alert_type": alert.alert_type, "score": score, "rules": list(rules)},
    )
    return alert


def resolve_transaction_alerts(
    session: Session,
    *,
    transaction_id: int,
    resolution: str,
    officer_id: int | None,
    notes: str | None,
) -> None:
    """Close the open alerts of a transaction with the officer's decision (flushes only)."""
    alerts = session.scalars(
        sa.select(ComplianceAlert).where(
            ComplianceAlert.transaction_id == transaction_id,
            ComplianceAlert.status == AlertStatus.OPEN.value,
        )
    ).all()
    for alert in alerts:
        alert.status = AlertStatus.RESOLVED.value
        alert.resolution = resolution
        alert.notes = notes
        alert.resolved_by_id = officer_id
        alert.resolved_at = utcnow()
        if officer_id is not None:
            session.add(
                AlertNote(
                    alert_id=alert.id, author_id=officer_id, kind=resolution, body=notes or ""
                )
            )
        audit.record(
            session,
            "compliance.alert_resolved",
            resource_type="compliance_alert",
            resource=alert,
            changes={"resolution": resolution},
        )


# --- case review --------------------------------------------------------------------------------


def list_alerts(
    session: Session,
    *,
    status: str | None = None,
    severity: str | None = None,
    alert_type: str | None = None,
    assigned_to: uuid.UUID | None = None,
    customer_id: uuid.UUID | None = None,
    limit: int,
    cursor: str | None = None,
) -> Page:
    """Alerts newest first, filtered, one keyset page at a time."""
    stmt = sa.select(ComplianceAlert).options(
        selectinload(ComplianceAlert.user), selectinload(ComplianceAlert.assigned_to)
    )
    if status:
        stmt = stmt.where(ComplianceAlert.status == status)
    if severity:
        stmt = stmt.where(ComplianceAlert.severity == severity)
    if alert_type:
        stmt = stmt.where(ComplianceAlert.alert_type == alert_type)
    if assigned_to:
        stmt = stmt.where(
            ComplianceAlert.assigned_to_id
            == sa.select(User.id).where(User.public_id == assigned_to).scalar_subquery()
        )
    if customer_id:
        stmt = stmt.where(
            ComplianceAlert.user_id
            == sa.select(User.id).where(User.public_id == customer_id).scalar_subquery()
        )
    return paginate(session, stmt, model=ComplianceAlert, limit=limit, cursor=cursor)


def get_alert(
    session: Session, *, alert_id: uuid.UUID, for_update: bool = False
) -> ComplianceAlert:
    """One alert with its customer, transactions and notes (raises 404 when unknown)."""
    stmt = (
        sa.select(ComplianceAlert)
        .where(ComplianceAlert.public_id == alert_id)
        .options(
            selectinload(ComplianceAlert.links).joinedload(AlertTransaction.transaction),
            selectinload(ComplianceAlert.alert_notes),
            selectinload(ComplianceAlert.user),
            selectinload(ComplianceAlert.assigned_to),
            selectinload(ComplianceAlert.resolved_by),
        )
    )
    if for_update:
        stmt = stmt.with_for_update(of=ComplianceAlert).execution_options(populate_existing=True)
    alert = session.scalar(stmt)
    if alert is None:
        raise AlertNotFound()
    return alert


def alert_transactions(alert: ComplianceAlert) -> list:
    """The transactions behind an alert, oldest first (the held one included)."""
    seen: dict[int, object] = {}
    if alert.transaction is not None:
        seen[alert.transaction.id] = alert.transaction
    for link in alert.links:
        seen.setdefault(link.transaction_id, link.transaction)
    return sorted(seen.values(), key=lambda t: (t.created_at, t.id))  # type: ignore[attr-defined]


def _not_about_self(alert: ComplianceAlert, officer: User) -> None:
    if alert.user_id == officer.id:
        raise Forbidden("You may not review an alert about yourself.")


def assign_alert(
    session: Session, *, officer: User, alert_id: uuid.UUID, assignee_id: uuid.UUID | None = None
) -> ComplianceAlert:
    """Assign an open alert to an officer (by default the caller)."""
    alert = get_alert(session, alert_id=alert_id, for_update=True)
    _not_about_self(alert, officer)
    if alert.status != AlertStatus.OPEN.value:
        raise Conflict("The alert is already resolved.")
    assignee = officer
    if assignee_id is not None and assignee_id != officer.public_id:
        assignee = session.scalar(sa.select(User).where(User.public_id == assignee_id))
        if assignee is None or not assignee.has_role("compliance_officer"):
            raise ValidationError(
                "The assignee is not a compliance officer.",
                details={"assignee_id": ["Not a compliance officer."]},
            )
        if alert.user_id == assignee.id:
            raise ValidationError(
                "An officer may not review an alert about themself.",
                details={"assignee_id": ["The alert is about this officer."]},
            )
    alert.assigned_to_id = assignee.id
    session.add(
        AlertNote(
            alert_id=alert.id, author_id=officer.id, kind="assigned", body=str(assignee.public_id)
        )
    )
    audit.record(
        session,
        "compliance.alert_assigned",
        resource_type="compliance_alert",
        resource=alert,
        changes={"assigned_to": str(assignee.public_id)},
    )
    uow.commit(session)
    return get_alert(session, alert_id=alert_id)


def resolve_alert(
    session: Session, *, officer: User, alert_id: uuid.UUID, resolution: str, notes: str
) -> ComplianceAlert:
    """Close an alert as dismissed, escalated or sar_filed, with the officer's notes."""
    if resolution not in {r.value for r in AlertResolution}:
        raise ValidationError(details={"resolution": ["Unknown resolution."]})
    alert = get_alert(session, alert_id=alert_id, for_update=True)
    _not_about_self(alert, officer)
    if alert.status != AlertStatus.OPEN.value:
        raise Conflict("The alert is already resolved.")
    alert.status = AlertStatus.RESOLVED.value
    alert.resolution = resolution
    alert.notes = notes
    alert.resolved_by_id = officer.id
    alert.resolved_at = utcnow()
    session.add(AlertNote(alert_id=alert.id, author_id=officer.id, kind=resolution, body=notes))
    audit.record(
        session,
        "compliance.alert_resolved",
        resource_type="compliance_alert",
        resource=alert,
        changes={"resolution": resolution, "notes": notes},
    )
    uow.commit(session)
    return get_alert(session, alert_id=alert_id)
