"""HTTP routes of the compliance domain (`/api/v1/compliance`)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response

from app.auth.permissions import current_user, require
from app.compliance import (
    backtests,
    cases,
    customers,
    edd,
    kyc,
    lists,
    rating,
    reports,
    reviews,
    rule_changes,
    sanctions,
    sar,
)
from app.compliance.models import (
    AmlRuleBacktest,
    AmlRuleVersion,
    ComplianceAlert,
    KycCase,
    SanctionsList,
    SanctionsListChange,
)
from app.compliance.risk_models import EddReview, RiskReview
from app.compliance.risk_schemas import (
    CustomerOverviewSchema,
    CustomerRiskSchema,
    EddDecisionSchema,
    EddProposeSchema,
    EddSchema,
    ReviewArgsSchema,
    ReviewCompleteSchema,
    ReviewPageSchema,
    ReviewSchema,
)
from app.compliance.rule_schemas import (
    BacktestCreateSchema,
    BacktestSchema,
    JobQueuedSchema,
    ProposalArgsSchema,
    ProposalCreateSchema,
    ProposalDecisionSchema,
    ProposalPageSchema,
    ProposalSchema,
    RuleListSchema,
)
from app.compliance.schemas import (
    AlertArgsSchema,
    AlertAssignSchema,
    AlertDetailSchema,
    AlertPageSchema,
    AlertResolveSchema,
    CtrArgsSchema,
    CtrReportSchema,
    KycCasePageSchema,
    KycCaseSchema,
    KycDecisionSchema,
    KycReviewArgsSchema,
    KycStatusSchema,
    KycSubmitSchema,
    ListChangeArgsSchema,
    ListDiffSchema,
    ListVersionArgsSchema,
    ListVersionPageSchema,
    SarDraftSchema,
    ScreeningRequestSchema,
    ScreeningResultSchema,
)
from app.core import replica
from app.core.api import Blueprint
from app.core.extensions import db
from app.core.pagination import Page, paginate_by_id
from app.edge.idempotency import idempotent
from app.ledger import engine
from app.ledger.models import JournalTransaction
from app.ledger.schemas import ReviewDecisionSchema, TransactionSchema

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
def approve_transaction(data: dict[str, Any], transaction_id: uuid.UUID) -> JournalTransaction:
    """Approve a transaction held for review; the funds move."""
    return engine.decide_review(
        db.session(), transaction_id, approve=True, officer_id=current_user().id, **data
    )


@blp.route("/transactions/<uuid:transaction_id>/reject", methods=["POST"])
@require("compliance:review")
@idempotent(required=False)
@blp.arguments(ReviewDecisionSchema)
@blp.response(200, TransactionSchema)
def reject_transaction(data: dict[str, Any], transaction_id: uuid.UUID) -> JournalTransaction:
    """Reject a transaction held for review; the held funds are released."""
    return engine.decide_review(
        db.session(), transaction_id, approve=False, officer_id=current_user().id, **data
    )


# --- KYC --------------------------------------------------------------------------------------


@blp.route("/kyc", methods=["POST"])
@require("kyc:submit")
@idempotent(required=False)
@blp.arguments(KycSubmitSchema)
@blp.response(201, KycStatusSchema)
def submit_kyc(data: dict[str, Any]) -> kyc.KycView:
    """Submit identity data; automatic checks decide approved, rejected or manual_review."""
    return kyc.submit(db.session(), user=current_user(), **data)


@blp.route("/kyc", methods=["GET"])
@require("kyc:submit")
@blp.response(200, KycStatusSchema)
def kyc_status() -> kyc.KycView:
    """The caller's KYC status, level and the reasons of the latest decision."""
    return kyc.status_of(db.session(), user=current_user())


@blp.route("/kyc/reviews", methods=["GET"])
@require("compliance:review")
@blp.arguments(KycReviewArgsSchema, location="query")
@blp.response(200, KycCasePageSchema)
def kyc_reviews(args: dict[str, Any]) -> Page:
    """KYC cases waiting for an officer's decision (or of another status)."""
    return kyc.list_reviews(db.session(), **args)


@blp.route("/kyc/<uuid:case_id>/decision", methods=["POST"])
@require("compliance:review")
@idempotent(required=False)
@blp.arguments(KycDecisionSchema)
@blp.response(200, KycCaseSchema)
def decide_kyc(data: dict[str, Any], case_id: uuid.UUID) -> KycCase:
    """Approve or reject a KYC case in manual review (not your own, not one you submitted)."""
    return kyc.decide(db.session(), officer=current_user(), case_id=case_id, **data)


# --- screening ----------------------------------------------------------------------------------


@blp.route("/screenings", methods=["POST"])
@require("compliance:review")
@idempotent(required=False)
@blp.arguments(ScreeningRequestSchema)
@blp.response(200, ScreeningResultSchema)
def screen_name(data: dict[str, Any]) -> dict[str, Any]:
    """Screen a name (and optionally date of birth and country) against the sanctions list."""
    return sanctions.officer_screening(db.session(), **data)


@blp.route("/sanctions/lists", methods=["GET"])
@require("compliance:review")
@blp.arguments(ListVersionArgsSchema, location="query")
@blp.response(200, ListVersionPageSchema)
def list_versions(args: dict[str, Any]) -> Page:
    """Loaded versions of the sanctions lists, newest first (optionally of one source)."""
    session = db.session()
    return paginate_by_id(
        session,
        lists.versions(session, kind=args.get("kind")),
        column=SanctionsList.id,
        limit=args["limit"],
        cursor=args["cursor"],
    )


@blp.route("/sanctions/lists/<int:list_id>/diff", methods=["GET"])
@require("compliance:review")
@blp.arguments(ListChangeArgsSchema, location="query")
@blp.response(200, ListDiffSchema)
def list_diff(args: dict[str, Any], list_id: int) -> dict[str, Any]:
    """Entries a version added, removed and changed against the version before it."""
    session = db.session()
    page = paginate_by_id(
        session,
        lists.changes(session, list_id, change=args.get("change")),
        column=SanctionsListChange.id,
        limit=args["limit"],
        cursor=args["cursor"],
        descending=False,
    )
    version = lists.get_version(session, list_id)
    return {"version": version, "items": page.items, "next_cursor": page.next_cursor}


# --- alerts -------------------------------------------------------------------------------------


@blp.route("/alerts", methods=["GET"])
@require("compliance:review")
@blp.arguments(AlertArgsSchema, location="query")
@blp.response(200, AlertPageSchema)
def list_alerts(args: dict[str, Any]) -> Page:
    """AML and sanctions alerts, newest first, filtered by status, severity, type, assignee."""
    alert_type = args.pop("type", None)
    return cases.list_alerts(db.session(), alert_type=alert_type, **args)


@blp.route("/alerts/<uuid:alert_id>", methods=["GET"])
@require("compliance:review")
@blp.response(200, AlertDetailSchema)
def get_alert(alert_id: uuid.UUID) -> ComplianceAlert:
    """One alert with the transactions behind it and its notes."""
    return cases.get_alert(db.session(), alert_id=alert_id)


@blp.route("/alerts/<uuid:alert_id>/assign", methods=["POST"])
@require("compliance:review")
@idempotent(required=False)
@blp.arguments(AlertAssignSchema)
@blp.response(200, AlertDetailSchema)
def assign_alert(data: dict[str, Any], alert_id: uuid.UUID) -> ComplianceAlert:
    """Assign an open alert to an officer (the caller by default)."""
    return cases.assign_alert(db.session(), officer=current_user(), alert_id=alert_id, **data)


@blp.route("/alerts/<uuid:alert_id>/resolve", methods=["POST"])
@require("compliance:review")
@idempotent(required=False)
@blp.arguments(AlertResolveSchema)
@blp.response(200, AlertDetailSchema)
def resolve_alert(data: dict[str, Any], alert_id: uuid.UUID) -> ComplianceAlert:
    """Resolve an alert as dismissed, escalated or sar_filed, with notes."""
    return cases.resolve_alert(db.session(), officer=current_user(), alert_id=alert_id, **data)


# --- customers: risk rating, due diligence, periodic reviews -----------------------------------


@blp.route("/customers/<uuid:user_id>", methods=["GET"])
@require("compliance:review")
@blp.response(200, CustomerOverviewSchema)
def customer_overview(user_id: uuid.UUID) -> dict[str, Any]:
    """A customer's KYC, accounts, alerts, cases, risk rating, due diligence and reviews."""
    return customers.overview(db.session(), customer_id=user_id)


@blp.route("/customers/<uuid:user_id>/risk", methods=["GET"])
@require("compliance:review")
@blp.response(200, CustomerRiskSchema)
def customer_risk(user_id: uuid.UUID) -> rating.RiskView:
    """The customer's risk level, score and factors, and when the next review falls due."""
    session = db.session()
    return rating.current(session, user=rating.find_customer(session, user_id))


@blp.route("/customers/<uuid:user_id>/edd", methods=["POST"])
@require("compliance:review")
@idempotent(required=False)
@blp.arguments(EddProposeSchema)
@blp.response(201, EddSchema)
def propose_edd(data: dict[str, Any], user_id: uuid.UUID) -> EddReview:
    """Propose the enhanced due diligence sign-off of a high-risk customer."""
    return edd.propose(db.session(), officer=current_user(), customer_id=user_id, **data)


@blp.route("/customers/<uuid:user_id>/edd/decision", methods=["POST"])
@require("compliance:review")
@idempotent(required=False)
@blp.arguments(EddDecisionSchema)
@blp.response(200, EddSchema)
def decide_edd(data: dict[str, Any], user_id: uuid.UUID) -> EddReview:
    """Approve or reject a proposed sign-off (never the officer who proposed it)."""
    return edd.decide(db.session(), officer=current_user(), customer_id=user_id, **data)


@blp.route("/reviews", methods=["GET"])
@require("compliance:review")
@blp.arguments(ReviewArgsSchema, location="query")
@blp.response(200, ReviewPageSchema)
def list_reviews(args: dict[str, Any]) -> Page:
    """Periodic KYC reviews: due, overdue or completed (bare: the open ones)."""
    return reviews.list_reviews(db.session(), **args)


@blp.route("/reviews/<uuid:review_id>/complete", methods=["POST"])
@require("compliance:review")
@idempotent(required=False)
@blp.arguments(ReviewCompleteSchema)
@blp.response(200, ReviewSchema)
def complete_review(data: dict[str, Any], review_id: uuid.UUID) -> RiskReview:
    """Complete a periodic review with notes; the customer is re-rated."""
    return reviews.complete(db.session(), officer=current_user(), review_id=review_id, **data)


# --- AML rule settings ------------------------------------------------------------------------

_RULE = "<rule>"


@blp.route("/rules", methods=["GET"])
@require("compliance:review")
@blp.response(200, RuleListSchema)
def list_rules() -> dict[str, Any]:
    """The AML rules with their current parameters and version."""
    return {"items": rule_changes.list_rules(db.session())}


@blp.route(f"/rules/{_RULE}/proposals", methods=["POST"])
@require("compliance:review")
@idempotent(required=False)
@blp.arguments(ProposalCreateSchema)
@blp.response(201, ProposalSchema)
def propose_rule_change(data: dict[str, Any], rule: str) -> AmlRuleVersion:
    """Propose new parameters for a rule; another officer approves or rejects them."""
    return rule_changes.propose(db.session(), officer=current_user(), rule=rule, **data)


@blp.route("/rules/proposals", methods=["GET"])
@require("compliance:review")
@blp.arguments(ProposalArgsSchema, location="query")
@blp.response(200, ProposalPageSchema)
def list_rule_proposals(args: dict[str, Any]) -> Page:
    """Rule change proposals newest first, by status or rule."""
    return rule_changes.list_proposals(db.session(), **args)


@blp.route("/rules/proposals/<uuid:proposal_id>/decision", methods=["POST"])
@require("compliance:review")
@idempotent(required=False)
@blp.arguments(ProposalDecisionSchema)
@blp.response(200, ProposalSchema)
def decide_rule_change(data: dict[str, Any], proposal_id: uuid.UUID) -> AmlRuleVersion:
    """Approve (the rule's next version applies at once) or reject a proposal of another
    officer."""
    return rule_changes.decide(
        db.session(), officer=current_user(), proposal_id=proposal_id, **data
    )


@blp.route(f"/rules/{_RULE}/backtest", methods=["POST"])
@require("compliance:review")
@idempotent(required=False)
@blp.arguments(BacktestCreateSchema)
@blp.response(202, JobQueuedSchema)
def backtest_rule(data: dict[str, Any], rule: str) -> dict[str, str]:
    """Backtest parameters of a rule over a period as a job (`GET /api/v1/jobs/{id}`)."""
    return rule_changes.start_backtest(db.session(), officer=current_user(), rule=rule, **data)


@blp.route("/rules/backtests/<backtest_id>", methods=["GET"])
@require("compliance:review")
@blp.response(200, BacktestSchema)
def get_rule_backtest(backtest_id: str) -> AmlRuleBacktest:
    """A backtest with its report once its job has run (`result` is null until then)."""
    return backtests.get_backtest(db.session(), backtest_id=backtest_id)


# --- regulatory reports ------------------------------------------------------------------------

# The reports are listed in the OpenAPI document under the audit trail's tag, as they always were.
REPORTS_TAG = ["compliance_audit"]


@blp.route("/reports/ctr", methods=["GET"], tags=REPORTS_TAG)
@require("audit:read")
@blp.arguments(CtrArgsSchema, location="query")
@blp.response(200, CtrReportSchema)
@blp.alt_response(200, content_type="text/csv", success=True, description="format=csv")
def currency_transaction_report(args: dict[str, Any]) -> dict[str, Any] | Response:
    """Currency transaction report: customers over the daily cash threshold (audited)."""
    session = db.session()
    report = reports.currency_transaction_report(
        session,
        reader=replica.tolerating_lag(session),
        officer=current_user(),
        start=args["start"],
        end=args["end"],
        fmt=args["format"],
    )
    if args["format"] != "csv":
        return report
    return Response(
        reports.ctr_csv(report),
        mimetype="text/csv",
        headers={
            "Content-Disposition": (
                f'attachment; filename="ctr_{report["from"]}_{report["to"]}.csv"'
            )
        },
    )


@blp.route("/reports/sar/<uuid:alert_id>", methods=["GET"], tags=REPORTS_TAG)
@require("audit:read")
@blp.response(200, SarDraftSchema)
def suspicious_activity_report(alert_id: uuid.UUID) -> dict[str, Any]:
    """A suspicious activity report draft for an alert: who, what, when, amounts, rule, notes."""
    return sar.draft(db.session(), officer=current_user(), alert_id=alert_id)
