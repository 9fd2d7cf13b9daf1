"""Schemas of the webhook administration (`/api/v1/admin/webhooks`)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from app.core.api import Schema
from app.core.fields import Cursor, UTCDateTime
from app.core.pagination import PageArgsSchema, page_schema
from app.events.webhooks import EVENT_TYPES, STATUSES


def _event_types(**options: Any) -> ma.fields.List:
    return ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(EVENT_TYPES)),
        validate=ma.validate.Length(min=1, max=len(EVENT_TYPES)),
        metadata={"description": f"Any of {', '.join(EVENT_TYPES)}"},
        **options,
    )


class WebhookEndpointSchema(Schema):
    id = ma.fields.UUID(attribute="public_id", required=True)
    url = ma.fields.String(required=True)
    event_types = ma.fields.List(ma.fields.String(), required=True)
    description = ma.fields.String(allow_none=True)
    status = ma.fields.String(required=True, metadata={"description": "active or disabled"})
    consecutive_failures = ma.fields.Integer(required=True)
    disabled_at = UTCDateTime(allow_none=True)
    disabled_reason = ma.fields.String(allow_none=True)
    previous_secret_expires_at = UTCDateTime(
        allow_none=True, metadata={"description": "The previous secret also signs until then"}
    )
    created_at = UTCDateTime(required=True)
    updated_at = UTCDateTime(required=True)


class WebhookEndpointCreatedSchema(WebhookEndpointSchema):
    secret = ma.fields.String(
        required=True, metadata={"description": "The signing secret; shown this once"}
    )


WebhookEndpointPageSchema = page_schema(WebhookEndpointSchema, "WebhookEndpointPageSchema")


class WebhookEndpointCreateSchema(Schema):
    url = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=2048))
    event_types = _event_types(required=True)
    description = ma.fields.String(validate=ma.validate.Length(max=500))


class WebhookEndpointUpdateSchema(Schema):
    class Meta(Schema.Meta):
        json_schema = {"minProperties": 1}

    event_types = _event_types()
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES))
    description = ma.fields.String(validate=ma.validate.Length(max=500))

    @ma.validates_schema
    def _something(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ma.ValidationError("Give event_types, status or description.", "_schema")


class WebhookEndpointQueryArgsSchema(PageArgsSchema):
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES))


class WebhookSecretSchema(Schema):
    secret = ma.fields.String(required=True, metadata={"description": "Shown this once"})
    previous_secret_expires_at = UTCDateTime(required=True)


class WebhookAttemptSchema(Schema):
    event_id = ma.fields.UUID(required=True)
    attempt = ma.fields.Integer(required=True)
    status_code = ma.fields.Integer(allow_none=True, required=True)
    duration_ms = ma.fields.Integer(required=True)
    error = ma.fields.String(allow_none=True)
    at = UTCDateTime(required=True)
    delivery_status = ma.fields.String(
        required=True, metadata={"description": "pending, delivered or failed"}
    )


class WebhookAttemptPageSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(WebhookAttemptSchema), required=True)
    next_cursor = Cursor(allow_none=True, required=True)


class WebhookAttemptQueryArgsSchema(PageArgsSchema):
    event_id = ma.fields.UUID()


class WebhookRedeliverySchema(Schema):
    event_id = ma.fields.UUID(required=True)
    status = ma.fields.String(required=True)
