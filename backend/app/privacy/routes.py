"""HTTP routes of the privacy domain: the person's (`/api/v1/privacy`) and the compliance
officer's decisions on erasure requests (`/api/v1/compliance/erasure-requests`)."""

from app.auth.permissions import current_user, require
from app.core.api import Blueprint
from app.core.extensions import db
from app.edge.idempotency import idempotent
from app.privacy import services
from app.privacy.schemas import (
    ErasureDecisionSchema,
    ErasureListArgsSchema,
    ErasureRequestCreateSchema,
    ErasureRequestDetailSchema,
    ErasureRequestPageSchema,
    ErasureRequestSchema,
    PersonalDataExportSchema,
)

blp = Blueprint(
    "privacy",
    __name__,
    url_prefix="/api/v1/privacy",
    description="Personal data export and erasure requests.",
)
officer_blp = Blueprint(
    "privacy_decisions",
    __name__,
    url_prefix="/api/v1/compliance",
    description="Erasure requests as a compliance officer lists and decides them.",
)


@blp.route("/export", methods=["GET"])
@require("privacy")
@blp.response(200, PersonalDataExportSchema)
def export_personal_data():
    """Every personal datum held about you, as JSON (GDPR articles 15 and 20)."""
    return services.export_personal_data(db.session(), user=current_user())


@blp.route("/erasure-request", methods=["POST"])
@require("privacy")
@blp.arguments(ErasureRequestCreateSchema, required=False)
@blp.response(202, ErasureRequestSchema)
def request_erasure(_data=None):
    """Ask to be erased; a compliance officer decides (202 while the request waits)."""
    return services.request_erasure(db.session(), user=current_user())


@officer_blp.route("/erasure-requests", methods=["GET"])
@require("privacy:decide")
@officer_blp.arguments(ErasureListArgsSchema, location="query")
@officer_blp.response(200, ErasureRequestPageSchema)
def list_erasure_requests(args):
    """List erasure requests, newest first, optionally by status."""
    return services.list_requests(db.session(), **args)


@officer_blp.route("/erasure-requests/<uuid:request_id>/decision", methods=["POST"])
@require("privacy:decide")
@idempotent(required=False)
@officer_blp.arguments(ErasureDecisionSchema)
@officer_blp.response(200, ErasureRequestDetailSchema)
def decide_erasure_request(data, request_id):
    """Approve (pseudonymize) or reject an erasure request; 409 `legal_hold` with the reasons."""
    return services.decide(db.session(), officer=current_user(), request_id=request_id, **data)
