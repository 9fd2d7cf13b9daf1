"""Background jobs: written to the outbox in the caller's transaction, run by RQ workers.

    enqueue(session, func, *args, queue="default", retry=None, job_id=None, owner_id=None,
            **kwargs) -> job_id

adds a `job_outbox` row to `session` (docs/architecture.md, "Jobs"). After the commit the row
is pushed to RQ, or, when Redis is down, by the relay once it is back (`core.outbox`). With
`REDIS_URL` unset (the embedded default) jobs run inline, in their own application context
and database session, right after the commit; a failing inline job is logged, never raised.

Job functions take JSON values (ids, never secrets) and are decorated with `@task`. A job may
be delivered twice (a redelivery, a requeued abandoned job); `task` makes the second delivery
a no-op once the first committed (its outbox row is done in the same transaction).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, cast

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context
from prometheus_client import Counter
from redis import Redis
from rq import Queue, Retry, get_current_job
from sqlalchemy.orm import Session
from werkzeug.local import LocalProxy

from app.core import context, uow
from app.core.db import table_of, utcnow
from app.core.extensions import db
from app.core.outbox import (
    DONE,
    FAILED,
    FAST_PATH_GRACE,
    PENDING,
    SENT,
    JobOutbox,
    claim,
    finish,
    finish_in,
    mark,
    push,
    reopen,
    resolve,
)

P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger("flowlet.queue")

QUEUES = ("default", "sync", "notifications", "maintenance")
DEFAULT_RETRY = Retry(max=3, interval=[10, 60, 300])
# After a failed push the request path skips Redis this long (the relay catches up).
_FAST_PATH_PAUSE_SECONDS = 5.0
# Exposed at /metrics (core.health) with the HTTP series.
JOBS = Counter("flowlet_jobs_total", "Background jobs by outcome", ["job", "outcome"])


def get_redis() -> Redis | None:
    """The app's Redis client, or None in the embedded default."""
    return current_app.extensions.get("flowlet_redis")


def get_queue(name: str = "default") -> Queue:
    redis = get_redis()
    if redis is None:
        raise RuntimeError("no REDIS_URL configured; jobs run inline")
    return Queue(name, connection=redis)


def func_path(func: Callable[..., Any]) -> str:
    return f"{func.__module__}.{func.__qualname__}"


def _json_values(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    try:
        return json.loads(json.dumps(list(args))), json.loads(json.dumps(kwargs))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"job arguments must be JSON values (ids, not objects): {exc}") from exc


def enqueue(
    session: Session,
    func: Callable[..., Any],
    *args: Any,
    queue: str = "default",
    retry: Retry | int | None = None,
    job_id: str | None = None,
    owner_id: int | None = None,
    **kwargs: Any,
) -> str:
    """Write `func(*args, **kwargs)` to the outbox in `session`'s transaction; returns the id.

    `retry` is an `rq.Retry` or a number of retries (default: 3, after 10 s, 1 min, 5 min).
    """
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; use one of {QUEUES}")
    path = func_path(func)
    if "<locals>" in path or not getattr(func, "flowlet_task", False):
        raise ValueError("jobs must be module-level functions decorated with @task")
    json_args, json_kwargs = _json_values(args, kwargs)
    if retry is None:
        retry = DEFAULT_RETRY
    retry_max = retry if isinstance(retry, int) else retry.max
    intervals = [] if isinstance(retry, int) else list(retry.intervals)
    now = utcnow()
    job_id = job_id or str(uuid.uuid4())
    row: dict[str, Any] = {
        "id": job_id,
        "func": path,
        "args": json_args,
        "kwargs": json_kwargs,
        "queue": queue,
        "retry_max": retry_max,
        "retry_intervals": intervals,
        "owner_id": owner_id,
        "status": PENDING,
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now + FAST_PATH_GRACE,
    }
    uow.of(session).stage(_write_jobs, row)
    return job_id


def this_app() -> Flask:
    """The app behind `current_app` (to hand to code that runs outside its context)."""
    # Flask types `current_app` as the app itself; it is the proxy, whose method gives the app.
    return cast("LocalProxy[Flask]", current_app)._get_current_object()


def _write_jobs(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert staged outbox rows; once they commit, hand them to RQ (or run them inline)."""
    session.execute(sa.insert(JobOutbox), rows)
    app = this_app()
    handover = [{k: row[k] for k in _HANDED_OVER} for row in rows]
    uow.of(session).after_commit(functools.partial(_after_commit, app, handover))


@uow.composes(_write_jobs)
def _compose_jobs(session: Session, rows: list[dict[str, Any]]) -> list[uow.Part]:
    """The outbox rows as one insert among the unit's other writes (PostgreSQL)."""
    app = this_app()
    handover = [{k: row[k] for k in _HANDED_OVER} for row in rows]
    uow.of(session).after_commit(functools.partial(_after_commit, app, handover))
    return [uow.insert_rows(table_of(JobOutbox), rows)]


_HANDED_OVER = (
    "id",
    "func",
    "args",
    "kwargs",
    "queue",
    "retry_max",
    "retry_intervals",
    "owner_id",
)


def _after_commit(app: Flask, rows: list[dict[str, Any]]) -> None:
    """Run inline, or push to RQ now; never raise (the transaction is already committed)."""
    if not rows:
        return
    try:
        if app.config["RQ_INLINE"]:
            for data in rows:
                _run_inline(app, data)
        else:
            _push_now(app, rows)
    except Exception:
        log.exception("outbox: after-commit hand-over failed; the relay will retry")


def _push_now(app: Flask, rows: list[dict[str, Any]]) -> None:
    if time.monotonic() < app.extensions.get("flowlet_outbox_paused_until", 0.0):
        return  # Redis failed a moment ago: leave the rows to the relay
    redis = app.extensions["flowlet_redis"]

    sent: list[str] = []
    try:
        for data in rows:
            push(redis, data)
            sent.append(data["id"])
    except Exception as exc:
        app.extensions["flowlet_outbox_paused_until"] = time.monotonic() + _FAST_PATH_PAUSE_SECONDS
        log.warning(
            "outbox: Redis refused %d job(s) (%s); the relay will push them",
            len(rows) - len(sent),
            type(exc).__name__,
        )
    if sent:
        with app.app_context(), db.engine.begin() as connection:
            mark(connection, sent, SENT)


def _run_inline(app: Flask, data: dict[str, Any]) -> None:
    with app.app_context():
        try:
            resolve(data["func"])(*data["args"], **data["kwargs"])
            status, error = DONE, None
        except Exception as exc:
            log.exception("inline job %s failed", data["func"])
            status, error = FAILED, f"{type(exc).__name__}: {exc}"
        try:
            with db.engine.begin() as connection:
                mark(connection, [data["id"]], status, error=error)
        except Exception:
            log.exception("outbox: could not mark inline job %s", data["id"])


# --- running jobs ---------------------------------------------------------------------------------

_worker_app: Flask | None = None
_engine_pid: int | None = None


def set_worker_app(app: Flask) -> None:
    """The app jobs run in when a worker process has no app context (set by `flask worker`)."""
    global _worker_app, _engine_pid
    _worker_app = app
    _engine_pid = os.getpid()


def _app_for_job() -> Flask:
    if has_app_context():
        return this_app()
    if _worker_app is None:
        raise RuntimeError("jobs run in `flask worker` (or inside an app context)")
    return _worker_app


def _fork_safe(app: Flask) -> None:
    """A forked work horse must not share the parent's pooled database connections."""
    global _engine_pid
    pid = os.getpid()
    if _engine_pid is None:
        _engine_pid = pid
    elif _engine_pid != pid:
        _engine_pid = pid
        db.engine.dispose(close=False)


def _claim_outbox_row(job_id: str | None) -> bool:
    """Lock the job's outbox row; False if the job already committed its effect (a rerun).

    Otherwise every commit of the job's session also marks the row done, so the row is done
    in the transaction that commits the job's effect, and only then.
    """
    if job_id is None:
        return True
    status = claim(db.session(), job_id)
    if status in (DONE, FAILED):
        db.session.rollback()
        return False
    if status is not None:
        uow.of(db.session()).stage_each_commit(finish_in, job_id)
    return True


def _finish_outbox_row(job_id: str) -> None:
    """The job returned: a job that committed nothing has its row marked done now."""
    db.session.rollback()  # nothing left uncommitted holds the row's lock
    try:
        with db.engine.begin() as connection:
            finish(connection, job_id)
    except Exception:
        log.warning("outbox: could not mark job %s done", job_id, exc_info=True)


def _reopen_outbox_row(job_id: str) -> None:
    """The job raised: a commit of it may have marked its row done; it is not (RQ retries it,
    or the sweep pushes it again), and the steps it committed must be safe to run again."""
    db.session.rollback()
    try:
        with db.engine.begin() as connection:
            reopen(connection, job_id)
    except Exception:
        log.warning("outbox: could not reopen job %s", job_id, exc_info=True)


def _current_job_id() -> str | None:
    job = get_current_job()
    return job.id if job is not None else None


def task(func: Callable[P, R]) -> Callable[P, R]:
    """Run a job function in its own app context; its database session is removed after.

    Under an RQ worker the job's outbox row (same id) is locked first: a job already done is
    skipped, so a job delivered twice has one effect.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        app = _app_for_job()
        with app.app_context():
            _fork_safe(app)
            job_id = _current_job_id()
            if not _claim_outbox_row(job_id):
                JOBS.labels(func.__name__, "skipped").inc()
                return cast(R, None)  # a rerun of a job that is done: nothing to do
            context.set_job_context(context.ActorContext(actor_role="system"))
            try:
                result = func(*args, **kwargs)
            except Exception:
                JOBS.labels(func.__name__, "failed").inc()
                if job_id is not None:
                    _reopen_outbox_row(job_id)
                raise
            finally:
                context.set_job_context(None)
                uow.of(db.session()).clear_each_commit()
            JOBS.labels(func.__name__, "finished").inc()
            if job_id is not None:
                _finish_outbox_row(job_id)
            return result

    # enqueue() accepts only task functions. A function attribute: typeshed's `_Wrapped`
    # declares none, so it is set in the function's namespace.
    wrapper.__dict__["flowlet_task"] = True
    return wrapper
