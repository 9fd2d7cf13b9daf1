"""Schemas of the customer risk rating, periodic reviews, due diligence and the customer view."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from app.auth.models import User
from app.compliance.reviews import status_of
from app.compliance.risk_models import ReviewStatus
from app.core.api import Schema
from app.core.fields import Amount, NonBlank, UTCDateTime
from app.core.pagination import PageArgsSchema, page_schema


def _public(user: User | None) -> str | None:
    return str(user.public_id) if user is not None else None


def customer_brief(user: User | None, risk: Any) -> dict[str, Any] | None:
    """`{id, name, risk_level}` of a customer (None for no customer)."""
    if user is None:
        return None
    return {
        "id": str(user.public_id),
        "name": f"{user.first_name} {user.last_name}".strip(),
        "risk_level": getattr(risk, "level", None),
    }


class RiskFactorSchema(Schema):
    factor = ma.fields.String()
    value = ma.fields.Raw(allow_none=True, metadata={"description": "country, level, count…"})
    weight = ma.fields.Integer()


class CustomerRiskSchema(Schema):
    level = ma.fields.String(metadata={"description": "low, medium or high"})
    score = ma.fields.Integer()
    factors = ma.fields.List(ma.fields.Nested(RiskFactorSchema))
    rated_at = UTCDateTime()
    next_review_due = ma.fields.Date()


class ReviewSchema(Schema):
    id = ma.fields.UUID(attribute="public_id")
    customer = ma.fields.Function(lambda r: customer_brief(r.user, r.user_risk))
    level = ma.fields.String(metadata={"description": "The level when the review fell due."})
    due_on = ma.fields.Date()
    status = ma.fields.Function(lambda r: status_of(r), metadata={"type": "string"})
    notes = ma.fields.String(allow_none=True)
    completed_by = ma.fields.Function(lambda r: _public(r.completed_by), allow_none=True)
    completed_at = UTCDateTime(allow_none=True)
    created_at = UTCDateTime()


class ReviewArgsSchema(PageArgsSchema):
    status = ma.fields.String(
        validate=ma.validate.OneOf([s.value for s in ReviewStatus]),
        metadata={"description": "due, overdue or completed; bare: the open ones."},
    )


class ReviewCompleteSchema(Schema):
    notes = NonBlank(required=True, validate=ma.validate.Length(min=1, max=5000))


ReviewPageSchema = page_schema(ReviewSchema, "RiskReviewPage")


class EddSchema(Schema):
    id = ma.fields.UUID(attribute="public_id")
    customer_id = ma.fields.Function(lambda e: _public(e.user))
    status = ma.fields.String(metadata={"description": "proposed, approved or rejected"})
    reason = ma.fields.String()
    proposed_by = ma.fields.Function(lambda e: _public(e.proposed_by))
    proposed_at = UTCDateTime(attribute="created_at")
    decided_by = ma.fields.Function(lambda e: _public(e.decided_by), allow_none=True)
    decision_reason = ma.fields.String(allow_none=True)
    decided_at = UTCDateTime(allow_none=True)


class EddProposeSchema(Schema):
    reason = NonBlank(required=True, validate=ma.validate.Length(min=1, max=2000))


class EddDecisionSchema(Schema):
    decision = ma.fields.String(required=True, validate=ma.validate.OneOf(["approve", "reject"]))
    reason = NonBlank(required=True, validate=ma.validate.Length(min=1, max=2000))


class CustomerAccountSchema(Schema):
    id = ma.fields.UUID(attribute="public_id")
    account_number = ma.fields.String()
    account_type = ma.fields.String()
    currency = ma.fields.String()
    balance = Amount()
    status = ma.fields.String()


class CustomerKycSchema(Schema):
    id = ma.fields.UUID(attribute="public_id")
    status = ma.fields.String()
    requested_level = ma.fields.String()
    nationality = ma.fields.String()
    residence = ma.fields.Function(lambda c: (c.address or {}).get("country"))
    politically_exposed = ma.fields.Boolean()
    created_at = UTCDateTime()
    decided_at = UTCDateTime(allow_none=True)


class CustomerAlertSchema(Schema):
    id = ma.fields.UUID(attribute="public_id")
    type = ma.fields.String(attribute="alert_type")
    severity = ma.fields.String()
    status = ma.fields.String()
    resolution = ma.fields.String(allow_none=True)
    explanation = ma.fields.String(allow_none=True)
    created_at = UTCDateTime()


class CustomerRiskDetailSchema(CustomerRiskSchema):
    edd_status = ma.fields.String(
        metadata={"description": "not_required, required, proposed, approved or rejected"}
    )


class CustomerOverviewSchema(Schema):
    id = ma.fields.UUID()
    name = ma.fields.String()
    email = ma.fields.String()
    kyc_status = ma.fields.String()
    kyc_level = ma.fields.String()
    kyc_case = ma.fields.Nested(CustomerKycSchema, allow_none=True)
    accounts = ma.fields.List(ma.fields.Nested(CustomerAccountSchema))
    alerts = ma.fields.List(ma.fields.Nested(CustomerAlertSchema))
    cases = ma.fields.List(ma.fields.Nested(CustomerAlertSchema))
    risk = ma.fields.Nested(CustomerRiskDetailSchema)
    edd = ma.fields.Nested(EddSchema, allow_none=True)
    reviews = ma.fields.List(ma.fields.Nested(ReviewSchema))
