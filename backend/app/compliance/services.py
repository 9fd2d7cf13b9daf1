"""Compliance use cases used by other domains (alerts on transactions held for review)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.compliance.models import AlertStatus, ComplianceAlert
from app.core import audit
from app.core.db import utcnow
from app.ledger.engine import PolicyContext


def raise_transaction_alert(
    session: Session, *, user_id: int, transaction, score: int, rules: list[str]
) -> ComplianceAlert:
    """Open an alert for a transaction the fraud rules held (flushes; the caller commits)."""
    alert = ComplianceAlert(
        alert_type="transaction_review",
        severity="high" if score >= 80 else "medium",
        status=AlertStatus.OPEN.value,
        user_id=user_id,
        transaction=transaction,
        score=score,
        rules=list(rules),
    )
    session.add(alert)
    audit.record(
        session,
        "compliance.alert_raised",
        resource_type="compliance_alert",
        resource=alert,
        changes={"alert_type": alert.alert_type, "score": score, "rules": list(rules)},
    )
    return alert


def resolve_transaction_alerts(
    session: Session, *, transaction_id: int, resolution: str, officer_id: int, notes: str | None
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
        audit.record(
            session,
            "compliance.alert_resolved",
            resource_type="compliance_alert",
            resource=alert,
            changes={"resolution": resolution},
        )


def observe_reviews(ctx: PolicyContext, txn) -> None:
    """An engine observer: alert on a movement held for review; close it when decided."""
    if ctx.event == "review":
        raise_transaction_alert(
            ctx.session,
            user_id=ctx.customer.id if ctx.customer else None,
            transaction=txn,
            score=txn.risk_score,
            rules=list(txn.risk_rules or []),
        )
    elif ctx.event in ("approved", "rejected"):
        resolve_transaction_alerts(
            ctx.session,
            transaction_id=txn.id,
            resolution=ctx.event,
            officer_id=ctx.movement.initiator_id,
            notes=ctx.movement.metadata.get("notes"),
        )
