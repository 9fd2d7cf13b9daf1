"""Raising alerts: one open case per customer and pattern (AML rules, sanctions hits), and the
alerts of movements held for review. Every alert raised is audited, and a new one re-rates
its customer's risk (`rating.rerate`).

An officer reviews the cases in `cases.py`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.compliance.models import (
    AlertNote,
    AlertStatus,
    AlertTransaction,
    ComplianceAlert,
    Severity,
)
from app.compliance.rating import rerate
from app.core import audit, events, uow
from app.core.db import table_of, utcnow
from app.ledger.models import JournalTransaction

SEVERITY_ORDER = [s.value for s in Severity]
MAX_HITS_KEPT = 50


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
    details: dict[str, Any] | None = None,
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
    _audit_hit(session, alert, created=created, alert_type=alert_type, transactions=len(ids))
    if created and user_id is not None:
        rerate(session, user_id=user_id, reason="alert_raised")
    return alert


def alert_event(session: Session, alert: ComplianceAlert, kind: str) -> None:
    """`alert.raised` or `alert.decided` for the compliance queue (no customer data in it)."""
    events.emit(
        session,
        kind,
        {
            "alert_id": str(alert.public_id),
            "alert_type": alert.alert_type,
            "severity": alert.severity,
            "status": alert.status,
            "resolution": alert.resolution,
        },
        audience="compliance",
    )


def _audit_hit(
    session: Session, alert: ComplianceAlert, *, created: bool, alert_type: str, transactions: int
) -> None:
    """`compliance.alert_raised` for a new case, `compliance.alert_hit_added` for another hit."""
    audit.record(
        session,
        "compliance.alert_raised" if created else "compliance.alert_hit_added",
        resource_type="compliance_alert",
        resource=alert,
        changes={
            "type": alert_type,
            "severity": alert.severity,
            "hit_count": alert.hit_count,
            "transactions": transactions,
        },
    )
    if created:
        alert_event(session, alert, "alert.raised")


def _new_alert(
    *,
    user_id: int | None,
    alert_type: str,
    severity: str,
    explanation: str,
    transaction_id: int | None,
    hit: dict[str, Any],
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
    alert: ComplianceAlert,
    hit: dict[str, Any],
    *,
    severity: str,
    score: int,
    explanation: str,
    now: datetime,
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


def _hit(
    now: datetime, explanation: str, ids: list[int], details: dict[str, Any] | None
) -> dict[str, Any]:
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


def _merged_links(items: list[tuple[int, list[int], datetime]]) -> list[dict[str, Any]]:
    """One insert per alert (two hits of one unit may share transactions)."""
    merged: dict[int, dict[str, Any]] = {}
    for alert_id, ids, at in items:
        entry = merged.setdefault(alert_id, {"alert_id": alert_id, "ids": [], "at": at})
        entry["ids"] = list(dict.fromkeys([*entry["ids"], *ids]))
    return list(merged.values())


def _build_link_insert(prefix: str) -> sa.Insert:
    """Insert the links an alert does not have yet, from an array of transaction ids."""
    table = table_of(AlertTransaction)
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
    table = table_of(AlertTransaction)
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
def _compose_links(
    session: Session, items: list[tuple[int, list[int], datetime]]
) -> list[uow.Part]:
    parts = []
    for entry in _merged_links(items):

        def values(prefix: str, entry: dict[str, Any] = entry) -> dict[str, Any]:
            return {f"{prefix}{name}": value for name, value in entry.items()}

        parts.append(uow.Part(("alert_links",), _link_insert, values))
    return parts


# --- alerts raised by the transaction review (held transfers) ---------------------------------


def raise_transaction_alert(
    session: Session,
    *,
    user_id: int | None,
    transaction: JournalTransaction | None,
    score: int,
    rules: list[str],
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
    alert_event(session, alert, "alert.raised")
    if user_id is not None:
        rerate(session, user_id=user_id, reason="alert_raised")
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
        alert_event(session, alert, "alert.decided")
