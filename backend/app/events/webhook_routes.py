"""HTTP routes of the webhook administration (`/api/v1/admin/webhooks`)."""

from __future__ import annotations

import uuid
from typing import Any

from app.auth.permissions import current_user, require
from app.core.api import Blueprint
from app.core.extensions import db
from app.core.pagination import Page
from app.events import webhooks
from app.events.webhooks_models import WebhookEndpoint
from app.events.webhooks_schemas import (
    WebhookAttemptPageSchema,
    WebhookAttemptQueryArgsSchema,
    WebhookEndpointCreatedSchema,
    WebhookEndpointCreateSchema,
    WebhookEndpointPageSchema,
    WebhookEndpointQueryArgsSchema,
    WebhookEndpointSchema,
    WebhookEndpointUpdateSchema,
    WebhookRedeliverySchema,
    WebhookSecretSchema,
)

blp = Blueprint(
    "admin_webhooks",
    __name__,
    url_prefix="/api/v1/admin/webhooks",
    description="Webhook endpoints: register, rotate secrets, deliveries and redelivery.",
)


@blp.route("", methods=["POST"])
@require("admin:webhooks")
@blp.arguments(WebhookEndpointCreateSchema)
@blp.response(201, WebhookEndpointCreatedSchema)
def create_endpoint(data: dict[str, Any]) -> webhooks.NewEndpoint:
    """Register an endpoint; its signing secret is in this answer only."""
    return webhooks.create_endpoint(db.session(), actor=current_user(), **data)


@blp.route("", methods=["GET"])
@require("admin:webhooks")
@blp.arguments(WebhookEndpointQueryArgsSchema, location="query")
@blp.response(200, WebhookEndpointPageSchema)
def list_endpoints(args: dict[str, Any]) -> Page:
    """The endpoints, newest first, optionally of one status (paginated)."""
    return webhooks.list_endpoints(db.session(), **args)


@blp.route("/<uuid:endpoint_id>", methods=["GET"])
@require("admin:webhooks")
@blp.response(200, WebhookEndpointSchema)
def get_endpoint(endpoint_id: uuid.UUID) -> WebhookEndpoint:
    """One endpoint."""
    return webhooks.get_endpoint(db.session(), public_id=endpoint_id)


@blp.route("/<uuid:endpoint_id>", methods=["PATCH"])
@require("admin:webhooks")
@blp.arguments(WebhookEndpointUpdateSchema)
@blp.response(200, WebhookEndpointSchema)
def update_endpoint(data: dict[str, Any], endpoint_id: uuid.UUID) -> WebhookEndpoint:
    """Change an endpoint's event types, description or status (enable, disable)."""
    return webhooks.update_endpoint(db.session(), public_id=endpoint_id, **data)


@blp.route("/<uuid:endpoint_id>", methods=["DELETE"])
@require("admin:webhooks")
@blp.response(204)
def delete_endpoint(endpoint_id: uuid.UUID) -> None:
    """Delete an endpoint with its deliveries."""
    webhooks.delete_endpoint(db.session(), public_id=endpoint_id)


@blp.route("/<uuid:endpoint_id>/rotate-secret", methods=["POST"])
@require("admin:webhooks")
@blp.response(200, WebhookSecretSchema)
def rotate_secret(endpoint_id: uuid.UUID) -> dict[str, Any]:
    """A new signing secret; the old one also signs for WEBHOOK_SECRET_OVERLAP_SECONDS."""
    return webhooks.rotate_secret(db.session(), public_id=endpoint_id)


@blp.route("/<uuid:endpoint_id>/deliveries", methods=["GET"])
@require("admin:webhooks")
@blp.arguments(WebhookAttemptQueryArgsSchema, location="query")
@blp.response(200, WebhookAttemptPageSchema)
def list_deliveries(args: dict[str, Any], endpoint_id: uuid.UUID) -> Page:
    """The endpoint's delivery attempts, newest first, optionally of one event (paginated)."""
    return webhooks.list_attempts(db.session(), public_id=endpoint_id, **args)


@blp.route("/<uuid:endpoint_id>/deliveries/<uuid:event_id>/redeliver", methods=["POST"])
@require("admin:webhooks")
@blp.response(202, WebhookRedeliverySchema)
def redeliver(endpoint_id: uuid.UUID, event_id: uuid.UUID) -> dict[str, Any]:
    """Send an event to the endpoint again (a worker does it at once)."""
    return webhooks.redeliver(db.session(), public_id=endpoint_id, event_id=event_id)
