"""HTTP routes of the privacy domain (`/api/v1/privacy`)."""

from app.core.api import Blueprint
from app.edge.permissions import current_user, require
from app.extensions import db
from app.privacy import card_sections, compliance_sections, services  # noqa: F401
from app.privacy.schemas import (
    ErasureRequestCreateSchema,
    ErasureRequestSchema,
    PersonalDataExportSchema,
)

blp = Blueprint(
    "privacy",
    __name__,
    url_prefix="/api/v1/privacy",
    description="Personal data export and erasure requests.",
)


@blp.route("/export", methods=["GET"])
@require("privacy")
@blp.response(200, PersonalDataExportSchema)
def export_personal_data():
    """Every personal datum held about you, as JSON (GDPR articles 15 and 20)."""
    return services.export_personal_data(db.session, user=current_user())


@blp.route("/erasure-request", methods=["POST"])
@require("privacy")
@blp.arguments(ErasureRequestCreateSchema, required=False)
@blp.response(202, ErasureRequestSchema)
def request_erasure(_data=None):
    """Ask to be erased; a compliance officer decides (202 while the request waits)."""
    return services.request_erasure(db.session, user=current_user())
