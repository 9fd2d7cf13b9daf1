"""The append-only, hash-chained audit log.

`record(...)` is called by services inside their unit of work. It only queues the record on the
session; the records are written by a `before_commit` hook, in the same database transaction as
the change they describe, so a rolled-back change leaves no record and a committed one always
has one.

Chaining: each record's `hash` is SHA-256 over the previous record's hash and a canonical JSON
serialization of the record. The chain head (last sequence and hash) lives in one row of
`audit_chain_head`. Writers lock that row as the very last step before COMMIT, so the lock is
held only for the insert of the audit rows and the commit itself, never for the business work
of the request (docs/audit-log.md explains the choice).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.core import context
from app.core.db import Base, BigIntPK, real_session, utcnow

GENESIS_HASH = "0" * 64
PENDING_KEY = "audit_pending"


class AuditLog(Base):
    """One audit record. Never updated, never deleted (a trigger enforces it)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    public_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, unique=True, nullable=False)
    sequence: Mapped[int] = mapped_column(sa.BigInteger, unique=True, nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(nullable=False, index=True)
    actor_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    actor_role: Mapped[str | None] = mapped_column(sa.String(32))
    action: Mapped[str] = mapped_column(sa.String(64), nullable=False, index=True)
    resource_type: Mapped[str | None] = mapped_column(sa.String(64))
    resource_id: Mapped[str | None] = mapped_column(sa.String(64))
    outcome: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str | None] = mapped_column(sa.String(512))
    request_id: Mapped[str | None] = mapped_column(sa.String(128))
    changes: Mapped[dict | None] = mapped_column(sa.JSON)
    prev_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    hash: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)

    __table_args__ = (sa.Index("ix_audit_log_resource", "resource_type", "resource_id"),)


class AuditChainHead(Base):
    """The single row holding the last sequence and hash of the chain."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    sequence: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)


# --- masking -----------------------------------------------------------------------------------

_REDACT = {
    "password",
    "password_hash",
    "new_password",
    "current_password",
    "token",
    "access_token",
    "refresh_token",
    "secret",
    "totp_secret",
    "cvv",
    "pin",
    "pan",
    "code",
    "backup_codes",
    "credentials",
}
_PARTIAL = {
    "email",
    "phone",
    "first_name",
    "last_name",
    "name",
    "date_of_birth",
    "document_number",
    "iban",
    "account_number",
    "address",
    "beneficiary_name",
    "cardholder_name",
    "line1",
    "postal_code",
}


def _mask_string(key: str, value: str) -> str:
    if key == "email" and "@" in value:
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    if key in {"document_number", "iban", "account_number", "phone"}:
        return f"***{value[-4:]}" if len(value) > 4 else "***"
    if key == "date_of_birth":
        return f"{value[:4]}-**-**" if len(value) >= 4 else "***"
    return f"{value[:1]}***" if value else value


def mask_pii(value: Any, key: str = "") -> Any:
    """Mask personal data and redact secrets in an audit `changes` document."""
    lowered = key.lower()
    if lowered in _REDACT:
        return "[REDACTED]"
    if isinstance(value, dict):
        return {k: mask_pii(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_pii(v, key) for v in value]
    if lowered in _PARTIAL and isinstance(value, str):
        return _mask_string(lowered, value)
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float):
        # Floats have no canonical text; money never is one.
        return repr(value)
    return value


# --- canonical form and hashing ----------------------------------------------------------------


def format_time(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


HASHED_FIELDS = (
    "public_id",
    "sequence",
    "occurred_at",
    "actor_id",
    "actor_role",
    "action",
    "resource_type",
    "resource_id",
    "outcome",
    "ip",
    "user_agent",
    "request_id",
    "changes",
)


def canonical(row: dict[str, Any]) -> bytes:
    """Canonical serialization: the hashed fields, sorted keys, no whitespace, UTF-8."""
    doc = {}
    for name in HASHED_FIELDS:
        value = row.get(name)
        if isinstance(value, datetime):
            value = format_time(value)
        elif isinstance(value, uuid.UUID):
            value = str(value)
        doc[name] = value
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def compute_hash(prev_hash: str, row: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical(row)).hexdigest()


# --- recording ---------------------------------------------------------------------------------


@dataclass
class _Pending:
    action: str
    outcome: str
    resource_type: str | None
    resource_id: Any
    resource: Any
    changes: dict[str, Any] | None
    ctx: context.ActorContext
    occurred_at: datetime


def record(
    session: Session,
    action: str,
    *,
    resource_type: str | None = None,
    resource_id: Any = None,
    resource: Any = None,
    changes: dict[str, Any] | None = None,
    outcome: str = "success",
    actor_id: str | None = None,
    actor_role: str | None = None,
) -> None:
    """Queue an audit record; it is written with the caller's transaction or not at all.

    `resource` may be a model with a `public_id` not yet assigned; the id is read when the
    record is written, after the flush.
    """
    session = real_session(session)
    if not session.in_transaction():
        session.begin()  # the record belongs to this transaction: its rollback drops it
    ctx = context.current()
    if actor_id is not None or actor_role is not None:
        ctx = context.ActorContext(
            actor_id=actor_id if actor_id is not None else ctx.actor_id,
            actor_role=actor_role if actor_role is not None else ctx.actor_role,
            ip=ctx.ip,
            user_agent=ctx.user_agent,
            request_id=ctx.request_id,
        )
    session.info.setdefault(PENDING_KEY, []).append(
        _Pending(
            action=action,
            outcome=outcome,
            resource_type=resource_type,
            resource_id=resource_id,
            resource=resource,
            changes=mask_pii(changes) if changes is not None else None,
            ctx=ctx,
            occurred_at=utcnow(),
        )
    )


def _resolve_resource_id(item: _Pending) -> str | None:
    value = item.resource_id
    if value is None and item.resource is not None:
        value = getattr(item.resource, "public_id", None)
    return str(value) if value is not None else None


_LOCK_HEAD = (
    sa.select(AuditChainHead.__table__.c.sequence, AuditChainHead.__table__.c.hash)
    .where(AuditChainHead.__table__.c.id == 1)
    .with_for_update()
)
_MOVE_HEAD = (
    sa.update(AuditChainHead.__table__)
    .where(AuditChainHead.__table__.c.id == 1)
    .values(sequence=sa.bindparam("head_sequence"), hash=sa.bindparam("head_hash"))
)


def _build_append_one() -> sa.Update:
    """`WITH appended AS (INSERT one record) UPDATE audit_chain_head …`, built once."""
    columns = AuditLog.__table__.c
    values = {
        name: sa.bindparam(f"v_{name}", type_=columns[name].type)
        for name in (*HASHED_FIELDS, "prev_hash", "hash")
    }
    return _MOVE_HEAD.add_cte(sa.insert(AuditLog.__table__).values(**values).cte("appended"))


_APPEND_ONE = _build_append_one()


def _append(conn: sa.Connection, rows: list[dict[str, Any]], sequence: int, head: str) -> None:
    """Insert the records and move the chain head.

    One statement on PostgreSQL for the usual single record (a data-modifying CTE); else an
    insert and an update.
    """
    moved = {"head_sequence": sequence, "head_hash": head}
    if len(rows) == 1 and conn.dialect.name == "postgresql":
        conn.execute(_APPEND_ONE, {**{f"v_{k}": v for k, v in rows[0].items()}, **moved})
        return
    conn.execute(sa.insert(AuditLog.__table__), rows)
    conn.execute(_MOVE_HEAD, moved)


def _write_pending(session: Session) -> None:
    pending: list[_Pending] = session.info.pop(PENDING_KEY, [])
    if not pending:
        return
    # Business rows first: a constraint failure there must not wait for the chain lock.
    session.flush()
    conn = session.connection()
    head = conn.execute(_LOCK_HEAD).one_or_none()
    if head is None:
        raise RuntimeError("audit_chain_head is missing; run the migrations (flask init-db)")
    sequence, prev_hash = head.sequence, head.hash
    rows = []
    for item in pending:
        sequence += 1
        row = {
            "public_id": uuid.uuid4(),
            "sequence": sequence,
            "occurred_at": item.occurred_at,
            "actor_id": item.ctx.actor_id,
            "actor_role": item.ctx.actor_role,
            "action": item.action,
            "resource_type": item.resource_type,
            "resource_id": _resolve_resource_id(item),
            "outcome": item.outcome,
            "ip": item.ctx.ip,
            "user_agent": (item.ctx.user_agent or None) and item.ctx.user_agent[:512],
            "request_id": item.ctx.request_id,
            "changes": item.changes,
        }
        row["prev_hash"] = prev_hash
        row["hash"] = prev_hash = compute_hash(prev_hash, row)
        rows.append(row)
    _append(conn, rows, sequence, prev_hash)


_installed = False


def install_hooks() -> None:
    """Write queued records at commit; forget them on rollback (once per process)."""
    global _installed
    if _installed:
        return
    _installed = True

    @sa.event.listens_for(Session, "before_commit")
    def _before_commit(session: Session) -> None:
        _write_pending(session)

    @sa.event.listens_for(Session, "after_transaction_end")
    def _after_transaction_end(session: Session, transaction) -> None:
        # Records still queued when the outermost transaction ends were rolled back with it.
        if transaction.parent is None:
            session.info.pop(PENDING_KEY, None)


# --- verification ------------------------------------------------------------------------------


@dataclass
class VerifyResult:
    valid: bool
    records_checked: int
    head_hash: str
    first_invalid_id: str | None = None
    first_invalid_sequence: int | None = None
    reason: str | None = None


def _rows(session: Session, batch: int = 2000) -> Iterator[sa.Row]:
    """Keyset-paged rows (Core, not ORM: nothing piles up in the identity map)."""
    columns = [AuditLog.__table__.c[name] for name in (*HASHED_FIELDS, "prev_hash", "hash")]
    last = 0
    while True:
        chunk = session.execute(
            sa.select(*columns)
            .where(AuditLog.sequence > last)
            .order_by(AuditLog.sequence)
            .limit(batch)
        ).all()
        if not chunk:
            return
        yield from chunk
        last = chunk[-1].sequence


def verify(session: Session) -> VerifyResult:
    """Walk the chain in sequence order; report the first record that does not hold."""
    prev_hash = GENESIS_HASH
    expected_sequence = 1
    checked = 0
    for entry in _rows(session):
        row = entry._asdict()
        problem = None
        if entry.sequence != expected_sequence:
            problem = f"sequence gap: expected {expected_sequence}, found {entry.sequence}"
        elif entry.prev_hash != prev_hash:
            problem = "prev_hash does not match the previous record"
        elif compute_hash(prev_hash, row) != entry.hash:
            problem = "hash does not match the record's content"
        if problem:
            return VerifyResult(
                valid=False,
                records_checked=checked,
                head_hash=prev_hash,
                first_invalid_id=str(entry.public_id),
                first_invalid_sequence=entry.sequence,
                reason=problem,
            )
        prev_hash = entry.hash
        expected_sequence += 1
        checked += 1
    head = session.execute(
        sa.select(AuditChainHead.sequence, AuditChainHead.hash).where(AuditChainHead.id == 1)
    ).one_or_none()
    if head is not None and (head.sequence != checked or head.hash != prev_hash):
        return VerifyResult(
            valid=False,
            records_checked=checked,
            head_hash=prev_hash,
            reason=f"chain head ({head.sequence}) does not match the last record ({checked}); "
            "records were removed from the end",
        )
    return VerifyResult(valid=True, records_checked=checked, head_hash=prev_hash)
