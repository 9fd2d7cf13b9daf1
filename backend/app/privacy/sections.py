"""The privacy domain's own sections: the audit records about the person and their erasure
requests.

Audit records keep their personal values beside the hashed part: erasure nulls those values
(IP, user agent, the personal part of `changes`) and leaves the chain, so `audit verify` stays
clean.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from app.auth.models import User
from app.core import audit
from app.core.audit import AuditLog
from app.core.personal_data import Section, personal_data, time_text
from app.privacy.models import ErasureRequest


def register(app: Flask) -> None:
    """Add the sections to the app's personal-data registry."""
    registry = personal_data(app)
    registry.add(Section("audit_records", 600, export=_audit_records, erase=_erase_audit))
    registry.add(Section("erasure_requests", 610, export=_erasure_requests))


def _about(user: User) -> sa.ColumnElement[bool]:
    public_id = str(user.public_id)
    return sa.or_(
        AuditLog.actor_id == public_id,
        sa.and_(AuditLog.resource_type == "user", AuditLog.resource_id == public_id),
    )


def _audit_records(session: Session, user: User) -> list[dict[str, Any]]:
    rows = session.scalars(sa.select(AuditLog).where(_about(user)).order_by(AuditLog.id))
    return [
        {
            "id": str(row.public_id),
            "occurred_at": time_text(row.occurred_at),
            "action": row.action,
            "outcome": row.outcome,
            "resource_type": row.resource_type,
            "resource_id": row.resource_id,
            "ip": row.ip,
            "user_agent": row.user_agent,
            "changes": audit.join_personal(row.changes, row.personal),
        }
        for row in rows
    ]


def _erasure_requests(session: Session, user: User) -> list[dict[str, Any]]:
    rows = session.scalars(
        sa.select(ErasureRequest)
        .where(ErasureRequest.user_id == user.id)
        .order_by(ErasureRequest.id)
    )
    return [
        {"id": str(r.public_id), "status": r.status, "requested_at": time_text(r.requested_at)}
        for r in rows
    ]


def _erase_audit(session: Session, user: User, pseudonym: str) -> None:
    """Personal values beside the audit records about the person; the chain is untouched."""
    session.execute(
        sa.update(AuditLog)
        .where(_about(user))
        .where(
            sa.or_(
                AuditLog.ip.is_not(None),
                AuditLog.user_agent.is_not(None),
                AuditLog.personal.is_not(None),
            )
        )
        .values(ip=None, user_agent=None, personal=sa.null())
        .execution_options(synchronize_session=False)
    )
