"""Verification of the whole chain: in SQL on PostgreSQL, walked in Python elsewhere.

Checks: every record's content against its digest; every seal's hash, its link to the previous
seal, contiguous sequences and the `(txid, id)` order; every record sealed unless its
transaction may still precede others; the head row against the last seal.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.core.audit.chain import GENESIS_HASH, HASHED_FIELDS, chain_hash, content_digest
from app.core.audit.models import head_table as _head
from app.core.audit.models import log_table as _log
from app.core.audit.models import seal_table as _seal
from app.core.audit.sealer import seal
from app.core.audit.sql import DIGEST_BYTES_SQL, SEAL_HASH_SQL, UNSEALED_SQL
from app.core.db import utcnow


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
_RECORD_PROBLEMS_SQL = (
    "WITH bad AS MATERIALIZED (SELECT s.sequence, s.record_id, l.public_id, CASE "  # noqa: S608
    "WHEN l.id IS NULL THEN 'record removed: its seal has no record' "
    "WHEN l.txid <> s.txid THEN 'the record is not the one sealed' "
    f"WHEN decode(l.digest, 'hex') <> {DIGEST_BYTES_SQL} "
    "THEN 'record content does not match its digest' "
    "ELSE 'hash does not match the record''s digest' END AS problem "
    "FROM audit_seal s LEFT JOIN audit_log l ON l.id = s.record_id "
    "WHERE l.id IS NULL OR l.txid <> s.txid "
    f"OR decode(l.digest, 'hex') <> {DIGEST_BYTES_SQL} "
    f"OR decode(s.hash, 'hex') <> {SEAL_HASH_SQL}) "
    "SELECT * FROM bad ORDER BY sequence LIMIT 1"
)

# Records not sealed yet (the tail, found through the (txid, id) index) whose content is off.
_TAIL_PROBLEMS_SQL = (
    "SELECT l.id AS record_id, l.public_id FROM audit_log l "  # noqa: S608
    "WHERE (l.txid, l.id) > (:last_txid, :last_id) "
    f"AND decode(l.digest, 'hex') <> {DIGEST_BYTES_SQL} ORDER BY l.txid, l.id LIMIT 1"
)

_STRAY_SQL = """
SELECT l.id AS record_id, l.public_id, l.txid
FROM audit_log l
WHERE NOT EXISTS (SELECT 1 FROM audit_seal s WHERE s.record_id = l.id)
  AND (l.txid IS NULL OR (l.txid, l.id) < (:last_txid, :last_id))
ORDER BY l.id
LIMIT 1
"""

# Records at or behind the sealed position: as many as there are seals, unless one was slipped
# in behind the chain (then _STRAY_SQL names it).
_BEHIND_SQL = """
SELECT count(*) FROM audit_log l WHERE l.txid IS NULL OR (l.txid, l.id) <= (:last_txid, :last_id)
"""


def _head_row(conn: Session | sa.Connection) -> sa.Row[Any, Any] | None:
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
    """Seal what can be sealed, then check the whole chain; report the first broken record."""
    engine = session.get_bind()
    if not isinstance(engine, sa.Engine):
        raise TypeError(
            "verify needs a session bound to an engine (it seals on its own connections)"
        )
    if seal_first:
        seal(engine, settle_seconds=settle_seconds)
    if engine.dialect.name != "postgresql":
        result = verify_in_python(session)
        row = session.execute(sa.text(UNSEALED_SQL)).one()
    else:
        # One snapshot for every check, so that a sealer running meanwhile changes nothing.
        snapshot = engine.connect().execution_options(isolation_level="REPEATABLE READ")
        with snapshot as conn, conn.begin():
            result = _verify_in_sql(conn)
            row = conn.execute(sa.text(UNSEALED_SQL)).one()
    result.unsealed = int(row.n)
    if row.oldest is not None:
        oldest = row.oldest if row.oldest.tzinfo else row.oldest.replace(tzinfo=UTC)
        result.unsealed_oldest_seconds = round((utcnow() - oldest).total_seconds(), 3)
    return result


def _invalid(
    checked: int, head: str, sequence: int | None, public_id: object, reason: str
) -> VerifyResult:
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
    checked, last_sequence = int(sealed[0]), sealed[1] or 0
    head_hash = head.hash if head else GENESIS_HASH
    problem = _first_sealed_problem(conn)
    if problem is not None:
        sequence, name, reason = problem
        return _invalid(sequence - 1, head_hash, sequence, name, reason)
    return (
        _unsealed_problem(conn, checked, head_hash)
        or _head_problem(conn, head, checked, last_sequence)
        or VerifyResult(valid=True, records_checked=checked, head_hash=head_hash)
    )


def _first_sealed_problem(conn: sa.Connection) -> tuple[int, Any, str] | None:
    """The first broken seal: its sequence, its record's public id (or `#id`), the problem."""
    candidates = []
    chain = conn.execute(sa.text(_CHAIN_PROBLEMS_SQL), {"genesis": GENESIS_HASH}).first()
    if chain is not None:
        candidates.append((chain.sequence, chain.record_id, chain.problem))
    record = conn.execute(sa.text(_RECORD_PROBLEMS_SQL)).first()
    if record is not None:
        name = record.public_id if record.public_id is not None else f"#{record.record_id}"
        candidates.append((record.sequence, name, record.problem))
    if not candidates:
        return None
    sequence, name, reason = min(candidates, key=lambda c: c[0])
    if isinstance(name, int):  # a chain problem: name the record by its public id
        public_id = conn.execute(
            sa.select(_log.c.public_id).where(_log.c.id == name)
        ).scalar_one_or_none()
        name = public_id if public_id is not None else f"#{name}"
    return sequence, name, reason


def _unsealed_problem(conn: sa.Connection, checked: int, head_hash: str) -> VerifyResult | None:
    """A tail record whose content is off, or one slipped in behind the sealed position."""
    position = _head_position(conn)
    tail = conn.execute(sa.text(_TAIL_PROBLEMS_SQL), position).first()
    if tail is not None:
        return _invalid(
            checked, head_hash, None, tail.public_id, "record content does not match its digest"
        )
    behind = conn.execute(sa.text(_BEHIND_SQL), position).scalar_one()
    stray = conn.execute(sa.text(_STRAY_SQL), position).first() if behind != checked else None
    if stray is None:
        return None
    return _invalid(
        checked,
        head_hash,
        None,
        stray.public_id,
        "record is not in the chain although no earlier transaction is running "
        "(inserted behind the sealed chain)",
    )


def _head_problem(
    conn: sa.Connection, head: sa.Row[Any, Any] | None, checked: int, last_sequence: int
) -> VerifyResult | None:
    """The head row against the last seal (records removed from the end)."""
    if head is None:
        return None
    if head.sequence != checked or last_sequence != checked:
        return _invalid(
            checked,
            head.hash,
            None,
            None,
            f"chain head ({head.sequence}) does not match the last seal ({last_sequence}); "
            "records were removed from the end",
        )
    if checked:
        last = conn.execute(sa.select(_seal.c.hash).where(_seal.c.sequence == checked)).scalar_one()
        if last != head.hash:
            return _invalid(checked, head.hash, checked, None, "chain head hash does not match")
    return None


def iter_chain(session: Session, *, batch: int = 2000) -> Iterator[sa.Row[*tuple[Any, ...]]]:
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


def _entry_problem(
    entry: sa.Row[*tuple[Any, ...]],
    expected: int,
    prev_hash: str,
    previous_key: tuple[int, int] | None,
) -> str | None:
    if entry.id is None:
        return "record removed: its seal has no record"
    if entry.sequence != expected:
        return f"sequence gap: expected {expected}, found {entry.sequence}"
    if entry.prev_hash != prev_hash:
        return "prev_hash does not match the previous record"
    if content_digest(entry._asdict()) != entry.digest:
        return "record content does not match its digest"
    if chain_hash(prev_hash, entry.sequence, entry.digest) != entry.hash:
        return "hash does not match the record's digest"
    if previous_key is not None and (entry.txid, entry.id) <= previous_key:
        return "out of order: sealed after a later record (inserted behind the chain)"
    return None


def verify_in_python(session: Session) -> VerifyResult:
    """The same checks walked in Python (the embedded SQLite default has no sha256())."""
    prev_hash = GENESIS_HASH
    expected = 1
    previous_key = None
    for entry in iter_chain(session):
        problem = _entry_problem(entry, expected, prev_hash, previous_key)
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
