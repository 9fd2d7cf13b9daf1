"""The audit trail for regulators: the filters, filtered lists and the chain's verification.

The streamed offline-verifiable export is in `app.audit.export`.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.models import User
from app.core import audit, uow
from app.core.audit import AuditLog
from app.core.db import table_of
from app.core.errors import ValidationError
from app.core.pagination import Page

_log = table_of(AuditLog)


@dataclass(frozen=True)
class AuditFilters:
    actor_id: str | None = None
    action: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None

    def where(self) -> list[sa.ColumnElement[bool]]:
        conditions = []
        for name in ("actor_id", "action", "resource_type", "resource_id"):
            value = getattr(self, name)
            if value is not None:
                conditions.append(_log.c[name] == value)
        if self.start is not None:
            conditions.append(_log.c.occurred_at >= self.start)
        if self.end is not None:
            conditions.append(_log.c.occurred_at < self.end)
        return conditions

    def as_dict(self) -> dict[str, Any]:
        return {
            name: value.isoformat() if isinstance(value, datetime) else value
            for name, value in (
                ("actor_id", self.actor_id),
                ("action", self.action),
                ("resource_type", self.resource_type),
                ("resource_id", self.resource_id),
                ("from", self.start),
                ("to", self.end),
            )
            if value is not None
        }

    def period_label(self) -> str:
        def label(value: datetime | None, default: str, *, last_day: bool = False) -> str:
            if value is None:
                return default
            if value.time() == time(0):  # whole days: `to` names the last day included
                return (value - timedelta(days=1 if last_day else 0)).date().isoformat()
            return value.astimezone(UTC).strftime("%Y-%m-%dT%H%M%SZ")

        return f"{label(self.start, 'start')}_{label(self.end, 'now', last_day=True)}"


def period_bounds(
    start: date | datetime | None, end: date | datetime | None
) -> tuple[datetime | None, datetime | None]:
    """`from` and `to` as instants; a date `to` includes that whole day."""

    def instant(value: date | datetime | None, *, end_of_day: bool) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        moment = datetime.combine(value, time(0), tzinfo=UTC)
        return moment + timedelta(days=1) if end_of_day else moment

    lower, upper = instant(start, end_of_day=False), instant(end, end_of_day=True)
    if lower is not None and upper is not None and upper <= lower:
        raise ValidationError("`to` must be after `from`.", details={"to": ["Before `from`."]})
    return lower, upper


def engine_of(session: Session) -> sa.Engine:
    """The engine `session` is bound to: the sealer opens its own connections on it."""
    bind = session.get_bind()
    if not isinstance(bind, sa.Engine):
        raise TypeError("the audit trail needs a session bound to an engine, not a connection")
    return bind


# --- list --------------------------------------------------------------------------------------


def _encode_cursor(public_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(public_id.bytes).decode().rstrip("=")


def _decode_cursor(cursor: str) -> uuid.UUID:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return uuid.UUID(bytes=raw)
    except (ValueError, TypeError) as exc:
        raise ValidationError(
            "The cursor is not valid.", details={"cursor": ["Not a cursor from this API."]}
        ) from exc


def list_records(
    session: Session,
    *,
    filters: AuditFilters,
    limit: int,
    cursor: str | None = None,
    reader: Session | None = None,
) -> Page:
    """Audit records matching the filters, newest first in chain order (keyset pages).

    `session` seals what can be sealed (on the primary); the records are read with `reader`
    (by default `session`), which may be a replica's and lag behind.
    """
    audit.seal(engine_of(session))
    session = reader or session
    stmt = sa.select(AuditLog).where(*filters.where())
    if cursor:
        position = session.execute(
            sa.select(AuditLog.txid, AuditLog.id).where(
                AuditLog.public_id == _decode_cursor(cursor)
            )
        ).one_or_none()
        if position is None:
            raise ValidationError(
                "The cursor is not valid.", details={"cursor": ["Not a cursor from this API."]}
            )
        stmt = stmt.where(sa.tuple_(AuditLog.txid, AuditLog.id) < sa.tuple_(*position))
    rows = list(
        session.scalars(
            stmt.options(sa.orm.selectinload(AuditLog.seal))
            .order_by(AuditLog.txid.desc(), AuditLog.id.desc())
            .limit(limit + 1)
        )
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = _encode_cursor(rows[-1].public_id)
    return Page(items=[present(row) for row in rows], next_cursor=next_cursor)


def present(row: AuditLog) -> dict[str, Any]:
    """A record as the API shows it: personal values put back (or `[erased]`)."""
    return {
        "id": row.public_id,
        "sequence": row.sequence,
        "occurred_at": row.occurred_at,
        "actor_id": row.actor_id,
        "actor_role": row.actor_role,
        "action": row.action,
        "resource_type": row.resource_type,
        "resource_id": row.resource_id,
        "ip": row.ip,
        "user_agent": row.user_agent,
        "request_id": row.request_id,
        "changes": audit.join_personal(row.changes, row.personal),
        "outcome": row.outcome,
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }


# --- verify ------------------------------------------------------------------------------------


def verify_chain(session: Session, *, officer: User) -> dict[str, Any]:
    """Seal, then check the whole chain (as `flask audit verify` does); the check is audited."""
    result = audit.verify(session)
    audit.record(
        session,
        "audit.verified",
        resource_type="audit_log",
        changes={
            "valid": result.valid,
            "records_checked": result.records_checked,
            "head_hash": result.head_hash,
            "unsealed": result.unsealed,
        },
    )
    uow.commit(session)
    return result.as_dict()
