"""HTTP routes of background jobs (`/api/v1/jobs`)."""

import marshmallow as ma

from app.auth.permissions import current_user, require
from app.core.api import Blueprint, Schema
from app.core.extensions import db
from app.core.fields import UTCDateTime
from app.jobs import services

blp = Blueprint(
    "jobs", __name__, url_prefix="/api/v1/jobs", description="Background jobs you started."
)


class JobSchema(Schema):
    id = ma.fields.String()
    status = ma.fields.String(
        metadata={"enum": ["queued", "started", "finished", "failed"]},
    )
    result = ma.fields.Raw(allow_none=True)
    error = ma.fields.String(allow_none=True)
    created_at = UTCDateTime(allow_none=True)
    ended_at = UTCDateTime(allow_none=True)


@blp.route("/<string(maxlength=64):job_id>", methods=["GET"])
@require("profile")
@blp.response(200, JobSchema)
def get_job(job_id):
    """Status, result and error of one of your jobs."""
    return services.get_job(db.session(), user=current_user(), job_id=job_id)
