"""Schemas of the audit trail (`/api/v1/compliance/audit-logs`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import marshmallow as ma

from app.core.api import ArgsSchema, Schema
from app.core.fields import UTCDateTime
from app.core.pagination import PageArgsSchema, page_schema


class PeriodField(ma.fields.Field[date | datetime]):
    """A date (`YYYY-MM-DD`, whole days) or an ISO 8601 time."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "metadata",
            {"type": "string", "description": "A date (YYYY-MM-DD) or an ISO 8601 time"},
        )
        super().__init__(**kwargs)

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> date | datetime:
        text = str(value)
        try:
            if len(text) == 10:
                return ma.fields.Date()._deserialize(text, attr, data)
            return UTCDateTime()._deserialize(text, attr, data)
        except ma.ValidationError as exc:
            raise ma.ValidationError("A date (YYYY-MM-DD) or an ISO 8601 time.") from exc


class AuditFilterArgsSchema(ArgsSchema):
    actor_id = ma.fields.String(validate=ma.validate.Length(min=1, max=64))
    action = ma.fields.String(validate=ma.validate.Length(min=1, max=64))
    resource_type = ma.fields.String(validate=ma.validate.Length(min=1, max=64))
    resource_id = ma.fields.String(validate=ma.validate.Length(min=1, max=64))
    start = PeriodField(data_key="from")
    end = PeriodField(data_key="to")


class AuditListArgsSchema(PageArgsSchema, AuditFilterArgsSchema):
    """Filters and keyset pagination."""


class AuditExportArgsSchema(AuditFilterArgsSchema):
    format = ma.fields.String(load_default="jsonl", validate=ma.validate.OneOf(["csv", "jsonl"]))


class AuditRecordSchema(Schema):
    id = ma.fields.UUID(required=True)
    sequence = ma.fields.Integer(allow_none=True, metadata={"description": "null until sealed"})
    occurred_at = UTCDateTime(required=True)
    actor_id = ma.fields.String(allow_none=True)
    actor_role = ma.fields.String(allow_none=True)
    action = ma.fields.String(required=True)
    resource_type = ma.fields.String(allow_none=True)
    resource_id = ma.fields.String(allow_none=True)
    ip = ma.fields.String(allow_none=True)
    user_agent = ma.fields.String(allow_none=True)
    request_id = ma.fields.String(allow_none=True)
    changes = ma.fields.Raw(allow_none=True, metadata={"description": "personal data masked"})
    outcome = ma.fields.String(required=True)
    prev_hash = ma.fields.String(allow_none=True)
    hash = ma.fields.String(allow_none=True)


AuditRecordPageSchema = page_schema(AuditRecordSchema, "AuditRecordPageSchema")


class AuditVerifySchema(Schema):
    valid = ma.fields.Boolean(required=True)
    records_checked = ma.fields.Integer(required=True)
    head_hash = ma.fields.String(required=True)
    first_invalid_id = ma.fields.String(allow_none=True)
    first_invalid_sequence = ma.fields.Integer(allow_none=True)
    reason = ma.fields.String(allow_none=True)
    unsealed = ma.fields.Integer(
        required=True, metadata={"description": "committed records not chained yet"}
    )
    unsealed_oldest_seconds = ma.fields.Float(
        allow_none=True, metadata={"description": "age of the oldest unsealed record"}
    )
