"""The audit trail for regulators: filtered lists, streamed offline-verifiable exports, verify.

An export is a bundle an auditor can check without us: every row carries its `sequence`,
`prev_hash`, `hash` and the `digest` of its content, and the stream ends with a trailer naming
the chain head, the number of rows, the gaps the filters left and a hash over the rows
(`app/core/audit/chain.py` verifies it with Python's standard library alone). The export is
audited twice: when it starts (who, which filters) and when it ends (how many rows, their
hash), so that the trailer itself is anchored in the chain.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.models import User
from app.core import audit, uow
from app.core.audit import AuditLog, AuditSeal
from app.core.audit.chain import EXPORT_COLUMNS, EXPORT_FORMAT, TRAILER_MARK, RowsHash
from app.core.db import utcnow
from app.core.errors import ValidationError
from app.core.pagination import Page

_log = AuditLog.__table__
_seal = AuditSeal.__table__
PAGE = 500


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


def period_bounds(start: date | datetime | None, end: date | datetime | None):
    """`from` and `to` as instants; a date `to` includes that whole day."""

    def instant(value, *, end_of_day: bool) -> datetime | None:
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
    session: Session, *, filters: AuditFilters, limit: int, cursor: str | None = None
) -> Page:
    """Audit records matching the filters, newest first in chain order (keyset pages)."""
    audit.seal(session.get_bind())
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


# --- export ------------------------------------------------------------------------------------


@dataclass
class Export:
    """A started export: its file name, media type and the lines to stream."""

    engine: sa.Engine
    filters: AuditFilters
    fmt: str
    officer_public_id: str
    started_at: datetime
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def filename(self) -> str:
        return f"audit-log_{self.filters.period_label()}.{'csv' if self.fmt == 'csv' else 'jsonl'}"

    @property
    def mimetype(self) -> str:
        return "text/csv" if self.fmt == "csv" else "application/x-ndjson"

    def lines(self) -> Iterator[str]:
        """The file, page by page from one snapshot: memory stays flat however many rows."""
        rows_hash = RowsHash()
        count = gaps = 0
        first = last = None
        last_hash = None
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if self.fmt == "csv":
            writer.writerow(EXPORT_COLUMNS)
            yield _drain(buffer)
        snapshot = self.engine.connect()
        if self.engine.dialect.name == "postgresql":
            snapshot = snapshot.execution_options(isolation_level="REPEATABLE READ")
        with snapshot as conn, conn.begin():
            head = conn.execute(
                sa.text("SELECT sequence, hash FROM audit_chain_head WHERE id = 1")
            ).one()
            unsealed = conn.execute(sa.text(audit.UNSEALED_SQL)).one().n
            after = 0
            while True:
                page = conn.execute(_export_query(self.filters), {"after": after}).all()
                if not page:
                    break
                for row in page:
                    if last is not None and row.sequence != last + 1:
                        gaps += 1
                    rows_hash.add(row.sequence, row.hash)
                    count += 1
                    first = first if first is not None else row.sequence
                    last, last_hash = row.sequence, row.hash
                    if self.fmt == "csv":
                        writer.writerow(_csv_values(row))
                    else:
                        buffer.write(json.dumps(_json_row(row), ensure_ascii=False))
                        buffer.write("\n")
                yield _drain(buffer)
                after = page[-1].sequence
        trailer = {
            "format": EXPORT_FORMAT,
            "records": count,
            "first_sequence": first,
            "last_sequence": last,
            "last_hash": last_hash,
            "gaps": gaps,
            "rows_hash": rows_hash.hexdigest(),
            "head_sequence": head.sequence,
            "head_hash": head.hash,
            "unsealed_excluded": unsealed,
            "filters": self.filters.as_dict(),
            "exported_at": self.started_at.isoformat(),
            "exported_by": self.officer_public_id,
        }
        if self.fmt == "csv":
            writer.writerow([TRAILER_MARK, json.dumps(trailer, ensure_ascii=False)])
        else:
            buffer.write(json.dumps({"chain": trailer}, ensure_ascii=False) + "\n")
        yield _drain(buffer)
        self.summary = trailer
        _record_completion(self.engine, self.officer_public_id, trailer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def _export_query(filters: AuditFilters) -> sa.Select:
    changes = sa.cast(_log.c.changes, sa.Text).label("changes")
    personal = sa.cast(_log.c.personal, sa.Text).label("personal")
    return (
        sa.select(
            _seal.c.sequence,
            _log.c.public_id,
            _log.c.occurred_at,
            _log.c.actor_id,
            _log.c.actor_role,
            _log.c.action,
            _log.c.resource_type,
            _log.c.resource_id,
            _log.c.outcome,
            _log.c.request_id,
            changes,
            _log.c.personal_digest,
            _log.c.digest,
            _seal.c.prev_hash,
            _seal.c.hash,
            _log.c.ip,
            _log.c.user_agent,
            personal,
        )
        .select_from(_seal.join(_log, _log.c.id == _seal.c.record_id))
        .where(_seal.c.sequence > sa.bindparam("after"), *filters.where())
        .order_by(_seal.c.sequence)
        .limit(PAGE)
    )


def _time_text(value: datetime) -> str:
    return audit.format_time(value)


def _json_row(row: sa.Row) -> dict[str, Any]:
    return {
        "sequence": row.sequence,
        "id": str(row.public_id),
        "occurred_at": _time_text(row.occurred_at),
        "actor_id": row.actor_id,
        "actor_role": row.actor_role,
        "action": row.action,
        "resource_type": row.resource_type,
        "resource_id": row.resource_id,
        "outcome": row.outcome,
        "request_id": row.request_id,
        "changes": json.loads(row.changes) if row.changes is not None else None,
        "personal_digest": row.personal_digest,
        "digest": row.digest,
        "prev_hash": row.prev_hash,
        "hash": row.hash,
        "ip": row.ip,
        "user_agent": row.user_agent,
        "personal": json.loads(row.personal) if row.personal is not None else None,
    }


def _csv_values(row: sa.Row) -> list[Any]:
    values = _json_row(row)
    values["changes"] = row.changes
    values["personal"] = row.personal
    return ["" if values[name] is None else values[name] for name in EXPORT_COLUMNS]


def _record_completion(engine: sa.Engine, officer_public_id: str, trailer: dict) -> None:
    with Session(bind=engine) as session:
        audit.record(
            session,
            "audit.export_completed",
            resource_type="audit_log",
            actor_id=officer_public_id,
            changes={
                key: trailer[key]
                for key in ("records", "first_sequence", "last_sequence", "gaps", "rows_hash")
            },
        )
        uow.commit(session)


def start_export(session: Session, *, officer: User, filters: AuditFilters, fmt: str) -> Export:
    """Audit the export, seal what can be sealed, and hand back the stream to send."""
    audit.record(
        session,
        "audit.exported",
        resource_type="audit_log",
        changes={"format": fmt, "filters": filters.as_dict()},
    )
    uow.commit(session)
    engine = session.get_bind()
    audit.seal(engine)
    return Export(
        engine=engine,
        filters=filters,
        fmt=fmt,
        officer_public_id=str(officer.public_id),
        started_at=utcnow(),
    )
