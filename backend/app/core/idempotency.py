"""Idempotency keys for every POST that moves money or issues a card (API.md, "idempotency").

`@idempotent()` sits under `@require(...)` on a view:

1. The `Idempotency-Key` header is claimed for the caller in a short transaction of its own,
   on its own connection: `INSERT … ON CONFLICT DO NOTHING` on the unique `(user_id, key)`. The
   winner runs the view; a concurrent request with the same key waits for that insert to commit
   and then sees the row `in_flight` → 409 `request_in_progress`.
2. The outcome is stored (status, headers, exact body bytes) and replayed byte for byte, with
   `Idempotent-Replayed: true`, to any later request with the same key and the same body. A
   different body under the same key → 422 `idempotency_key_reused`.
3. Outcomes that are not a decision (schema validation errors, a token that is not fresh
   enough, server errors) release the key, so that the client may correct and retry with it.

Keys are kept `IDEMPOTENCY_TTL_SECONDS` (24 h); `purge_expired` removes older ones.

Exactly one movement per key, even across crashes: each claim carries a random token, and the
movement's own transaction flips the key from `in_flight` to `committed` for that token (a
`before_commit` hook; the commit fails if the claim was taken over). So:

- a process that dies before its movement commits leaves the key `in_flight`; once it is older
  than `IDEMPOTENCY_STALE_SECONDS` a retry takes the claim over (new token) and runs;
- a process that dies after the commit but before storing the response leaves the key
  `committed`: retries get 409 and never a second movement; the movement itself is in the
  history;
- a request that fails after its movement committed never frees the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Response, current_app
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.core.db import Base, BigIntPK, utcnow
from app.core.errors import DomainError

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
IN_FLIGHT = "in_flight"
COMMITTED = "committed"  # the movement committed; the response is not stored (yet)
COMPLETED = "completed"
ARMED_KEY = "idempotency_claim"
# Replayed headers besides the body: what describes the representation.
_STORED_HEADERS = ("Content-Type", "Location", "Content-Disposition")
# Error codes that are not the outcome of the operation: the key is released.
_NOT_A_DECISION = {"validation_error", "fresh_token_required", "unauthorized", "forbidden"}


class IdempotencyKey(Base):
    """A claimed key and, once known, the response it produced."""

    __tablename__ = "idempotency_keys"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    key: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    fingerprint: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    response_status: Mapped[int | None] = mapped_column(sa.Integer)
    response_headers: Mapped[dict | None] = mapped_column(sa.JSON)
    response_body: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(nullable=False)
    expires_at: Mapped[datetime] = mapped_column(nullable=False, index=True)
    # Who holds the claim, and since when (a stale `in_flight` claim can be taken over).
    claim_token: Mapped[str | None] = mapped_column(sa.String(32))
    claimed_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (sa.UniqueConstraint("user_id", "key", name="uq_idempotency_keys_user_key"),)


class IdempotencyKeyRequired(DomainError):
    status, code = 400, "idempotency_key_required"
    message = "This request moves money: send an Idempotency-Key header."


class IdempotencyKeyReused(DomainError):
    status, code = 422, "idempotency_key_reused"
    message = "This Idempotency-Key was used with a different request."


class RequestInProgress(DomainError):
    status, code = 409, "request_in_progress"
    message = "A request with this Idempotency-Key is still being processed; retry shortly."


class ClaimTakenOver(RequestInProgress):
    message = "This request took too long and a retry with its Idempotency-Key took over."


@dataclass(frozen=True)
class Claim:
    id: int
    token: str


@dataclass
class _Stored:
    status: int
    headers: dict[str, str]
    body: bytes


def _fingerprint_key() -> bytes:
    secret = current_app.config["SECRET_KEY"]
    return hmac.new(secret.encode(), b"flowlet idempotency fingerprint", hashlib.sha256).digest()


def fingerprint(method: str, path: str, body: bytes) -> str:
    """Keyed HMAC-SHA256 over method, path and the body (canonical JSON when it is JSON).

    Keyed, because a body may carry a card number: an unkeyed digest of a PAN with a known
    BIN could be reversed by trying every number.
    """
    try:
        canonical = json.dumps(
            json.loads(body or b"null"), sort_keys=True, separators=(",", ":")
        ).encode()
    except (ValueError, RecursionError):  # not JSON, or too deep: the raw bytes
        canonical = body
    message = f"{method} {path}\n".encode() + canonical
    return hmac.new(_fingerprint_key(), message, hashlib.sha256).hexdigest()


_engine_lock = threading.Lock()


def _engine() -> sa.Engine:
    """The engine for the key store.

    On PostgreSQL its own small pool in autocommit mode (every write here is one statement that
    commits by itself) with `synchronous_commit=off`: a claim or a stored
    response need not reach the disk on its own, because the movement's synchronous commit
    flushes the WAL up to and including it; losing one in a crash loses nothing (a lost claim
    means no movement happened; a lost response leaves the key `committed`, so retries get 409).
    """
    from app.extensions import db

    engine = db.engine
    if engine.dialect.name != "postgresql":
        return engine
    extensions = current_app.extensions
    store = extensions.get("flowlet_idempotency_engine")
    if store is None:
        with _engine_lock:
            store = extensions.get("flowlet_idempotency_engine")
            if store is None:
                store = sa.create_engine(
                    engine.url,
                    connect_args={"options": "-c synchronous_commit=off"},
                    # Each claim, store and release is one statement: no BEGIN/COMMIT trips.
                    isolation_level="AUTOCOMMIT",
                    pool_pre_ping=current_app.config["SQLALCHEMY_ENGINE_OPTIONS"].get(
                        "pool_pre_ping", False
                    ),
                    pool_recycle=1800,
                    pool_size=engine.pool.size(),
                    max_overflow=10,
                )
                extensions["flowlet_idempotency_engine"] = store
    return store


_TABLE = IdempotencyKey.__table__
_CLAIM_VALUES = {
    name: sa.bindparam(f"v_{name}", type_=_TABLE.c[name].type)
    for name in (
        "user_id",
        "key",
        "fingerprint",
        "status",
        "created_at",
        "expires_at",
        "claim_token",
        "claimed_at",
    )
}
# The claim, built once per dialect (the values are bound per call).
_CLAIMS = {
    dialect: insert(_TABLE)
    .values(**_CLAIM_VALUES)
    .on_conflict_do_nothing(index_elements=["user_id", "key"])
    .returning(_TABLE.c.id)
    for dialect, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}
_STORE = (
    sa.update(_TABLE)
    .where(_TABLE.c.id == sa.bindparam("key_id"), _TABLE.c.claim_token == sa.bindparam("token"))
    .values(
        status=COMPLETED,
        response_status=sa.bindparam("v_status", type_=_TABLE.c.response_status.type),
        response_headers=sa.bindparam("v_headers", type_=_TABLE.c.response_headers.type),
        response_body=sa.bindparam("v_body", type_=_TABLE.c.response_body.type),
    )
)


_MARK_COMMITTED = (
    sa.update(_TABLE)
    .where(
        _TABLE.c.id == sa.bindparam("key_id"),
        _TABLE.c.claim_token == sa.bindparam("token"),
        _TABLE.c.status == IN_FLIGHT,
    )
    .values(status=COMMITTED)
)


def claim(*, user_id: int, key: str, fingerprint: str) -> Claim | _Stored:
    """Claim `key` for `user_id`: the claim to run under, or the stored response to replay."""
    table = _TABLE
    now = utcnow()
    ttl = timedelta(seconds=current_app.config["IDEMPOTENCY_TTL_SECONDS"])
    token = uuid.uuid4().hex
    values = {
        "v_user_id": user_id,
        "v_key": key,
        "v_fingerprint": fingerprint,
        "v_status": IN_FLIGHT,
        "v_created_at": now,
        "v_expires_at": now + ttl,
        "v_claim_token": token,
        "v_claimed_at": now,
    }
    with _engine().connect() as conn, conn.begin():
        stmt = _CLAIMS[conn.dialect.name]
        new_id = conn.execute(stmt, values).scalar()
        if new_id is not None:
            return Claim(new_id, token)
        row = conn.execute(
            sa.select(table).where(table.c.user_id == user_id, table.c.key == key)
        ).one_or_none()
        if row is None or row.expires_at <= now:
            # Expired (or purged meanwhile): the key starts afresh.
            conn.execute(
                sa.delete(table).where(
                    table.c.user_id == user_id, table.c.key == key, table.c.expires_at <= now
                )
            )
            new_id = conn.execute(stmt, values).scalar()
            if new_id is None:
                raise RequestInProgress()
            return Claim(new_id, token)
        if row.fingerprint != fingerprint:
            raise IdempotencyKeyReused()
        if row.status == IN_FLIGHT:
            stale = timedelta(seconds=current_app.config["IDEMPOTENCY_STALE_SECONDS"])
            if row.claimed_at is not None and row.claimed_at <= now - stale:
                # Its request died before its movement committed: take the claim over.
                taken = conn.execute(
                    sa.update(table)
                    .where(
                        table.c.id == row.id,
                        table.c.status == IN_FLIGHT,
                        table.c.claim_token == row.claim_token,
                    )
                    .values(claim_token=token, claimed_at=now)
                    .returning(table.c.id)
                ).scalar()
                if taken is not None:
                    return Claim(row.id, token)
            raise RequestInProgress()
        if row.status == COMMITTED:
            raise RequestInProgress(
                "This request was carried out but its response was not kept; "
                "look it up in your transactions instead of retrying."
            )
        return _Stored(row.response_status, dict(row.response_headers or {}), row.response_body)


def store(held: Claim, response: Response) -> None:
    """Keep the outcome of the request holding the claim."""
    headers = {h: response.headers[h] for h in _STORED_HEADERS if h in response.headers}
    with _engine().connect() as conn, conn.begin():
        conn.execute(
            _STORE,
            {
                "key_id": held.id,
                "token": held.token,
                "v_status": response.status_code,
                "v_headers": headers,
                "v_body": response.get_data(),
            },
        )


def release(held: Claim) -> bool:
    """Forget a claim whose request reached no decision, so the key may be used again.

    Refused (False) once the claim's movement committed: that key is spent.
    """
    table = IdempotencyKey.__table__
    with _engine().connect() as conn, conn.begin():
        deleted = conn.execute(
            sa.delete(table).where(
                table.c.id == held.id,
                table.c.claim_token == held.token,
                table.c.status == IN_FLIGHT,
            )
        ).rowcount
    return bool(deleted)


def spend(session: Session) -> None:
    """In the movement's own transaction: spend the request's claim, or refuse to commit.

    The movement engine calls it right before its commit; a request that commits without the
    engine spends it in the `before_commit` hook. Spent once: the claim is disarmed.
    """
    held: Claim | None = session.info.pop(ARMED_KEY, None)
    if held is None:
        return
    marked = (
        session.connection()
        .execute(_MARK_COMMITTED, {"key_id": held.id, "token": held.token})
        .rowcount
    )
    if marked != 1:
        raise ClaimTakenOver()


_installed = False


def install_hooks() -> None:
    """Tie an armed claim to the first commit of the request (once per process)."""
    global _installed
    if _installed:
        return
    _installed = True

    @sa.event.listens_for(Session, "before_commit")
    def _before_commit(session: Session) -> None:
        spend(session)


def purge_expired(session: Session, *, now: datetime | None = None) -> int:
    """Delete keys past their retention; returns how many (the caller commits)."""
    result = session.execute(
        sa.delete(IdempotencyKey).where(IdempotencyKey.expires_at <= (now or utcnow()))
    )
    return result.rowcount or 0
