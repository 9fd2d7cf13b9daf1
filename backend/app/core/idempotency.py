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

If the process dies after the movement committed but before the response is stored, the key
stays `in_flight` until it expires: retries get 409, never a second movement.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Response, current_app, request
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column
from werkzeug.exceptions import HTTPException

from app.core.db import Base, BigIntPK, utcnow
from app.core.errors import DomainError, ValidationError, error_response

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
IN_FLIGHT = "in_flight"
COMPLETED = "completed"
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


@dataclass
class _Stored:
    status: int
    headers: dict[str, str]
    body: bytes


def fingerprint(method: str, path: str, body: bytes) -> str:
    """SHA-256 over method, path and the body (canonical JSON when it is JSON)."""
    try:
        canonical = json.dumps(
            json.loads(body or b"null"), sort_keys=True, separators=(",", ":")
        ).encode()
    except ValueError:
        canonical = body
    return hashlib.sha256(f"{method} {path}\n".encode() + canonical).hexdigest()


_engine_lock = threading.Lock()


def _engine() -> sa.Engine:
    """The engine for the key store.

    On PostgreSQL its own small pool with `synchronous_commit=off`: a claim or a stored
    response need not reach the disk on its own, because the movement's synchronous commit
    flushes the WAL up to and including it; losing one in a crash loses nothing (a lost claim
    means no movement happened; a lost response leaves the key `in_flight`, so retries get 409).
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
                    pool_pre_ping=True,
                    pool_size=engine.pool.size(),
                    max_overflow=10,
                )
                extensions["flowlet_idempotency_engine"] = store
    return store


_TABLE = IdempotencyKey.__table__
_CLAIM_VALUES = {
    name: sa.bindparam(f"v_{name}", type_=_TABLE.c[name].type)
    for name in ("user_id", "key", "fingerprint", "status", "created_at", "expires_at")
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
    .where(_TABLE.c.id == sa.bindparam("key_id"))
    .values(
        status=COMPLETED,
        response_status=sa.bindparam("v_status", type_=_TABLE.c.response_status.type),
        response_headers=sa.bindparam("v_headers", type_=_TABLE.c.response_headers.type),
        response_body=sa.bindparam("v_body", type_=_TABLE.c.response_body.type),
    )
)


def claim(*, user_id: int, key: str, fingerprint: str) -> int | _Stored:
    """Claim `key` for `user_id`: the new row's id, or the stored response to replay."""
    table = _TABLE
    now = utcnow()
    ttl = timedelta(seconds=current_app.config["IDEMPOTENCY_TTL_SECONDS"])
    values = {
        "v_user_id": user_id,
        "v_key": key,
        "v_fingerprint": fingerprint,
        "v_status": IN_FLIGHT,
        "v_created_at": now,
        "v_expires_at": now + ttl,
    }
    with _engine().connect() as conn, conn.begin():
        stmt = _CLAIMS[conn.dialect.name]
        new_id = conn.execute(stmt, values).scalar()
        if new_id is not None:
            return new_id
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
            return new_id
        if row.fingerprint != fingerprint:
            raise IdempotencyKeyReused()
        if row.status == IN_FLIGHT:
            raise RequestInProgress()
        return _Stored(row.response_status, dict(row.response_headers or {}), row.response_body)


def store(key_id: int, response: Response) -> None:
    """Keep the outcome of the request that claimed `key_id`."""
    headers = {h: response.headers[h] for h in _STORED_HEADERS if h in response.headers}
    with _engine().connect() as conn, conn.begin():
        conn.execute(
            _STORE,
            {
                "key_id": key_id,
                "v_status": response.status_code,
                "v_headers": headers,
                "v_body": response.get_data(),
            },
        )


def release(key_id: int) -> None:
    """Forget a claim whose request reached no decision; the key may be used again."""
    table = IdempotencyKey.__table__
    with _engine().connect() as conn, conn.begin():
        conn.execute(sa.delete(table).where(table.c.id == key_id))


def replay(stored: _Stored) -> Response:
    response = Response(stored.body, status=stored.status)
    for name, value in stored.headers.items():
        response.headers[name] = value
    response.headers[REPLAYED_HEADER] = "true"
    return response


def purge_expired(session: Session, *, now: datetime | None = None) -> int:
    """Delete keys past their retention; returns how many (the caller commits)."""
    result = session.execute(
        sa.delete(IdempotencyKey).where(IdempotencyKey.expires_at <= (now or utcnow()))
    )
    return result.rowcount or 0


def _end_read_transaction(session: Session) -> None:
    """Commit what is only a read transaction, keeping loaded objects loaded."""
    previous = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = previous


def _is_decision(exc: DomainError) -> bool:
    return exc.status < 500 and exc.code not in _NOT_A_DECISION


def idempotent(*, required: bool = True) -> Callable:
    """Make a view idempotent per user and `Idempotency-Key` (place under `@require`)."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from app.auth.permissions import current_user

            key = request.headers.get(HEADER)
            if key is None:
                if required:
                    raise IdempotencyKeyRequired()
                return view(*args, **kwargs)
            if not 1 <= len(key) <= 255:
                raise ValidationError(
                    "The Idempotency-Key is not valid.",
                    details={HEADER: ["Between 1 and 255 characters."]},
                )
            from app.extensions import db

            user_id = current_user().id
            # The request's session only read the caller so far: end that transaction so the
            # claim reuses its connection (a request never holds two).
            _end_read_transaction(db.session())
            outcome = claim(
                user_id=user_id,
                key=key,
                fingerprint=fingerprint(request.method, request.path, request.get_data()),
            )
            if isinstance(outcome, _Stored):
                return replay(outcome)
            try:
                response = current_app.make_response(view(*args, **kwargs))
            except DomainError as exc:
                db.session.rollback()
                if not _is_decision(exc):
                    release(outcome)
                    raise
                response = error_response(
                    exc.status, exc.code, exc.message, exc.details, exc.headers
                )
            except (HTTPException, Exception):
                db.session.rollback()
                release(outcome)
                raise
            _end_read_transaction(db.session())
            if response.status_code >= 500:
                release(outcome)
            else:
                store(outcome, response)
            return response

        return wrapper

    return decorator
