"""Schemas of the privacy endpoints and of the officers' erasure decisions."""

from __future__ import annotations

import marshmallow as ma

from app.core.api import Schema
from app.core.fields import UTCDateTime
from app.core.pagination import PageArgsSchema, page_schema
from app.privacy.models import ErasureStatus


class ErasureRequestCreateSchema(Schema):
    """No fields: the caller asks for themselves."""


class ErasureRequestSchema(Schema):
    id = ma.fields.UUID(attribute="public_id", required=True)
    status = ma.fields.String(required=True)


class ErasureRequestDetailSchema(ErasureRequestSchema):
    user_id = ma.fields.UUID(required=True, metadata={"description": "the person's user id"})
    requested_at = UTCDateTime(required=True)
    decided_at = UTCDateTime(allow_none=True)
    decision_reason = ma.fields.String(allow_none=True)
    hold_reasons = ma.fields.List(ma.fields.String(), allow_none=True)


ErasureRequestPageSchema = page_schema(ErasureRequestDetailSchema, "ErasureRequestPageSchema")


class ErasureListArgsSchema(PageArgsSchema):
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in ErasureStatus]))


class ErasureDecisionSchema(Schema):
    decision = ma.fields.String(required=True, validate=ma.validate.OneOf(["approve", "reject"]))
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=2000))
