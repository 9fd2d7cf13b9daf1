"""Background jobs on RQ, enqueued only after the unit of work commits.

With `REDIS_URL` unset (the embedded default) jobs run inline, in their own application
context and database session, right after the commit that asked for them.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable
from typing import Any

from flask import current_app, has_app_context
from redis import Redis
from rq import Queue, Retry
from sqlalchemy.orm import Session

from app.core.db import after_commit

log = logging.getLogger("flowlet.queue")

QUEUES = ("high", "default", "low")


def get_redis() -> Redis | None:
    """The app's Redis client, or None in the embedded default."""
    return current_app.extensions.get("flowlet_redis")


def get_queue(name: str = "default") -> Queue:
    redis = get_redis()
    if redis is None:
        raise RuntimeError("no REDIS_URL configured; jobs run inline")
    return Queue(name, connection=redis)


def _run_inline(app, func: Callable[..., Any], args: tuple, kwargs: dict) -> None:
    with app.app_context():
        try:
            func(*args, **kwargs)
        except Exception:
            log.exception("inline job %s failed", getattr(func, "__name__", func))


def enqueue(
    session: Session,
    func: Callable[..., Any],
    *args: Any,
    queue: str = "default",
    retry: Retry | None = None,
    job_id: str | None = None,
    owner_id: int | None = None,
    **kwargs: Any,
) -> str:
    """Enqueue `func(*args, **kwargs)` once the session commits; returns the job id.

    `owner_id` (a users.id) is who may see the job at `/api/v1/jobs/{id}`.
    """
    job_id = job_id or str(uuid.uuid4())
    app = current_app._get_current_object()

    def _send() -> None:
        if app.config["RQ_INLINE"]:
            _run_inline(app, func, args, kwargs)
            return
        with app.app_context():
            get_queue(queue).enqueue(
                func,
                *args,
                job_id=job_id,
                retry=retry,
                meta={"owner_id": owner_id} if owner_id is not None else None,
                **kwargs,
            )

    after_commit(session, _send)
    return job_id


_worker_app = None


def _app_for_job():
    global _worker_app
    if has_app_context():
        return current_app._get_current_object()
    if _worker_app is None:
        from app import create_app

        _worker_app = create_app()
    return _worker_app


def task(func: Callable[..., Any]) -> Callable[..., Any]:
    """Run a job function in its own app context; its database session is removed after."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from app.core import context
        from app.core.health import JOBS

        app = _app_for_job()
        with app.app_context():
            context.set_job_context(context.ActorContext(actor_role="system"))
            try:
                result = func(*args, **kwargs)
            except Exception:
                JOBS.labels(func.__name__, "failed").inc()
                raise
            finally:
                context.set_job_context(None)
            JOBS.labels(func.__name__, "finished").inc()
            return result

    return wrapper
