"""HTTP routes of the compliance domain (`/api/v1/compliance`)."""

from app.core.api import Blueprint
from app.edge.idempotency import idempotent
from app.edge.permissions import current_user, require
from app.extensions import db
from app.transactions import services as transactions
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
    return transactions.approve_review(
        db.session, officer=current_user(), transaction_id=transaction_id, **data
    )


@blp.route("/transactions/<uuid:transaction_id>/reject", methods=["POST"])
@require("compliance:review")
@idempotent(required=False)
@blp.arguments(ReviewDecisionSchema)
@blp.response(200, TransactionSchema)
def reject_transaction(data, transaction_id):
    """Reject a transaction held for review; the held funds are released."""
    return transactions.reject_review(
        db.session, officer=current_user(), transaction_id=transaction_id, **data
    )
