"""The transactional outbox: jobs are rows written in the transaction that decides them.

`core.queue.enqueue` adds a `JobOutbox` row to the caller's session. Nothing reaches Redis
before the commit, and a rolled-back change leaves no row. After the commit:

* with Redis, the rows are pushed to RQ at once (the fast path) and marked `sent`; when Redis
  is down the request still succeeds and the rows stay `pending`;
* the relay (`relay_pending`, run by every `flask worker` and by `flask outbox relay`) pushes
  whatever is still pending, oldest first, with exponential backoff between attempts, so a
  Redis outage only delays jobs;
* without Redis (the embedded default) the jobs run inline after the commit, never failing
  the request that asked for them.

The row id is the RQ job id; `owner_id` names the user a job belongs to (for `/api/v1/jobs`).
"""

from __future__ import annotations

import importlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from redis import Redis
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.core import uow
from app.core.db import Base, table_of, utcnow

log = logging.getLogger("flowlet.outbox")

PENDING, SENT, DONE, FAILED = "pending", "sent", "done", "failed"
# The fast path owns a fresh row this long; only then may the relay push it.
FAST_PATH_GRACE = timedelta(seconds=5)
MAX_BACKOFF_SECONDS = 60


class JobOutbox(Base):
    """A job decided by a committed transaction, waiting to be handed to RQ (or handed)."""

    __tablename__ = "job_outbox"
    __table_args__ = (
        sa.Index("ix_job_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    func: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    args: Mapped[list[Any]] = mapped_column(sa.JSON, nullable=False)
    kwargs: Mapped[dict[str, Any]] = mapped_column(sa.JSON, nullable=False)
    queue: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    retry_max: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    retry_intervals: Mapped[list[int]] = mapped_column(sa.JSON, nullable=False)
    owner_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default=PENDING)
    attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()


def resolve(path: str) -> Any:
    """`package.module.function` → the function (what RQ does with the same string)."""
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def backoff(attempts: int) -> timedelta:
    """1, 2, 4 … seconds between pushes, at most a minute."""
    return timedelta(seconds=min(2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS))


# --- pushing to RQ ------------------------------------------------------------------------------


def push(redis: Redis, row: JobOutbox | dict[str, Any]) -> None:
    """Hand one row to RQ under its own id (a job already there is not pushed twice)."""
    data = row if isinstance(row, dict) else _row_dict(row)
    if Job.exists(data["id"], connection=redis):
        return
    retry = Retry(max=data["retry_max"], interval=data["retry_intervals"] or 0)
    Queue(data["queue"], connection=redis).enqueue_call(
        data["func"],
        args=data["args"],
        kwargs=data["kwargs"],
        job_id=data["id"],
        retry=retry if data["retry_max"] else None,
        meta={"owner_id": data["owner_id"]},
    )


def _row_dict(row: JobOutbox) -> dict[str, Any]:
    return {
        "id": row.id,
        "func": row.func,
        "args": row.args,
        "kwargs": row.kwargs,
        "queue": row.queue,
        "retry_max": row.retry_max,
        "retry_intervals": row.retry_intervals,
        "owner_id": row.owner_id,
    }


def mark(
    connection: sa.Connection, ids: list[str], status: str, *, error: str | None = None
) -> None:
    """Mark pending rows sent (or, inline, done or failed) in a transaction of their own."""
    table = table_of(JobOutbox)
    now = utcnow()
    values: dict[str, Any] = {"status": status, "sent_at": now}
    if status in (DONE, FAILED):
        values["finished_at"] = now
    if error is not None:
        values["last_error"] = error[:255]
    connection.execute(
        sa.update(table).where(table.c.id.in_(ids), table.c.status == PENDING).values(**values)
    )


def finish(connection: sa.Connection, job_id: str) -> None:
    """A worker ran the job to the end: the row is done (called by `core.queue.task`)."""
    table = table_of(JobOutbox)
    now = utcnow()
    connection.execute(
        sa.update(table)
        .where(table.c.id == job_id, table.c.status.in_([PENDING, SENT]))
        .values(status=DONE, finished_at=now, sent_at=sa.func.coalesce(table.c.sent_at, now))
    )


def recover_lost(session: Session, redis: Redis, *, older_than: timedelta, limit: int = 200) -> int:
    """Rows handed to RQ whose job is gone (Redis lost its data) go back to `pending`.

    A row is `sent` from the push until a worker finishes the job; a sent row whose job no
    longer exists in Redis was lost (a restart without persistence, a flush) and is pushed
    again. Jobs are idempotent, so the rare double run changes nothing. Returns how many.
    """
    rows = session.scalars(
        sa.select(JobOutbox)
        .where(JobOutbox.status == SENT, JobOutbox.sent_at < utcnow() - older_than)
        .order_by(JobOutbox.sent_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    lost = 0
    for row in rows:
        try:
            status = Job.fetch(row.id, connection=redis).get_status(refresh=False)
        except NoSuchJobError:
            row.status, row.next_attempt_at, row.sent_at = PENDING, utcnow(), None
            row.last_error = "job lost by Redis; pushed again"
            lost += 1
            continue
        if status == JobStatus.FINISHED:
            row.status, row.finished_at = DONE, utcnow()
        elif status == JobStatus.FAILED:
            row.status, row.finished_at = FAILED, utcnow()
            row.last_error = "failed in RQ after its retries"
    uow.commit(session)
    if lost:
        log.warning("outbox: %d job(s) lost by Redis were pushed again", lost)
    return lost


@dataclass
class RelayResult:
    sent: int = 0
    failed: int = 0
    error: str | None = None


def relay_pending(session: Session, redis: Redis, *, limit: int = 100) -> RelayResult:
    """Push due pending rows to RQ, oldest first; back off the first one Redis refuses.

    Rows are locked with SKIP LOCKED, so several relays never push the same row at once.
    Commits once at the end.
    """
    now = utcnow()
    rows = session.scalars(
        sa.select(JobOutbox)
        .where(JobOutbox.status == PENDING, JobOutbox.next_attempt_at <= now)
        .order_by(JobOutbox.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    result = RelayResult()
    for row in rows:
        try:
            push(redis, row)
        except Exception as exc:  # Redis down or refusing: try again later
            row.attempts += 1
            row.last_error = f"{type(exc).__name__}: {exc}"[:255]
            row.next_attempt_at = now + backoff(row.attempts)
            result.failed += 1
            result.error = type(exc).__name__
            # The rest would fail alike; they keep their place and are tried next round.
            break
        row.status = SENT
        row.sent_at = utcnow()
        result.sent += 1
    uow.commit(session)
    if result.failed:
        log.warning("outbox relay: Redis refused a push (%s); retrying later", result.error)
    return result


# --- observability ------------------------------------------------------------------------------


@dataclass
class Backlog:
    pending: int
    oldest_age_seconds: float


def backlog(session: Session) -> Backlog:
    """How many rows wait for RQ, and how long the oldest has waited."""
    count, oldest = session.execute(
        sa.select(sa.func.count(), sa.func.min(JobOutbox.created_at)).where(
            JobOutbox.status == PENDING
        )
    ).one()
    if oldest is not None and oldest.tzinfo is None:  # SQLite drops the zone in aggregates
        oldest = oldest.replace(tzinfo=UTC)
    age = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
    return Backlog(pending=int(count), oldest_age_seconds=round(max(age, 0.0), 3))


def purge_sent(session: Session, *, older_than: timedelta) -> int:
    """Delete rows of jobs finished (or failed) longer ago than `older_than`."""
    table = table_of(JobOutbox)
    # Session.execute is typed as returning a Result; a DELETE's is a CursorResult.
    result = cast(
        sa.CursorResult[*tuple[Any, ...]],
        session.execute(
            sa.delete(table).where(
                table.c.status.in_([DONE, FAILED]), table.c.finished_at < utcnow() - older_than
            )
        ),
    )
    return int(result.rowcount or 0)


class Every:
    """Monotonic 'every N seconds' helper for the relay loop."""

    def __init__(self, every: float) -> None:
        self.every = every
        self.last = float("-inf")

    def due(self) -> bool:
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            return True
        return False
