"""The sealer: chains committed records after the fact, in `(txid, id)` order.

It reads the snapshot's xmin (every transaction older than it has ended, so no record with a
smaller txid can still appear), takes the unsealed records below it in `(txid, id)` order and
appends one `audit_seal` row each: `hash = SHA-256(prev_hash "\\n" sequence "\\n" digest)`.
Only sealers lock the chain head; writers never wait on it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app.core.audit.chain import chain_hash
from app.core.audit.models import head_table as _head
from app.core.audit.models import log_table as _log
from app.core.audit.models import seal_table as _seal
from app.core.audit.sql import UNSEALED_SQL
from app.core.db import utcnow

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


def _seals(
    rows: Sequence[sa.Row[Any, Any, Any]], sequence: int, prev_hash: str, moment: datetime
) -> list[dict[str, Any]]:
    """The `audit_seal` rows chaining `rows` after the head (`sequence`, `prev_hash`)."""
    seals: list[dict[str, Any]] = []
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
    return seals


def seal_batch(conn: sa.Connection, *, xmin: int | None, limit: int | None) -> int:
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
    seals = _seals(rows, head.sequence, head.hash, utcnow())
    conn.execute(sa.insert(_seal), seals)
    conn.execute(
        sa.update(_head)
        .where(_head.c.id == 1)
        .values(
            sequence=seals[-1]["sequence"],
            hash=seals[-1]["hash"],
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
            count = seal_batch(conn, xmin=None, limit=batch)
        total += count
        if count == batch:
            continue
        if time.monotonic() >= deadline:
            return total
        with engine.connect() as conn:
            waiting = conn.execute(sa.text(UNSEALED_SQL)).one().n
        if not waiting:
            return total
        time.sleep(0.02)
