"""Webhooks: partners' URLs that receive the bank's events, signed, retried, in order per
account (docs/webhooks.md). The administrators' use cases, each one unit of work, audited.

The fan-out and the deliveries are the workers' (`webhooks_delivery`, `webhooks_tasks`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.orm import Session

from app.auth.models import User
from app.core import audit, uow
from app.core.db import for_update, utcnow
from app.core.errors import Conflict, NotFound, ValidationError
from app.core.pagination import Page, paginate, paginate_by_id
from app.core.queue import enqueue
from app.core.schedule import Entry, schedule_of
from app.events import webhooks_delivery, webhooks_net, webhooks_signing
from app.events.webhooks_delivery import allowed_networks
from app.events.webhooks_models import (
    ACTIVE,
    DISABLED,
    PENDING,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    as_attempt,
)
from app.events.webhooks_tasks import deliver_webhooks
from app.events.webhooks_wake import webhooks_cli

# The event types an endpoint may ask for (API.md, "Events").
EVENT_TYPES = (
    "movement.completed",
    "movement.held",
    "movement.released",
    "movement.reversed",
    "card.authorized",
    "card.declined",
    "alert.raised",
    "alert.decided",
    "kyc.decided",
    "sync.finished",
    "erasure.decided",
)
STATUSES = (ACTIVE, DISABLED)


@dataclass
class NewEndpoint:
    """An endpoint just registered, with the secret it is answered with once."""

    endpoint: WebhookEndpoint
    secret: str

    def __getattr__(self, name: str) -> Any:
        return getattr(self.endpoint, name)


def register(app: Flask) -> None:
    """The periodic job that fans out events and delivers them; `flask webhooks listen`."""
    app.cli.add_command(webhooks_cli)
    schedule_of(app).add(
        Entry(
            "webhooks",
            "app.events.webhooks_tasks.deliver_webhooks",
            "default",
            interval=int(app.config["WEBHOOK_POLL_SECONDS"]),
        )
    )


def check_url(url: str) -> None:
    """Refuse (422) a URL a webhook may not be sent to, resolving its host now."""
    try:
        parts = webhooks_net.check_url(url)
        webhooks_net.resolve(
            parts.hostname or "", webhooks_net.default_port(parts), allowed_networks()
        )
    except webhooks_net.RefusedURL as exc:
        raise ValidationError(str(exc), details={"url": [str(exc)]}) from exc


def _endpoint(session: Session, public_id: uuid.UUID, *, lock: bool = False) -> WebhookEndpoint:
    stmt = sa.select(WebhookEndpoint).where(WebhookEndpoint.public_id == public_id)
    if lock:  # FOR NO KEY UPDATE: deliveries in flight (FOR KEY SHARE) go on
        stmt = for_update(stmt, key_share=True)
    endpoint = session.scalars(stmt).first()
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    return endpoint


def create_endpoint(
    session: Session,
    *,
    actor: User,
    url: str,
    event_types: list[str],
    description: str | None = None,
) -> NewEndpoint:
    """Register an endpoint; the answer carries its signing secret, shown this once."""
    check_url(url)
    public_id = uuid.uuid4()
    secret = webhooks_signing.new_secret()
    endpoint = WebhookEndpoint(
        public_id=public_id,
        url=url,
        event_types=sorted(set(event_types)),
        description=description,
        status=ACTIVE,
        secret_sealed=webhooks_signing.seal(secret, endpoint_public_id=public_id),
        consecutive_failures=0,
        created_by=actor.id,
    )
    session.add(endpoint)
    audit.record(
        session,
        "webhooks.endpoint_registered",
        resource_type="webhook_endpoint",
        resource=endpoint,
        changes={"url": url, "event_types": endpoint.event_types, "description": description},
    )
    uow.commit(session, keep_loaded=True)
    return NewEndpoint(endpoint, secret)


def list_endpoints(
    session: Session, *, status: str | None = None, limit: int = 50, cursor: str | None = None
) -> Page:
    """The endpoints, newest first (paginated)."""
    query = sa.select(WebhookEndpoint)
    if status:
        query = query.where(WebhookEndpoint.status == status)
    return paginate(session, query, model=WebhookEndpoint, limit=limit, cursor=cursor)


def get_endpoint(session: Session, *, public_id: uuid.UUID) -> WebhookEndpoint:
    """One endpoint (404 when there is none)."""
    return _endpoint(session, public_id)


def update_endpoint(
    session: Session,
    *,
    public_id: uuid.UUID,
    event_types: list[str] | None = None,
    status: str | None = None,
    description: str | None = None,
) -> WebhookEndpoint:
    """Change an endpoint's event types, description or status (enabling clears its failures)."""
    endpoint = _endpoint(session, public_id, lock=True)
    changes: dict[str, Any] = {}
    expired = 0
    if event_types is not None and sorted(set(event_types)) != endpoint.event_types:
        changes["event_types"] = {"before": endpoint.event_types, "after": sorted(set(event_types))}
        endpoint.event_types = sorted(set(event_types))
    if description is not None and description != endpoint.description:
        changes["description"] = {"before": endpoint.description, "after": description}
        endpoint.description = description
    if status is not None and status != endpoint.status:
        changes["status"] = {"before": endpoint.status, "after": status}
        endpoint.status = status
        if status == DISABLED:
            endpoint.disabled_at, endpoint.disabled_reason = (
                utcnow(),
                "disabled by an administrator",
            )
        else:
            endpoint.disabled_at, endpoint.disabled_reason = None, None
            endpoint.consecutive_failures = 0
            # What waited too long while it was disabled fails now, unsent; the rest goes out.
            expired = webhooks_delivery.expire_waiting(session, endpoint_id=endpoint.id)
            if expired:
                changes["expired_unsent"] = expired
    if changes:
        audit.record(
            session,
            "webhooks.endpoint_updated",
            resource_type="webhook_endpoint",
            resource=endpoint,
            changes=changes,
        )
    uow.commit(session, keep_loaded=True)
    webhooks_delivery.ATTEMPTS.labels("expired").inc(expired)
    return endpoint


def delete_endpoint(session: Session, *, public_id: uuid.UUID) -> None:
    """Delete an endpoint with its deliveries and their attempts (waits for one in flight)."""
    endpoint = _endpoint(session, public_id)
    endpoint = session.scalars(
        for_update(sa.select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint.id))
    ).one()
    audit.record(
        session,
        "webhooks.endpoint_deleted",
        resource_type="webhook_endpoint",
        resource_id=str(endpoint.public_id),
        changes={"url": endpoint.url, "event_types": endpoint.event_types},
    )
    session.delete(endpoint)
    uow.commit(session)


def rotate_secret(session: Session, *, public_id: uuid.UUID) -> dict[str, Any]:
    """A new signing secret (shown once); the current one also signs during the overlap."""
    endpoint = _endpoint(session, public_id, lock=True)
    overlap = timedelta(seconds=int(current_app.config["WEBHOOK_SECRET_OVERLAP_SECONDS"]))
    secret = webhooks_signing.new_secret()
    expires = utcnow() + overlap
    endpoint.previous_secret_sealed = endpoint.secret_sealed
    endpoint.previous_secret_expires_at = expires
    endpoint.secret_sealed = webhooks_signing.seal(secret, endpoint_public_id=endpoint.public_id)
    audit.record(
        session,
        "webhooks.secret_rotated",
        resource_type="webhook_endpoint",
        resource=endpoint,
        changes={"previous_secret_expires_at": expires.isoformat()},
    )
    uow.commit(session, keep_loaded=True)
    return {"secret": secret, "previous_secret_expires_at": expires}


def list_attempts(
    session: Session,
    *,
    public_id: uuid.UUID,
    event_id: uuid.UUID | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page:
    """An endpoint's delivery attempts, newest first (paginated), optionally of one event."""
    endpoint = _endpoint(session, public_id)
    query = sa.select(WebhookAttempt).where(WebhookAttempt.endpoint_id == endpoint.id)
    if event_id is not None:
        query = query.where(
            WebhookAttempt.delivery_id.in_(
                sa.select(WebhookDelivery.id).where(
                    WebhookDelivery.endpoint_id == endpoint.id,
                    WebhookDelivery.event_public_id == event_id,
                )
            )
        )
    page = paginate_by_id(session, query, column=WebhookAttempt.id, limit=limit, cursor=cursor)
    ids = {attempt.delivery_id for attempt in page.items}
    deliveries = {
        d.id: d
        for d in session.scalars(sa.select(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))
    }
    page.items = [as_attempt(a, deliveries[a.delivery_id]) for a in page.items]
    return page


def redeliver(session: Session, *, public_id: uuid.UUID, event_id: uuid.UUID) -> dict[str, Any]:
    """Send an event to an endpoint again: the delivery is due now, retried as a new one."""
    endpoint = _endpoint(session, public_id)
    if endpoint.status != ACTIVE:
        raise Conflict("The endpoint is disabled; enable it first.")
    delivery = session.scalars(
        for_update(
            sa.select(WebhookDelivery).where(
                WebhookDelivery.endpoint_id == endpoint.id,
                WebhookDelivery.event_public_id == event_id,
            ),
            skip_locked=True,
        )
    ).first()
    if delivery is None:
        exists = session.scalar(
            sa.select(WebhookDelivery.id).where(
                WebhookDelivery.endpoint_id == endpoint.id,
                WebhookDelivery.event_public_id == event_id,
            )
        )
        if exists is None:
            raise NotFound("No delivery of that event to this endpoint.")
        raise Conflict("The event is being delivered right now; try again in a moment.")
    now = utcnow()
    max_age = timedelta(seconds=int(current_app.config["WEBHOOK_MAX_AGE_SECONDS"]))
    before = delivery.status
    delivery.status, delivery.next_attempt_at, delivery.expires_at = PENDING, now, now + max_age
    audit.record(
        session,
        "webhooks.redelivery_requested",
        resource_type="webhook_endpoint",
        resource=endpoint,
        changes={"event_id": str(event_id), "status_before": before},
    )
    enqueue(session, deliver_webhooks, queue="default")
    uow.commit(session, keep_loaded=True)
    return {"event_id": event_id, "status": PENDING}
