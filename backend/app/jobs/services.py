"""A job's status, result and error, for its owner only.

The owner is the `owner_id` of the job's outbox row (`core.outbox.JobOutbox`, whose id is the
RQ job id); the status comes from RQ once the row was handed over, from the row before that
(and for jobs run inline, without Redis).
"""

from __future__ import annotations

import re
from typing import Any

from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.results import Result
from sqlalchemy.orm import Session

from app.auth.models import User
from app.core.errors import NotFound
from app.core.outbox import DONE, FAILED, JobOutbox
from app.core.queue import get_redis

_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_STATUS = {
    JobStatus.QUEUED: "queued",
    JobStatus.DEFERRED: "queued",
    JobStatus.SCHEDULED: "queued",  # waiting for its next retry, or its time
    JobStatus.STARTED: "started",
    JobStatus.FINISHED: "finished",
    JobStatus.FAILED: "failed",
    JobStatus.STOPPED: "failed",
    JobStatus.CANCELED: "failed",
}


class JobNotFound(NotFound):
    message = "The job was not found."


def _last_line(text: str | None) -> str | None:
    if not text:
        return None
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:500] if lines else None


def _rq_job(job_id: str) -> Job | None:
    redis = get_redis()
    if redis is None:
        return None
    try:
        return Job.fetch(job_id, connection=redis)
    except NoSuchJobError:
        return None


def get_job(session: Session, *, user: User, job_id: str) -> dict[str, Any]:
    """The job's status, result (when finished) and error (when its last run failed).

    Only the user recorded as the job's owner when it was queued sees it; anyone else, and
    any id that is not a job, gets 404. The error is the exception's last line, never a
    traceback.
    """
    if not _JOB_ID.fullmatch(job_id):
        raise JobNotFound()
    row = session.get(JobOutbox, job_id)
    job = _rq_job(job_id)
    if row is not None:
        owner = row.owner_id
    elif job is not None:  # the row was purged after its retention; RQ still has the job
        owner = (job.meta or {}).get("owner_id")
    else:
        owner = None
    if owner is None or owner != user.id:
        raise JobNotFound()
    if job is None:  # not handed to RQ yet, run inline, or its RQ record has expired
        if row is None:  # (without either, the owner check above has refused it)
            raise JobNotFound()
        status = {DONE: "finished", FAILED: "failed"}.get(row.status, "queued")
        return {
            "id": row.id,
            "status": status,
            "result": None,
            "error": _last_line(row.last_error) if status == "failed" else None,
            "created_at": row.created_at,
            "ended_at": row.finished_at,
        }
    status = _STATUS.get(job.get_status(refresh=False), "queued")
    latest = job.latest_result()
    error = None
    if latest is not None and latest.type == Result.Type.FAILED and status != "finished":
        error = _last_line(latest.exc_string)
    elif status == "failed":
        error = _last_line(job.exc_info) or "The job failed."
    return {
        "id": job.id,
        "status": status,
        "result": job.return_value() if status == "finished" else None,
        "error": error,
        "created_at": job.created_at,
        "ended_at": job.ended_at,
    }
