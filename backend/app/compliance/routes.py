"""HTTP routes of the compliance domain (`/api/v1/compliance`)."""

from app.core.api import Blueprint
from app.edge.idempotency import idempotent
from app.edge.permissions import current_user, require
from app.extensions import db
from app.ledger import engine
from app.transactions.schemas import ReviewDecisionSchema, TransactionSchema

blp = Blueprint(
    "compliance",
    __name__,
    url_prefix="/api/v1/compliance",
    description="KYC, AML alerts, reviews, audit trail and regulatory reports.",
)


@blp.route("/transactions/<uuid:transaction_id>/approve", methods=["POST"])
@require("compliance:review")
@idempotent(required=False)
@blp.arguments(ReviewDecisionSchema)
@blp.response(200, TransactionSchema)
def approve_transaction(data, transaction_id):
    """Approve a transaction held for review; the funds move."""
    return engine.decide_review(
        db.session, transaction_id, approve=True, officer_id=current_user().id, **data
    )


@blp.route("/transactions/<uuid:transaction_id>/reject", methods=["POST"])
@require("compliance:review")
@idempotent(required=False)
@blp.arguments(ReviewDecisionSchema)
@blp.response(200, TransactionSchema)
def reject_transaction(data, transaction_id):
    """Reject a transaction held for review; the held funds are released."""
    return engine.decide_review(
        db.session, transaction_id, approve=False, officer_id=current_user().id, **data
    )
