"""Idempotency keys for every POST that moves money or issues a card (API.md, "idempotency").

`@idempotent()` (app.edge.idempotency) sits under `@require(...)` on a view. The key lives in the
movement's own transaction:

1. `lookup` reads the caller's key. A stored response is replayed byte for byte (status, the
   headers that describe the body, the exact body) with `Idempotent-Replayed: true`; the same key
   with a different body → 422 `idempotency_key_reused`.
2. Otherwise the view runs in a unit of work held by the edge (`core.uow`), and `store` inserts
   the key *with its response* in the same transaction as the movement, right before the one
   COMMIT. A concurrent duplicate that got that far waits on the unique index until the first
   commits, finds the key taken, rolls its own work back and replays the first one's answer.
3. Outcomes that are not a decision (schema validation errors, a token that is not fresh
   enough, server errors) store no key, so that the client may correct and retry with it.

A crash at any point therefore leaves either nothing (a retry runs at once) or the movement with
its response (a retry replays it): there is no state in between to wait out.

Keys are kept `IDEMPOTENCY_TTL_SECONDS` (24 h); `purge_expired` removes older ones.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from flask import Response, current_app
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.core import uow
from app.core.db import Base, BigIntPK, table_of, utcnow
from app.core.errors import DomainError

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
COMPLETED = "completed"
# Replayed headers besides the body: what describes the representation.
_STORED_HEADERS = ("Content-Type", "Location", "Content-Disposition")
# Error codes that are not the outcome of the operation: no key is stored.
NOT_A_DECISION = frozenset(
    {"validation_error", "fresh_token_required", "unauthorized", "forbidden"}
)


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
    response_headers: Mapped[dict[str, str] | None] = mapped_column(sa.JSON)
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
    message = (
        "This request was carried out but its response was not kept; "
        "look it up in your transactions instead of retrying."
    )


@dataclass(frozen=True)
class KeyRequest:
    """The caller's key for this request, and what identifies the request's body."""

    user_id: int
    key: str
    fingerprint: str


@dataclass
class Stored:
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


_TABLE = table_of(IdempotencyKey)
_LOOKUP = sa.select(
    _TABLE.c.fingerprint,
    _TABLE.c.status,
    _TABLE.c.response_status,
    _TABLE.c.response_headers,
    _TABLE.c.response_body,
    _TABLE.c.expires_at,
).where(_TABLE.c.user_id == sa.bindparam("user_id"), _TABLE.c.key == sa.bindparam("key"))
_VALUES = {
    name: sa.bindparam(name, type_=_TABLE.c[name].type)
    for name in (
        "user_id",
        "key",
        "fingerprint",
        "status",
        "response_status",
        "response_headers",
        "response_body",
        "created_at",
        "expires_at",
    )
}
# The key with its response, built once per dialect; nothing when a concurrent request won.
_STORES = {
    dialect: insert(_TABLE)
    .values(**_VALUES)
    .on_conflict_do_nothing(index_elements=["user_id", "key"])
    .returning(_TABLE.c.id)
    for dialect, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}
_DELETE_EXPIRED = sa.delete(_TABLE).where(
    _TABLE.c.user_id == sa.bindparam("user_id"),
    _TABLE.c.key == sa.bindparam("key"),
    _TABLE.c.expires_at <= sa.bindparam("now"),
)


def lookup(session: Session, request: KeyRequest) -> Stored | None:
    """The response stored under the caller's key, or None when the request is new.

    A different body under the same key → `IdempotencyKeyReused`.
    """
    params = {"user_id": request.user_id, "key": request.key, "now": utcnow()}
    row = session.connection().execute(_LOOKUP, params).one_or_none()  # Core: no ORM layer
    if row is None:
        return None
    if row.expires_at <= params["now"]:
        session.execute(_DELETE_EXPIRED, params)  # past its retention: the key starts afresh
        return None
    if not hmac.compare_digest(row.fingerprint, request.fingerprint):
        raise IdempotencyKeyReused()
    if row.status != COMPLETED:
        # Claimed and not answered yet; or `committed`, written before keys lived in the
        # movement's transaction (the movement committed, its answer was not kept): either
        # answers 409 until the key expires.
        raise RequestInProgress()
    return Stored(row.response_status, dict(row.response_headers or {}), row.response_body)


@dataclass
class KeyWrite:
    """The caller's key with its response, staged on the unit of work; `inserted` is known
    once the unit has written it (False: a concurrent request with the key committed first)."""

    request: KeyRequest
    response: Response
    inserted: bool | None = None

    def values(self) -> dict[str, Any]:
        now = utcnow()
        response = self.response
        return {
            "user_id": self.request.user_id,
            "key": self.request.key,
            "fingerprint": self.request.fingerprint,
            "status": COMPLETED,
            "response_status": response.status_code,
            "response_headers": {
                h: response.headers[h] for h in _STORED_HEADERS if h in response.headers
            },
            "response_body": response.get_data(),
            "created_at": now,
            "expires_at": now + timedelta(seconds=current_app.config["IDEMPOTENCY_TTL_SECONDS"]),
        }


def stage(session: Session, request: KeyRequest, response: Response) -> KeyWrite:
    """Stage the key with `response` on the unit of work (written with the movement)."""
    write = KeyWrite(request, response)
    uow.of(session).stage(_write_keys, write)
    return write


def _write_keys(session: Session, writes: list[KeyWrite]) -> None:
    statement = _STORES[session.get_bind().dialect.name]
    for write in writes:
        write.inserted = session.execute(statement, write.values()).scalar() is not None


@uow.composes(_write_keys)
def _compose_keys(session: Session, writes: list[KeyWrite]) -> list[uow.Part]:
    parts = []
    for write in writes:

        def counted(n: int, write: KeyWrite = write) -> None:
            write.inserted = n > 0

        parts.append(
            uow.insert_rows(
                _TABLE,
                [write.values()],
                finish=lambda stmt: stmt.on_conflict_do_nothing(
                    index_elements=["user_id", "key"]
                ).returning(_TABLE.c.id),
                on_count=counted,
            )
        )
    return parts


def purge_expired(session: Session, *, now: datetime | None = None) -> int:
    """Delete keys past their retention; returns how many (the caller commits)."""
    # Session.execute is typed as returning a Result; a DELETE's is a CursorResult.
    result = cast(
        sa.CursorResult[*tuple[Any, ...]],
        session.execute(
            sa.delete(IdempotencyKey).where(IdempotencyKey.expires_at <= (now or utcnow()))
        ),
    )
    return result.rowcount or 0
