"""Case review: list, read, assign, resolve the alerts (`alerts.py` raises them). Every step is
audited with the officer as actor.

`get_alert` is the one read of an alert with everything behind it (the customer, the
transactions, the notes), for the API and for reports such as a SAR draft.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from app.auth.models import User
from app.compliance.alerts import alert_event
from app.compliance.models import (
    AlertNote,
    AlertResolution,
    AlertStatus,
    AlertTransaction,
    ComplianceAlert,
)
from app.compliance.rating import CASE_RESOLUTIONS, rerate
from app.core import audit, uow
from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden, NotFound, ValidationError
from app.core.pagination import Page, paginate
from app.ledger.models import JournalTransaction


class AlertNotFound(NotFound):
    message = "The alert was not found."


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
        selectinload(ComplianceAlert.user),
        selectinload(ComplianceAlert.assigned_to),
        selectinload(ComplianceAlert.risk),
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


def alert_transactions(alert: ComplianceAlert) -> list[JournalTransaction]:
    """The transactions behind an alert, oldest first (the held one included)."""
    seen: dict[int, JournalTransaction] = {}
    if alert.transaction is not None:
        seen[alert.transaction.id] = alert.transaction
    for link in alert.links:
        seen.setdefault(link.transaction_id, link.transaction)
    return sorted(seen.values(), key=lambda t: (t.created_at, t.id))


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
        found = session.scalar(sa.select(User).where(User.public_id == assignee_id))
        if found is None or not found.has_role("compliance_officer"):
            raise ValidationError(
                "The assignee is not a compliance officer.",
                details={"assignee_id": ["Not a compliance officer."]},
            )
        if alert.user_id == found.id:
            raise ValidationError(
                "An officer may not review an alert about themself.",
                details={"assignee_id": ["The alert is about this officer."]},
            )
        assignee = found
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
    alert_event(session, alert, "alert.decided")
    if alert.user_id is not None and resolution in CASE_RESOLUTIONS:
        rerate(session, user_id=alert.user_id, reason="case_opened")
    uow.commit(session)
    return get_alert(session, alert_id=alert_id)
