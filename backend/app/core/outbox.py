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

Delivery is at least once. A row is `done` only in the transaction that commits its job's
effect (`core.queue.task` locks the row first, skips a job already done, and marks the row with
the job's commit); `redeliver_undone`, run by every worker, pushes again a row `sent` and not
done after `OUTBOX_REDELIVER_AFTER_SECONDS` unless RQ visibly holds its job.

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
from rq.registry import ScheduledJobRegistry, StartedJobRegistry
from rq.utils import as_text
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.core import uow
from app.core.db import Base, table_of, utcnow

log = logging.getLogger("flowlet.outbox")

PENDING, SENT, DONE, FAILED = "pending", "sent", "done", "failed"
# The fast path owns a fresh row this long; only then may the relay push it.
FAST_PATH_GRACE = timedelta(seconds=5)
MAX_BACKOFF_SECONDS = 60
# RQ's scheduler moves due jobs every second; a job overdue longer than this is not in hand.
SCHEDULER_GRACE_SECONDS = 15


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


def push(redis: Redis, row: JobOutbox | dict[str, Any], *, again: bool = False) -> None:
    """Hand one row to RQ under its own id (a job already there is not pushed twice, unless
    `again`: the redelivery replaces the job hash and queues the id anew)."""
    data = row if isinstance(row, dict) else _row_dict(row)
    if not again and Job.exists(data["id"], connection=redis):
        return
    retry = None
    if data["retry_max"]:  # RQ refuses a Retry of none
        retry = Retry(max=data["retry_max"], interval=data["retry_intervals"] or 0)
    Queue(data["queue"], connection=redis).enqueue_call(
        data["func"],
        args=data["args"],
        kwargs=data["kwargs"],
        job_id=data["id"],
        retry=retry,
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
    """A job that committed nothing returned: its row is done (called by `core.queue.task`)."""
    connection.execute(_finish_statement([job_id]))


def _finish_statement(ids: list[str]) -> sa.Update:
    table = table_of(JobOutbox)
    now = utcnow()
    return (
        sa.update(table)
        .where(table.c.id.in_(ids), table.c.status.in_([PENDING, SENT]))
        .values(status=DONE, finished_at=now, sent_at=sa.func.coalesce(table.c.sent_at, now))
    )


def reopen(connection: sa.Connection, job_id: str) -> None:
    """A job raised after a commit had marked its row done: not done, so it runs again."""
    table = table_of(JobOutbox)
    connection.execute(
        sa.update(table)
        .where(table.c.id == job_id, table.c.status == DONE)
        .values(status=SENT, finished_at=None)
    )


def finish_in(session: Session, ids: list[str]) -> None:
    """Unit-of-work writer: the job's rows are done in the transaction of the job's effect."""
    session.execute(_finish_statement(ids))


def claim(session: Session, job_id: str) -> str | None:
    """Lock the job's row for the job's first transaction; its status (None: no row).

    A second run of the same job waits here until the first commits, then sees `done`.
    """
    return session.scalar(
        sa.select(JobOutbox.status).where(JobOutbox.id == job_id).with_for_update()
    )


# --- redelivery ---------------------------------------------------------------------------------


def _in_hand(redis: Redis, queue: str) -> set[str]:
    """Ids RQ will run without us: waiting in the queue, scheduled (a retry's wait, not long
    overdue), or started by a worker whose heartbeat is alive. A job hash proves nothing."""
    waiting = {as_text(i) for i in redis.lrange(Queue(queue, connection=redis).key, 0, -1)}
    # ScheduledJobRegistry's key (its constructor is untyped); members are job ids, scored by
    # when they are due. One overdue longer than a grace has no RQ scheduler to move it on.
    scheduled_key = ScheduledJobRegistry.key_template.format(queue)
    due_since = time.time() - SCHEDULER_GRACE_SECONDS
    scheduled = {
        as_text(cast(bytes, i)) for i in redis.zrangebyscore(scheduled_key, due_since, "+inf")
    }
    started = StartedJobRegistry(queue, connection=redis)  # members are `job_id:execution_id`
    alive = redis.zrangebyscore(started.key, time.time(), "+inf")
    return waiting | scheduled | {started.parse_job_id(as_text(cast(bytes, i))) for i in alive}


def redeliver_undone(
    session: Session, redis: Redis, *, older_than: timedelta, limit: int = 200
) -> int:
    """Push again the rows `sent` longer than `older_than` ago and still not `done`.

    Whatever the job hash says (`queued` in no queue, `started` by a dead worker, gone with a
    Redis restart), a row is only done once its job committed; unless RQ visibly still holds
    the job, it is pushed again under the same id. A job that RQ failed after its retries
    makes the row `failed`. Jobs are safe to run twice (`core.queue.task`). Returns how many.
    """
    rows = session.scalars(
        sa.select(JobOutbox)
        .where(JobOutbox.status == SENT, JobOutbox.sent_at < utcnow() - older_than)
        .order_by(JobOutbox.sent_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    in_hand = {name: _in_hand(redis, name) for name in {row.queue for row in rows}}
    pushed = 0
    for row in rows:
        if row.id in in_hand[row.queue]:
            continue
        if _failed_in_rq(redis, row.id):
            row.status, row.finished_at = FAILED, utcnow()
            row.last_error = "failed in RQ after its retries"
            continue
        push(redis, row, again=True)
        row.sent_at, row.attempts = utcnow(), row.attempts + 1
        row.last_error = "not done in time; pushed again"
        pushed += 1
    uow.commit(session)
    if pushed:
        log.warning("outbox: %d job(s) not done in time were pushed again", pushed)
    return pushed


def _failed_in_rq(redis: Redis, job_id: str) -> bool:
    try:
        status = Job.fetch(job_id, connection=redis).get_status(refresh=False)
    except NoSuchJobError:
        return False
    return status == JobStatus.FAILED


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
    pending: int  # not yet handed to RQ
    oldest_age_seconds: float
    undone: int  # pending or sent: the job has not committed its effect
    oldest_undone_age_seconds: float


def backlog(session: Session) -> Backlog:
    """How many rows wait for RQ or for their job, and how long the oldest of each waited."""
    is_pending = JobOutbox.status == PENDING
    pending, oldest, undone, oldest_undone = session.execute(
        sa.select(
            sa.func.count().filter(is_pending),
            sa.func.min(JobOutbox.created_at).filter(is_pending),
            sa.func.count(),
            sa.func.min(JobOutbox.created_at),
        ).where(JobOutbox.status.in_([PENDING, SENT]))
    ).one()
    return Backlog(
        pending=int(pending),
        oldest_age_seconds=_age(oldest),
        undone=int(undone),
        oldest_undone_age_seconds=_age(oldest_undone),
    )


def _age(oldest: datetime | None) -> float:
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:  # SQLite drops the zone in aggregates
        oldest = oldest.replace(tzinfo=UTC)
    return round(max((utcnow() - oldest).total_seconds(), 0.0), 3)


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
