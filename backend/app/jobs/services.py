"""A job's status, result and error, for its owner only."""

from __future__ import annotations

import re
from typing import Any

from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.results import Result

from app.auth.models import User
from app.core.errors import NotFound
from app.core.queue import get_redis

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


_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class JobNotFound(NotFound):
    message = "The job was not found."


def _last_line(text: str | None) -> str | None:
    if not text:
        return None
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:500] if lines else None


def get_job(*, user: User, job_id: str) -> dict[str, Any]:
    """The job's status, result (when finished) and error (when its last run failed).

    Only the user recorded as the job's owner when it was queued sees it; anyone else, and
    any id that is not a job, gets 404. The error is the exception's last line, never a
    traceback.
    """
    redis = get_redis()
    if redis is None or not _JOB_ID.fullmatch(job_id):
        raise JobNotFound()
    try:
        job = Job.fetch(job_id, connection=redis)
    except NoSuchJobError as exc:
        raise JobNotFound() from exc
    if (job.meta or {}).get("owner_id") != user.id:
        raise JobNotFound()
    status = _STATUS.get(job.get_status(refresh=False), "queued")
    latest = job.latest_result()
    result = job.return_value() if status == "finished" else None
    error = None
    if latest is not None and latest.type == Result.Type.FAILED and status != "finished":
        error = _last_line(latest.exc_string)
    elif status == "failed":
        error = _last_line(job.exc_info) or "The job failed."
    return {
        "id": job.id,
        "status": status,
        "result": result,
        "error": error,
        "created_at": job.created_at,
        "ended_at": job.ended_at,
    }
