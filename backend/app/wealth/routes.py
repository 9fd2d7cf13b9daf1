"""HTTP routes of the wealth domain (`/api/v1`)."""

from app.auth.permissions import current_user, require
from app.core import replica
from app.core.api import Blueprint
from app.core.db import utcnow
from app.core.extensions import db
from app.wealth import brokers, rates, services, summary
from app.wealth.schemas import (
    BrokerListSchema,
    HistoryArgsSchema,
    HistorySchema,
    JobAcceptedSchema,
    LinkCreatedSchema,
    LinkCreateSchema,
    LinkedAccountListSchema,
    LinkedAccountSchema,
    RateArgsSchema,
    RateSchema,
    SummaryArgsSchema,
    SummarySchema,
    TwoFactorSchema,
)

blp = Blueprint(
    "wealth",
    __name__,
    url_prefix="/api/v1",
    description="Linked broker accounts, wealth summary and exchange rates.",
)


@blp.route("/brokers", methods=["GET"])
@require("wealth")
@blp.response(200, BrokerListSchema)
def list_brokers():
    """The broker catalogue and the credentials each broker needs."""
    return {"items": brokers.list_brokers(db.session())}


@blp.route("/linked-accounts", methods=["POST"])
@require("wealth")
@blp.arguments(LinkCreateSchema)
@blp.response(202, LinkCreatedSchema)
def link_account(data):
    """Link an outside account; the first sync runs as a job."""
    link, job_id = services.link_account(db.session(), user=current_user(), **data)
    return {"linked_account": link, "job_id": job_id}


@blp.route("/linked-accounts", methods=["GET"])
@require("wealth")
@blp.response(200, LinkedAccountListSchema)
def list_linked_accounts():
    """Your linked accounts with their last sync status."""
    return {"items": services.list_linked_accounts(db.session(), user=current_user())}


@blp.route("/linked-accounts/<uuid:linked_account_id>", methods=["GET"])
@require("wealth")
@blp.response(200, LinkedAccountSchema)
def get_linked_account(linked_account_id):
    """One of your linked accounts."""
    return services.get_linked_account(
        db.session(), user=current_user(), linked_account_id=linked_account_id
    )


@blp.route("/linked-accounts/<uuid:linked_account_id>/sync", methods=["POST"])
@require("wealth")
@blp.response(202, JobAcceptedSchema)
def sync_linked_account(linked_account_id):
    """Sync a linked account now (as a job)."""
    job_id = services.request_sync(
        db.session(), user=current_user(), linked_account_id=linked_account_id
    )
    return {"job_id": job_id}


@blp.route("/linked-accounts/<uuid:linked_account_id>/2fa", methods=["POST"])
@require("wealth")
@blp.arguments(TwoFactorSchema)
@blp.response(202, JobAcceptedSchema)
def answer_2fa(data, linked_account_id):
    """Answer the broker's 2FA challenge (a code, or none after approving in its app)."""
    job_id = services.answer_challenge(
        db.session(), user=current_user(), linked_account_id=linked_account_id, code=data["code"]
    )
    return {"job_id": job_id}


@blp.route("/linked-accounts/<uuid:linked_account_id>", methods=["DELETE"])
@require("wealth")
@blp.response(204)
def unlink(linked_account_id):
    """Unlink an outside account; its credentials are destroyed."""
    services.unlink(db.session(), user=current_user(), linked_account_id=linked_account_id)


@blp.route("/wealth/summary", methods=["GET"])
@require("wealth")
@blp.arguments(SummaryArgsSchema, location="query")
@blp.response(200, SummarySchema)
def wealth_summary(args):
    """Net worth: Flowlet accounts and linked accounts, by account and by asset class."""
    return summary.summary(db.session(), user=current_user(), **args)


@blp.route("/wealth/history", methods=["GET"])
@require("wealth")
@blp.arguments(HistoryArgsSchema, location="query")
@blp.response(200, HistorySchema)
def wealth_history(args):
    """Net worth one point a day."""
    return summary.history(replica.tolerating_lag(db.session()), user=current_user(), **args)


@blp.route("/exchange-rates", methods=["GET"])
@require("wealth")
@blp.arguments(RateArgsSchema, location="query")
@blp.response(200, RateSchema)
def exchange_rate(args):
    """The rate used for a pair on a day, its own date and its source."""
    return rates.rate_for(
        db.session(),
        base=args["from_currency"],
        quote=args["to_currency"],
        day=args["day"] or utcnow().date(),
    )
