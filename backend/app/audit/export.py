"""The audit trail's export: a streamed, offline-verifiable CSV or JSON Lines file.

An export is a bundle an auditor can check without us: every row carries its `sequence`,
`prev_hash`, `hash` and the `digest` of its content, and the stream ends with a trailer naming
the chain head, the number of rows, the gaps the filters left and a hash over the rows
(`app/core/audit/chain.py` verifies it with Python's standard library alone). The export is
audited twice: when it starts (who, which filters) and when it ends (how many rows, their
hash), so that the trailer itself is anchored in the chain.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.audit.trail import AuditFilters, engine_of
from app.auth.models import User
from app.core import audit, uow
from app.core.audit import (
    EXPORT_COLUMNS,
    EXPORT_FORMAT,
    TRAILER_MARK,
    AuditLog,
    AuditSeal,
    RowsHash,
)
from app.core.db import table_of, utcnow

if TYPE_CHECKING:
    from _csv import Writer

_log = table_of(AuditLog)
_seal = table_of(AuditSeal)
PAGE = 500


@dataclass
class _Tally:
    """What the trailer tells about the rows written: how many, the gaps, their hash."""

    rows_hash: RowsHash = field(default_factory=RowsHash)
    count: int = 0
    gaps: int = 0
    first: int | None = None
    last: int | None = None
    last_hash: str | None = None

    def add(self, row: sa.Row[Any]) -> None:
        if self.last is not None and row.sequence != self.last + 1:
            self.gaps += 1
        self.rows_hash.add(row.sequence, row.hash)
        self.count += 1
        self.first = self.first if self.first is not None else row.sequence
        self.last, self.last_hash = row.sequence, row.hash


@dataclass
class Export:
    """A started export: its file name, media type and the lines to stream."""

    engine: sa.Engine  # the primary: the completion is audited there
    reader: sa.Engine  # where the rows are read: the primary, or a replica that may lag
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
        tally = _Tally()
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if self.fmt == "csv":
            writer.writerow(EXPORT_COLUMNS)
            yield _drain(buffer)
        snapshot = self.reader.connect()
        if self.reader.dialect.name == "postgresql":
            snapshot = snapshot.execution_options(isolation_level="REPEATABLE READ")
        with snapshot as conn, conn.begin():
            head = conn.execute(
                sa.text("SELECT sequence, hash FROM audit_chain_head WHERE id = 1")
            ).one()
            unsealed = conn.execute(sa.text(audit.UNSEALED_SQL)).one().n
            for page in _pages(conn, self.filters):
                for row in page:
                    tally.add(row)
                    self._write_row(writer, buffer, row)
                yield _drain(buffer)
        trailer = self._trailer(tally, head, unsealed)
        if self.fmt == "csv":
            writer.writerow([TRAILER_MARK, json.dumps(trailer, ensure_ascii=False)])
        else:
            buffer.write(json.dumps({"chain": trailer}, ensure_ascii=False) + "\n")
        yield _drain(buffer)
        self.summary = trailer
        _record_completion(self.engine, self.officer_public_id, trailer)

    def _write_row(self, writer: Writer, buffer: io.StringIO, row: sa.Row[Any]) -> None:
        if self.fmt == "csv":
            writer.writerow(_csv_values(row))
        else:
            buffer.write(json.dumps(_json_row(row), ensure_ascii=False))
            buffer.write("\n")

    def _trailer(self, tally: _Tally, head: sa.Row[Any], unsealed: int) -> dict[str, Any]:
        return {
            "format": EXPORT_FORMAT,
            "records": tally.count,
            "first_sequence": tally.first,
            "last_sequence": tally.last,
            "last_hash": tally.last_hash,
            "gaps": tally.gaps,
            "rows_hash": tally.rows_hash.hexdigest(),
            "head_sequence": head.sequence,
            "head_hash": head.hash,
            "unsealed_excluded": unsealed,
            "filters": self.filters.as_dict(),
            "exported_at": self.started_at.isoformat(),
            "exported_by": self.officer_public_id,
        }


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def _pages(conn: sa.Connection, filters: AuditFilters) -> Iterator[Sequence[sa.Row[Any]]]:
    """The sealed records matching the filters, in sequence order, `PAGE` rows at a time."""
    query = _export_query(filters)
    after = 0
    while True:
        page = conn.execute(query, {"after": after}).all()
        if not page:
            return
        yield page
        after = page[-1].sequence


def _export_query(filters: AuditFilters) -> sa.Select[Any]:
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


def _json_row(row: sa.Row[Any]) -> dict[str, Any]:
    return {
        "sequence": row.sequence,
        "id": str(row.public_id),
        "occurred_at": audit.format_time(row.occurred_at),
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


def _csv_values(row: sa.Row[Any]) -> list[Any]:
    values = _json_row(row)
    values["changes"] = row.changes
    values["personal"] = row.personal
    return ["" if values[name] is None else values[name] for name in EXPORT_COLUMNS]


def _record_completion(engine: sa.Engine, officer_public_id: str, trailer: dict[str, Any]) -> None:
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


def start_export(
    session: Session,
    *,
    officer: User,
    filters: AuditFilters,
    fmt: str,
    reader: Session | None = None,
) -> Export:
    """Audit the export, seal what can be sealed, and hand back the stream to send; its rows
    are read with `reader` (by default `session`), which may be a replica's."""
    audit.record(
        session,
        "audit.exported",
        resource_type="audit_log",
        changes={"format": fmt, "filters": filters.as_dict()},
    )
    uow.commit(session)
    engine = engine_of(session)
    audit.seal(engine)
    return Export(
        engine=engine,
        reader=engine_of(reader or session),
        filters=filters,
        fmt=fmt,
        officer_public_id=str(officer.public_id),
        started_at=utcnow(),
    )
