"""Schemas of the AML rule settings: the rules, proposals and their decisions, backtests."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from app.auth.models import User
from app.compliance.aml.params import RULE_NAMES
from app.compliance.models import RuleChangeStatus
from app.core.api import Schema
from app.core.fields import NonBlank, UTCDateTime
from app.core.pagination import PageArgsSchema, page_schema

_PARAMS = {
    "description": 'Parameters by name: money as decimal strings (`"10000,JPY=1500000"`), '
    "ratios as numbers in (0, 1], windows and counts as integers, countries as ISO codes."
}


# ISO 8601 date and time (the time zone UTC unless given), e.g. 2026-11-01T00:00:00Z.
_TIME = (
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
    r"T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)?$"
)


def _officer(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": str(user.public_id), "email": user.email}


class OfficerSchema(Schema):
    id = ma.fields.String()
    email = ma.fields.String()


class ParamSpecSchema(Schema):
    name = ma.fields.String()
    kind = ma.fields.String(metadata={"enum": ["money", "int", "ratio", "countries"]})
    min = ma.fields.Float()
    max = ma.fields.Float()
    description = ma.fields.String()


class RuleSchema(Schema):
    """A rule with its current parameters and version (1 is the environment's)."""

    rule = ma.fields.String()
    kind = ma.fields.String(metadata={"enum": ["aml"]})
    version = ma.fields.Integer()
    params = ma.fields.Dict(metadata=_PARAMS)
    param_specs = ma.fields.List(ma.fields.Nested(ParamSpecSchema))
    approved_at = UTCDateTime(allow_none=True)
    approved_by = ma.fields.Function(lambda r: _officer(r["approved_by"]), allow_none=True)
    proposed_by = ma.fields.Function(lambda r: _officer(r["proposed_by"]), allow_none=True)
    reason = ma.fields.String(allow_none=True)


class RuleListSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(RuleSchema))


class ProposalCreateSchema(Schema):
    params = ma.fields.Dict(
        keys=ma.fields.String(), required=True, metadata={**_PARAMS, "example": {"days": 5}}
    )
    reason = NonBlank(required=True, validate=ma.validate.Length(min=1, max=2000))


class ProposalSchema(Schema):
    """A proposed change: pending, or approved (then a version of the rule) or rejected."""

    id = ma.fields.UUID(attribute="public_id")
    rule = ma.fields.String()
    status = ma.fields.String(metadata={"enum": [s.value for s in RuleChangeStatus]})
    version = ma.fields.Integer(allow_none=True)
    base_version = ma.fields.Integer(allow_none=True)
    params = ma.fields.Dict(metadata=_PARAMS)
    reason = ma.fields.String()
    proposed_by = ma.fields.Function(lambda p: _officer(p.proposed_by), allow_none=True)
    proposed_at = UTCDateTime(attribute="created_at")
    decided_by = ma.fields.Function(lambda p: _officer(p.decided_by), allow_none=True)
    decided_at = UTCDateTime(allow_none=True)
    decision_reason = ma.fields.String(allow_none=True)


class ProposalArgsSchema(PageArgsSchema):
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in RuleChangeStatus]))
    rule = ma.fields.String(validate=ma.validate.OneOf(RULE_NAMES))


ProposalPageSchema = page_schema(ProposalSchema, "RuleProposalPage")


class ProposalDecisionSchema(Schema):
    decision = ma.fields.String(required=True, validate=ma.validate.OneOf(["approve", "reject"]))
    reason = NonBlank(required=True, validate=ma.validate.Length(min=1, max=2000))


class BacktestCreateSchema(Schema):
    params = ma.fields.Dict(
        keys=ma.fields.String(),
        load_default=dict,
        metadata={**_PARAMS, "description": "Proposed parameters; none: the current ones."},
    )
    start = UTCDateTime(required=True, data_key="from", metadata={"pattern": _TIME})
    end = UTCDateTime(required=True, data_key="to", metadata={"pattern": _TIME})


class BacktestSchema(Schema):
    id = ma.fields.String()
    rule = ma.fields.String()
    params = ma.fields.Dict(metadata=_PARAMS)
    start = UTCDateTime(attribute="period_start", data_key="from")
    end = UTCDateTime(attribute="period_end", data_key="to")
    requested_at = UTCDateTime(attribute="created_at")
    finished_at = UTCDateTime(allow_none=True)
    result = ma.fields.Dict(
        allow_none=True,
        metadata={
            "description": "{alerts_proposed, alerts_actual, alerts_added, alerts_removed, "
            "added, removed, counts, …}"
        },
    )


class JobQueuedSchema(Schema):
    job_id = ma.fields.String()
