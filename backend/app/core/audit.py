"""The append-only audit log, chained after commit by a sealer.

`record(...)` is called by services inside their unit of work. It only stages the record on the
unit (`core.uow`), which writes it when it commits, in the same database transaction as the
change it describes: a rolled-back change leaves no record and a committed one always has one.
`refuse(...)` is the one way a refusal is kept: roll the change back, record the failure, commit
that alone (or with the edge's answer), raise.

Writers take no shared lock. Each record carries `digest`, the SHA-256 of its canonical form,
and `txid`, the id of the PostgreSQL transaction that wrote it. The sealer (`seal()`) chains
committed records afterwards: it reads the snapshot's xmin (every transaction older than it has
ended, so no record with a smaller txid can still appear), takes the unsealed records below it
in `(txid, id)` order and appends one `audit_seal` row each:
`hash = SHA-256(prev_hash "\\n" sequence "\\n" digest)`. Only sealers lock the chain head.

Personal data stays out of what is hashed: `ip`, `user_agent` and the personal values of
`changes` (masked) are kept beside the record, and only their keyed digest (`personal_digest`,
HMAC-SHA256) is hashed. Erasure clears the values and keeps the digest, so the chain still
verifies. docs/audit-log.md explains the design.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NoReturn

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from app.core import context, uow
from app.core.audit_chain import (
    GENESIS_HASH,
    HASHED_FIELDS,
    canonical_json,
    chain_hash,
    content_digest,
    format_time,
)
from app.core.db import Base, BigIntPK, utcnow

PERSONAL_MARK = "[personal]"
ERASED_MARK = "[erased]"


class AuditSeal(Base):
    """A record's place in the chain: its sequence, the previous hash and its own hash."""

    __tablename__ = "audit_seal"

    sequence: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    record_id: Mapped[int] = mapped_column(sa.BigInteger, unique=True, nullable=False)
    txid: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    prev_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    sealed_at: Mapped[datetime] = mapped_column(nullable=False)


class AuditLog(Base):
    """One audit record. Never updated (except erasing its personal values), never deleted."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    public_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, unique=True, nullable=False)
    txid: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
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
    personal: Mapped[dict | None] = mapped_column(sa.JSON(none_as_null=True))
    personal_digest: Mapped[str | None] = mapped_column(sa.String(64))
    digest: Mapped[str] = mapped_column(sa.String(64), nullable=False)

    seal: Mapped[AuditSeal | None] = relationship(
        primaryjoin="AuditLog.id == foreign(AuditSeal.record_id)", viewonly=True, uselist=False
    )

    __table_args__ = (
        sa.Index("ix_audit_log_resource", "resource_type", "resource_id"),
        sa.Index("ix_audit_log_txid_id", "txid", "id"),
    )

    @property
    def sequence(self) -> int | None:
        return self.seal.sequence if self.seal else None

    @property
    def prev_hash(self) -> str | None:
        return self.seal.prev_hash if self.seal else None

    @property
    def hash(self) -> str | None:
        return self.seal.hash if self.seal else None


class AuditChainHead(Base):
    """The single row holding the sealed chain's last sequence and hash (locked by sealers)."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    sequence: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    last_txid: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    last_record_id: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)


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
    "username",
    "login",
    "date_of_birth",
    "document_number",
    "iban",
    "to_iban",
    "counterparty_iban",
    "account_number",
    "address",
    "beneficiary_name",
    "counterparty_name",
    "cardholder_name",
    "line1",
    "line2",
    "city",
    "postal_code",
}
_LAST_FOUR = {"document_number", "iban", "to_iban", "counterparty_iban", "account_number", "phone"}


def _mask_string(key: str, value: str) -> str:
    if key == "email" or (key in {"login", "username"} and "@" in value):
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}" if domain else f"{local[:1]}***"
    if key in _LAST_FOUR:
        return f"***{value[-4:]}" if len(value) > 4 else "***"
    if key == "date_of_birth":
        return f"{value[:4]}-**-**" if len(value) >= 4 else "***"
    return f"{value[:1]}***" if value else value


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, float):
        # Floats have no canonical text; money never is one.
        return repr(value)
    return value


def mask_pii(value: Any, key: str = "", *, personal_key: str | None = None) -> Any:
    """Mask personal data and redact secrets in an audit `changes` document.

    A personal key masks every string beneath it (`{"name": {"old": …, "new": …}}` too).
    """
    lowered = key.lower()
    if lowered in _REDACT:
        return "[REDACTED]"
    if lowered in _PARTIAL:
        personal_key = lowered
    if isinstance(value, dict):
        return {k: mask_pii(v, str(k), personal_key=personal_key) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_pii(v, key, personal_key=personal_key) for v in value]
    if personal_key and isinstance(value, str):
        return _mask_string(personal_key, value)
    return _plain(value)


def split_personal(
    value: Any, key: str = "", path: str = "", out: dict[str, Any] | None = None
) -> tuple[Any, dict[str, Any]]:
    """Move personal values out of a masked document.

    Returns the document with each personal value replaced by `[personal]`, and a map of
    JSON-pointer paths to the (masked) values taken out.
    """
    out = {} if out is None else out
    if key.lower() in _PARTIAL and value is not None:
        out[path] = value
        return PERSONAL_MARK, out
    if isinstance(value, dict):
        return {
            k: split_personal(v, str(k), f"{path}/{_pointer(str(k))}", out)[0]
            for k, v in value.items()
        }, out
    if isinstance(value, list):
        return [split_personal(v, key, f"{path}/{i}", out)[0] for i, v in enumerate(value)], out
    return value, out


def _pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def join_personal(changes: Any, personal: dict[str, Any] | None) -> Any:
    """The record's `changes` as shown: personal values put back (or `[erased]`)."""
    personal = personal or {}

    def walk(value: Any, path: str) -> Any:
        if value == PERSONAL_MARK:
            return personal.get(path, ERASED_MARK)
        if isinstance(value, dict):
            return {k: walk(v, f"{path}/{_pointer(str(k))}") for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, f"{path}/{i}") for i, v in enumerate(value)]
        return value

    return walk(changes, "")


# --- canonical form and hashing ----------------------------------------------------------------


# PostgreSQL builds the same canonical bytes (json_build_array writes `, ` between elements,
# escapes strings as Python's json does, and copies a `json` value's stored text verbatim).
CANONICAL_SQL = (
    "json_build_array(l.public_id::text, "
    "to_char(l.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "l.actor_id, l.actor_role, l.action, l.resource_type, l.resource_id, l.outcome, "
    "l.request_id, l.changes, l.personal_digest)::text"
)
DIGEST_SQL = f"encode(sha256(convert_to({CANONICAL_SQL}, 'UTF8')), 'hex')"
_DIGEST_BYTES_SQL = f"sha256(convert_to({CANONICAL_SQL}, 'UTF8'))"


def _personal_key() -> bytes:
    secret = current_app.config["SECRET_KEY"] if has_app_context() else "flowlet"
    configured = current_app.config.get("AUDIT_PII_KEY") if has_app_context() else None
    seed = configured or secret
    return hmac.new(seed.encode(), b"flowlet audit personal data", hashlib.sha256).digest()


def personal_digest(ip: str | None, user_agent: str | None, values: dict[str, Any]) -> str | None:
    """HMAC-SHA256 of the personal values kept beside a record (None when there are none)."""
    if ip is None and user_agent is None and not values:
        return None
    doc = canonical_json({"ip": ip, "user_agent": user_agent, "values": values})
    return hmac.new(_personal_key(), doc.encode(), hashlib.sha256).hexdigest()


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
    ctx = context.current()
    if actor_id is not None or actor_role is not None:
        ctx = context.ActorContext(
            actor_id=actor_id if actor_id is not None else ctx.actor_id,
            actor_role=actor_role if actor_role is not None else ctx.actor_role,
            ip=ctx.ip,
            user_agent=ctx.user_agent,
            request_id=ctx.request_id,
        )
    uow.of(session).stage(
        _write_records,
        _Pending(
            action=action,
            outcome=outcome,
            resource_type=resource_type,
            resource_id=resource_id,
            resource=resource,
            changes=mask_pii(changes) if changes is not None else None,
            ctx=ctx,
            occurred_at=utcnow(),
        ),
    )


def _failure(session: Session, action: str, where: dict[str, Any]) -> Callable[[], None]:
    """Stage the `failure` record of `action` (`where`: `record`'s keyword arguments)."""
    return lambda: record(session, action, outcome="failure", **where)


def fail(session: Session, exc: Exception, action: str, **where: Any) -> NoReturn:
    """Keep a failed attempt as a `failure` record, commit the unit as it stands, raise `exc`.

    Unlike `refuse`, what the use case changed before failing is kept on purpose (a failed
    login's count, a lockout). `where` takes `record`'s keyword arguments (`resource`, …).
    """
    _failure(session, action, where)()
    uow.commit(session)
    raise exc


def refuse(session: Session, exc: Exception, action: str, **where: Any) -> NoReturn:
    """Roll the change back, keep the refusal as a `failure` record, commit that, raise `exc`."""
    uow.of(session).refuse(exc, _failure(session, action, where))


def _resolve_resource_id(item: _Pending) -> str | None:
    value = item.resource_id
    if value is None and item.resource is not None:
        value = getattr(item.resource, "public_id", None)
    return str(value) if value is not None else None


def _build_row(item: _Pending) -> dict[str, Any]:
    hashed_changes, values = (
        split_personal(item.changes) if item.changes is not None else (None, {})
    )
    ip = item.ctx.ip
    user_agent = (item.ctx.user_agent or None) and item.ctx.user_agent[:512]
    row: dict[str, Any] = {
        "public_id": uuid.uuid4(),
        "occurred_at": item.occurred_at,
        "actor_id": item.ctx.actor_id,
        "actor_role": item.ctx.actor_role,
        "action": item.action,
        "resource_type": item.resource_type,
        "resource_id": _resolve_resource_id(item),
        "outcome": item.outcome,
        "ip": ip,
        "user_agent": user_agent,
        "request_id": item.ctx.request_id,
        "changes": canonical_json(hashed_changes) if hashed_changes is not None else None,
        "personal": values or None,
        "personal_digest": personal_digest(ip, user_agent, values),
    }
    row["digest"] = content_digest(row)
    return row


def _build_insert(dialect: str) -> sa.Insert:
    """The append, built once per dialect: `changes` goes in as its canonical text."""
    columns = AuditLog.__table__.c
    names = (*HASHED_FIELDS, "ip", "user_agent", "personal", "digest")
    values: dict[str, Any] = {
        name: sa.bindparam(name, type_=columns[name].type) for name in names if name != "changes"
    }
    if dialect == "postgresql":
        values["changes"] = sa.cast(sa.bindparam("changes", type_=sa.Text), sa.JSON)
        values["txid"] = sa.literal_column("pg_current_xact_id()::text::bigint")
    else:
        # SQLite keeps JSON as text: the canonical text is stored as it is.
        values["changes"] = sa.type_coerce(sa.bindparam("changes", type_=sa.Text), sa.Text)
        values["txid"] = sa.literal(0, sa.BigInteger)
    return sa.insert(AuditLog.__table__).values(**values)


_INSERTS: dict[str, sa.Insert] = {}


def _write_records(session: Session, pending: list[_Pending]) -> None:
    """Write staged records (the unit of work calls it after the flush: new ids are known)."""
    conn = session.connection()
    dialect = conn.dialect.name
    insert = _INSERTS.get(dialect)
    if insert is None:
        insert = _INSERTS[dialect] = _build_insert(dialect)
    conn.execute(insert, [_build_row(item) for item in pending])
    if dialect != "postgresql":
        # The embedded database has one writer at a time: seal in the same transaction.
        _seal_batch(conn, xmin=None, limit=None)


@uow.composes(_write_records)
def _compose_records(session: Session, pending: list[_Pending]) -> list[uow.Part]:
    """The records as one multi-row insert, to run with the unit's other writes (PostgreSQL)."""
    names = (*HASHED_FIELDS, "ip", "user_agent", "personal", "digest")
    rows = []
    for item in pending:
        row = _build_row(item)
        rows.append({name: row[name] for name in names})
    return [
        uow.insert_rows(
            AuditLog.__table__,
            rows,
            expressions={
                "changes": lambda name: sa.cast(sa.bindparam(name, type_=sa.Text), sa.JSON)
            },
            constants={"txid": _TXID},
        )
    ]


_TXID = sa.literal_column("pg_current_xact_id()::text::bigint")


# --- sealing -----------------------------------------------------------------------------------

_log = AuditLog.__table__
_seal = AuditSeal.__table__
_head = AuditChainHead.__table__

SEAL_BATCH = 5000


def _snapshot_xmin(conn: sa.Connection) -> int | None:
    """The oldest transaction id of this database that may still be running.

    The snapshot's xmin, except that transactions pg_stat_activity shows in *other* databases
    of the cluster are passed over (their records are not ours). The snapshot is taken before
    pg_stat_activity is read: a transaction that starts in between gets an id above the
    snapshot's xmax, so it can only be passed over if it is truly elsewhere.
    """
    if conn.dialect.name != "postgresql":
        return None
    snapshot = conn.execute(sa.text("SELECT pg_current_snapshot()::text")).scalar_one()
    _xmin_text, xmax_text, xip_text = snapshot.split(":")
    if not xip_text:
        return int(xmax_text)
    foreign = {
        int(value)
        for value in conn.execute(
            sa.text(
                "SELECT backend_xid::text FROM pg_stat_activity "
                "WHERE datname <> current_database() AND backend_xid IS NOT NULL"
            )
        ).scalars()
    }
    ours = [int(x) for x in xip_text.split(",") if int(x) % 2**32 not in foreign]
    return min(ours, default=int(xmax_text))


def _seal_batch(conn: sa.Connection, *, xmin: int | None, limit: int | None) -> int:
    """Chain the next unsealed records; the caller's transaction holds the head lock."""
    head = conn.execute(sa.select(_head).where(_head.c.id == 1).with_for_update()).one_or_none()
    if head is None:
        raise RuntimeError("audit_chain_head is missing; run the migrations (flask init-db)")
    if xmin is None and conn.dialect.name == "postgresql":
        xmin = _snapshot_xmin(conn)
    query = (
        sa.select(_log.c.id, _log.c.txid, _log.c.digest)
        .where(sa.tuple_(_log.c.txid, _log.c.id) > sa.tuple_(head.last_txid, head.last_record_id))
        .order_by(_log.c.txid, _log.c.id)
    )
    if xmin is not None:
        query = query.where(_log.c.txid < xmin)
    if limit is not None:
        query = query.limit(limit)
    rows = conn.execute(query).all()
    if not rows:
        return 0
    sequence, prev_hash = head.sequence, head.hash
    moment = utcnow()
    seals = []
    for row in rows:
        sequence += 1
        digest = chain_hash(prev_hash, sequence, row.digest)
        seals.append(
            {
                "sequence": sequence,
                "record_id": row.id,
                "txid": row.txid,
                "prev_hash": prev_hash,
                "hash": digest,
                "sealed_at": moment,
            }
        )
        prev_hash = digest
    conn.execute(sa.insert(_seal), seals)
    conn.execute(
        sa.update(_head)
        .where(_head.c.id == 1)
        .values(
            sequence=sequence,
            hash=prev_hash,
            last_txid=rows[-1].txid,
            last_record_id=rows[-1].id,
        )
    )
    return len(rows)


def seal(engine: sa.Engine, *, batch: int = SEAL_BATCH, settle_seconds: float = 0.0) -> int:
    """Chain every committed record that no running transaction can precede; returns the count.

    Each batch is its own short transaction on its own connection, so the caller's transaction
    (and its not yet committed records) is never part of it. Safe to run concurrently: sealers
    queue on the chain head, writers never do. With `settle_seconds`, keep sealing for up to
    that long while committed records still wait behind an older running transaction.
    """
    total = 0
    deadline = time.monotonic() + settle_seconds
    while True:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SET LOCAL lock_timeout = '30s'"))
            count = _seal_batch(conn, xmin=None, limit=batch)
        total += count
        if count == batch:
            continue
        if time.monotonic() >= deadline:
            return total
        with engine.connect() as conn:
            waiting = conn.execute(sa.text(_UNSEALED_SQL)).one().n
        if not waiting:
            return total
        time.sleep(0.02)


# --- verification ------------------------------------------------------------------------------


@dataclass
class VerifyResult:
    valid: bool
    records_checked: int
    head_hash: str
    first_invalid_id: str | None = None
    first_invalid_sequence: int | None = None
    reason: str | None = None
    unsealed: int = 0
    unsealed_oldest_seconds: float | None = None

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "valid": self.valid,
            "records_checked": self.records_checked,
            "head_hash": self.head_hash,
            "unsealed": self.unsealed,
            "unsealed_oldest_seconds": self.unsealed_oldest_seconds,
        }
        if not self.valid:
            body["first_invalid_id"] = self.first_invalid_id
            body["first_invalid_sequence"] = self.first_invalid_sequence
            body["reason"] = self.reason
        return body


# Links, gaps and order: a window over audit_seal alone, read in primary-key order (no sort).
_CHAIN_PROBLEMS_SQL = """
SELECT sequence, record_id,
       CASE
         WHEN sequence <> previous_sequence + 1 THEN
              'sequence gap: expected ' || (previous_sequence + 1) || ', found ' || sequence
         WHEN prev_hash <> expected_prev THEN 'prev_hash does not match the previous record'
         ELSE 'out of order: sealed after a later record (inserted behind the chain)'
       END AS problem
FROM (
    SELECT sequence, record_id, prev_hash, txid,
           lag(hash, 1, :genesis) OVER w AS expected_prev,
           lag(sequence, 1, 0::bigint) OVER w AS previous_sequence,
           lag(txid) OVER w AS previous_txid,
           lag(record_id) OVER w AS previous_record
    FROM audit_seal
    WINDOW w AS (ORDER BY sequence)
) chain
WHERE sequence <> previous_sequence + 1 OR prev_hash <> expected_prev
   OR (previous_txid IS NOT NULL AND (txid, record_id) <= (previous_txid, previous_record))
ORDER BY sequence
LIMIT 1
"""

# Contents and hashes: one hash join of seals and records, no order needed (parallel scans);
# materialized, so that the LIMIT does not turn it into a million index probes.
_SEAL_HASH_SQL = (
    "sha256(convert_to(s.prev_hash || E'\\n' || s.sequence::text || E'\\n' || l.digest, 'UTF8'))"
)
_RECORD_PROBLEMS_SQL = (
    "WITH bad AS MATERIALIZED (SELECT s.sequence, s.record_id, l.public_id, CASE "  # noqa: S608
    "WHEN l.id IS NULL THEN 'record removed: its seal has no record' "
    "WHEN l.txid <> s.txid THEN 'the record is not the one sealed' "
    f"WHEN decode(l.digest, 'hex') <> {_DIGEST_BYTES_SQL} "
    "THEN 'record content does not match its digest' "
    "ELSE 'hash does not match the record''s digest' END AS problem "
    "FROM audit_seal s LEFT JOIN audit_log l ON l.id = s.record_id "
    "WHERE l.id IS NULL OR l.txid <> s.txid "
    f"OR decode(l.digest, 'hex') <> {_DIGEST_BYTES_SQL} "
    f"OR decode(s.hash, 'hex') <> {_SEAL_HASH_SQL}) "
    "SELECT * FROM bad ORDER BY sequence LIMIT 1"
)

# Records not sealed yet (the tail, found through the (txid, id) index) whose content is off.
_TAIL_PROBLEMS_SQL = (
    "SELECT l.id AS record_id, l.public_id FROM audit_log l "  # noqa: S608
    "WHERE (l.txid, l.id) > (:last_txid, :last_id) "
    f"AND decode(l.digest, 'hex') <> {_DIGEST_BYTES_SQL} ORDER BY l.txid, l.id LIMIT 1"
)

_STRAY_SQL = """
SELECT l.id AS record_id, l.public_id, l.txid
FROM audit_log l
WHERE NOT EXISTS (SELECT 1 FROM audit_seal s WHERE s.record_id = l.id)
  AND (l.txid IS NULL OR (l.txid, l.id) < (:last_txid, :last_id))
ORDER BY l.id
LIMIT 1
"""

_UNSEALED_SQL = """
SELECT count(*) AS n, min(l.occurred_at) AS oldest
FROM audit_log l
WHERE (l.txid, l.id) > (SELECT last_txid, last_record_id FROM audit_chain_head WHERE id = 1)
"""

# Records at or behind the sealed position: as many as there are seals, unless one was slipped
# in behind the chain (then _STRAY_SQL names it).
_BEHIND_SQL = """
SELECT count(*) FROM audit_log l WHERE l.txid IS NULL OR (l.txid, l.id) <= (:last_txid, :last_id)
"""


def _head_row(conn: Session | sa.Connection) -> sa.Row | None:
    return conn.execute(
        sa.select(_head.c.sequence, _head.c.hash).where(_head.c.id == 1)
    ).one_or_none()


def _head_position(conn: Session | sa.Connection) -> dict[str, int]:
    row = conn.execute(
        sa.select(_head.c.last_txid, _head.c.last_record_id).where(_head.c.id == 1)
    ).one_or_none()
    return {"last_txid": row[0] if row else 0, "last_id": row[1] if row else 0}


def verify(
    session: Session, *, seal_first: bool = True, settle_seconds: float = 2.0
) -> VerifyResult:
    """Seal what can be sealed, then check the whole chain; report the first broken record.

    Checks: every record's content against its digest; every seal's hash, its link to the
    previous seal, contiguous sequences and the `(txid, id)` order; every record sealed unless
    its transaction may still precede others; the head row against the last seal.
    """
    engine = session.get_bind()
    if seal_first:
        seal(engine, settle_seconds=settle_seconds)
    if engine.dialect.name != "postgresql":
        result = _verify_in_python(session)
        row = session.execute(sa.text(_UNSEALED_SQL)).one()
    else:
        # One snapshot for every check, so that a sealer running meanwhile changes nothing.
        snapshot = engine.connect().execution_options(isolation_level="REPEATABLE READ")
        with snapshot as conn, conn.begin():
            result = _verify_in_sql(conn)
            row = conn.execute(sa.text(_UNSEALED_SQL)).one()
    result.unsealed = int(row.n)
    if row.oldest is not None:
        oldest = row.oldest if row.oldest.tzinfo else row.oldest.replace(tzinfo=UTC)
        result.unsealed_oldest_seconds = round((utcnow() - oldest).total_seconds(), 3)
    return result


def _invalid(checked: int, head: str, sequence, public_id, reason: str) -> VerifyResult:
    return VerifyResult(
        valid=False,
        records_checked=checked,
        head_hash=head,
        first_invalid_id=str(public_id) if public_id is not None else None,
        first_invalid_sequence=sequence,
        reason=reason,
    )


def _verify_in_sql(conn: sa.Connection) -> VerifyResult:
    # The planner expects the filters to keep every row (they keep none): tell it that moving
    # rows out of parallel workers is cheap, so that the hashing runs on every core; JIT only
    # adds its compile time to these expressions.
    for setting in ("work_mem = '64MB'", "jit = off", "parallel_tuple_cost = 0.001"):
        conn.execute(sa.text(f"SET LOCAL {setting}"))
    head = _head_row(conn)
    sealed = conn.execute(sa.text("SELECT count(*), max(sequence) FROM audit_seal")).one()
    checked = int(sealed[0])
    head_hash = head.hash if head else GENESIS_HASH
    candidates = []
    chain = conn.execute(sa.text(_CHAIN_PROBLEMS_SQL), {"genesis": GENESIS_HASH}).first()
    if chain is not None:
        candidates.append((chain.sequence, chain.record_id, chain.problem))
    record = conn.execute(sa.text(_RECORD_PROBLEMS_SQL)).first()
    if record is not None:
        name = record.public_id if record.public_id is not None else f"#{record.record_id}"
        candidates.append((record.sequence, name, record.problem))
    if candidates:
        sequence, name, reason = min(candidates, key=lambda c: c[0])
        if isinstance(name, int):  # a chain problem: name the record by its public id
            public_id = conn.execute(
                sa.select(_log.c.public_id).where(_log.c.id == name)
            ).scalar_one_or_none()
            name = public_id if public_id is not None else f"#{name}"
        return _invalid(sequence - 1, head_hash, sequence, name, reason)
    position = _head_position(conn)
    tail = conn.execute(sa.text(_TAIL_PROBLEMS_SQL), position).first()
    if tail is not None:
        return _invalid(
            checked, head_hash, None, tail.public_id, "record content does not match its digest"
        )
    behind = conn.execute(sa.text(_BEHIND_SQL), position).scalar_one()
    stray = conn.execute(sa.text(_STRAY_SQL), position).first() if behind != checked else None
    if stray is not None:
        return _invalid(
            checked,
            head_hash,
            None,
            stray.public_id,
            "record is not in the chain although no earlier transaction is running "
            "(inserted behind the sealed chain)",
        )
    if head is not None and (head.sequence != checked or (sealed[1] or 0) != checked):
        return _invalid(
            checked,
            head_hash,
            None,
            None,
            f"chain head ({head.sequence}) does not match the last seal ({sealed[1] or 0}); "
            "records were removed from the end",
        )
    if head is not None and checked:
        last = conn.execute(sa.select(_seal.c.hash).where(_seal.c.sequence == checked)).scalar_one()
        if last != head.hash:
            return _invalid(checked, head_hash, checked, None, "chain head hash does not match")
    return VerifyResult(valid=True, records_checked=checked, head_hash=head_hash)


def iter_chain(session: Session, *, batch: int = 2000) -> Iterator[sa.Row]:
    """Sealed records in sequence order, with `changes` as stored text (keyset pages)."""
    columns = [
        _seal.c.sequence,
        _seal.c.prev_hash,
        _seal.c.hash,
        _log.c.id,
        _log.c.txid,
        _log.c.digest,
        *[
            sa.cast(_log.c.changes, sa.Text).label("changes") if name == "changes" else _log.c[name]
            for name in HASHED_FIELDS
        ],
    ]
    last = 0
    while True:
        chunk = session.execute(
            sa.select(*columns)
            .select_from(_seal.outerjoin(_log, _log.c.id == _seal.c.record_id))
            .where(_seal.c.sequence > last)
            .order_by(_seal.c.sequence)
            .limit(batch)
        ).all()
        if not chunk:
            return
        yield from chunk
        last = chunk[-1].sequence


def _verify_in_python(session: Session) -> VerifyResult:
    """The same checks walked in Python (the embedded SQLite default has no sha256())."""
    prev_hash = GENESIS_HASH
    expected = 1
    previous_key = None
    for entry in iter_chain(session):
        row = entry._asdict()
        problem = None
        if entry.id is None:
            problem = "record removed: its seal has no record"
        elif entry.sequence != expected:
            problem = f"sequence gap: expected {expected}, found {entry.sequence}"
        elif entry.prev_hash != prev_hash:
            problem = "prev_hash does not match the previous record"
        elif content_digest(row) != entry.digest:
            problem = "record content does not match its digest"
        elif chain_hash(prev_hash, entry.sequence, entry.digest) != entry.hash:
            problem = "hash does not match the record's digest"
        elif previous_key is not None and (entry.txid, entry.id) <= previous_key:
            problem = "out of order: sealed after a later record (inserted behind the chain)"
        if problem:
            return _invalid(expected - 1, prev_hash, entry.sequence, entry.public_id, problem)
        prev_hash = entry.hash
        previous_key = (entry.txid, entry.id)
        expected += 1
    checked = expected - 1
    stray = session.execute(sa.text(_STRAY_SQL), _head_position(session)).first()
    if stray is not None:
        return _invalid(
            checked, prev_hash, None, stray.public_id, "record is not in the chain (inserted)"
        )
    head = _head_row(session)
    if head is not None and (head.sequence != checked or head.hash != prev_hash):
        return _invalid(
            checked,
            prev_hash,
            None,
            None,
            f"chain head ({head.sequence}) does not match the last record ({checked}); "
            "records were removed from the end",
        )
    return VerifyResult(valid=True, records_checked=checked, head_hash=prev_hash)
