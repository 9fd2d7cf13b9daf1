"""Events: what happened, written in the transaction that made it happen, read in commit order.

    emit(session, "movement.completed", data, user_id=…, account_id=…, audience="customer")

stages an `events` row in the caller's unit of work (`core.uow`), so the event commits with
the change it tells of, or not at all. An event has a stable `public_id` (what a webhook
receiver deduplicates by), a type and a version, the time and a JSON payload that carries no
secret (ids, amounts as decimal strings, statuses).

**Commit order.** Row ids are taken at INSERT, not at COMMIT: a transaction holding id 10 can
commit after one holding id 11, so a reader resuming "after 11" would never see 10. Readers
therefore never page by id. `sequence()` gives each *committed* event a `position`, in id
order, under an advisory lock: every run sees all events committed before it took the lock and
numbers them after every position given before, so positions appear in the order readers can
see them, without a gap. The stream's `Last-Event-ID` and the webhook fan-out resume by
position. Events of one account are numbered in the order their changes committed: the
ledger's row lock on the account makes the second change insert its event after the first
committed.

**Waking readers.** After the commit the writer publishes on Redis (`CHANNEL`); stream
servers and the webhook fan-out wake on it, run `sequence()` and read. A lost message (the
process died between the commit and the publish) costs only latency: readers also poll.
PostgreSQL's NOTIFY was not chosen: it takes a database-wide lock at every commit that
notifies, which would serialize every movement's commit (docs/architecture.md, "Events").
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.core import uow
from app.core.db import Base, BigIntPK, table_of, utcnow
from app.core.queue import this_app

log = logging.getLogger("flowlet.events")

CHANNEL = "flowlet:events"
Audience = Literal["customer", "compliance"]
AUDIENCES: tuple[Audience, ...] = ("customer", "compliance")
# The advisory lock that makes `sequence()` one numbering at a time (any 64-bit constant).
_SEQUENCE_LOCK = 0x466C6F776C657445  # "FlowletE"
_SEQUENCE_BATCH = 5_000


class Event(Base):
    """One thing that happened, for the customer or officers it concerns and for webhooks."""

    __tablename__ = "events"
    __table_args__ = (
        sa.Index("ix_events_user_position", "user_id", "position"),
        sa.Index("ix_events_audience_position", "audience", "position"),
        sa.Index(
            "ix_events_unsequenced",
            "id",
            postgresql_where=sa.text("position IS NULL"),
            sqlite_where=sa.text("position IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    public_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, unique=True, nullable=False)
    # Given once committed, in commit order (`sequence`); what readers page and resume by.
    position: Mapped[int | None] = mapped_column(sa.BigInteger, unique=True)
    type: Mapped[str] = mapped_column(sa.String(48), nullable=False)
    version: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, nullable=False)
    # Who may read it: a customer (`user_id`) or the compliance queue.
    audience: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    # The account whose order it keeps (internal id; the payload carries the public one).
    account_id: Mapped[int | None] = mapped_column(sa.BigInteger)


def emit(
    session: Session,
    type: str,
    data: dict[str, Any],
    *,
    audience: Audience = "customer",
    user_id: int | None = None,
    account_id: int | None = None,
    version: int = 1,
    occurred_at: datetime | None = None,
) -> uuid.UUID:
    """Stage an event in `session`'s unit of work; returns its stable id."""
    if audience not in AUDIENCES:
        raise ValueError(f"unknown audience {audience!r}")
    if audience == "customer" and user_id is None:
        raise ValueError("a customer's event names the customer (user_id)")
    public_id = uuid.uuid4()
    row = {
        "public_id": public_id,
        "type": type,
        "version": version,
        "occurred_at": occurred_at or utcnow(),
        # Round-tripped through JSON now: a value JSON cannot carry fails here, in the
        # service, not at the commit.
        "data": json.loads(json.dumps(data)),
        "audience": audience,
        "user_id": user_id,
        "account_id": account_id,
    }
    uow.of(session).stage(_write_events, row)
    return public_id


def _write_events(session: Session, rows: list[dict[str, Any]]) -> None:
    session.execute(sa.insert(Event), rows)
    _wake_after_commit(session)


@uow.composes(_write_events)
def _compose_events(session: Session, rows: list[dict[str, Any]]) -> list[uow.Part]:
    """The events as one insert among the unit's other writes (PostgreSQL)."""
    _wake_after_commit(session)
    return [uow.insert_rows(table_of(Event), rows)]


def _wake_after_commit(session: Session) -> None:
    uow.of(session).after_commit(functools.partial(wake, this_app()))


def wake(app: Flask) -> None:
    """Tell readers that events committed (never raises: the change is already committed)."""
    redis = app.extensions.get("flowlet_redis")
    if redis is None:
        return
    try:
        redis.publish(CHANNEL, b"1")
    except Exception as exc:  # readers poll as well; this only costs latency
        log.warning("events: wake-up not published (%s)", type(exc).__name__)


# --- commit order -------------------------------------------------------------------------------


def sequence(session: Session, *, batch: int = _SEQUENCE_BATCH) -> int:
    """Number the committed events that have no position yet, in id order; returns how many.

    Runs in its own transaction on `session` (commits it). Safe from any number of processes
    at once: the numbering is serialized by a transaction-scoped advisory lock.
    """
    table = table_of(Event)
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(_SEQUENCE_LOCK)))
    last = int(session.scalar(sa.select(sa.func.coalesce(sa.func.max(table.c.position), 0))) or 0)
    due = (
        sa.select(
            table.c.id.label("id"),
            sa.func.row_number().over(order_by=table.c.id).label("n"),
        )
        .where(table.c.position.is_(None))
        .order_by(table.c.id)
        .limit(batch)
        .subquery("due")
    )
    numbered = session.execute(
        sa.update(table)
        .where(table.c.id == due.c.id)
        .values(position=last + due.c.n)
        .returning(table.c.id)
    ).all()
    uow.commit(session)
    return len(numbered)


# --- reading -------------------------------------------------------------------------------------


def after(
    session: Session,
    position: int,
    *,
    user_id: int | None = None,
    audience: Audience = "customer",
    types: Sequence[str] | None = None,
    limit: int = 500,
) -> list[Event]:
    """The sequenced events after `position` that one reader may see, in order.

    A customer reads their own (`user_id`); an officer reads the compliance queue's.
    """
    query = sa.select(Event).where(Event.position > position)
    if audience == "customer":
        if user_id is None:
            raise ValueError("a customer's events are read by user_id")
        query = query.where(Event.audience == "customer", Event.user_id == user_id)
    else:
        query = query.where(Event.audience == "compliance")
    if types:
        query = query.where(Event.type.in_(list(types)))
    return list(session.scalars(query.order_by(Event.position).limit(limit)))


def last_position(session: Session) -> int:
    """The highest position given so far (0 before the first)."""
    return int(session.scalar(sa.select(sa.func.coalesce(sa.func.max(Event.position), 0))) or 0)


def as_json(event: Event) -> dict[str, Any]:
    """The `Event` of API.md: `{id, type, version, occurred_at, data}`."""
    return {
        "id": str(event.public_id),
        "type": event.type,
        "version": event.version,
        "occurred_at": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "data": event.data,
    }


def purge(session: Session, *, older_than: timedelta, batch: int = 10_000) -> int:
    """Delete sequenced events older than `older_than` (a batch); returns how many."""
    cutoff = utcnow() - older_than
    ids = session.scalars(
        sa.select(Event.id)
        .where(Event.occurred_at < cutoff, Event.position.is_not(None))
        .order_by(Event.id)
        .limit(batch)
    ).all()
    if ids:
        session.execute(sa.delete(Event).where(Event.id.in_(ids)))
    uow.commit(session)
    return len(ids)
