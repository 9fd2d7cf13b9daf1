"""Webhook fan-out and delivery, run by the RQ workers (`webhooks_tasks`), never in a request.

**Fan-out.** `fan_out` numbers the committed events (`core.events.sequence`), then, in one
transaction holding the one cursor row locked, reads the events after the cursor in position
order, writes one `pending` delivery per matching active endpoint and moves the cursor. A
crash before the commit leaves the cursor where it was (nothing lost); the lock makes a
second fan-out wait its turn and start after the first one's cursor (nothing duplicated).

**Delivery.** `deliver_one` claims one due delivery with `FOR UPDATE SKIP LOCKED` and keeps
that row lock while it POSTs (one transaction per attempt, at most `WEBHOOK_TIMEOUT_SECONDS`
long); the attempt, the delivery's new state and the endpoint's failure count commit
together. A worker killed mid-POST commits nothing: PostgreSQL drops the lock with the
connection and the delivery is due again at once (at least once; receivers dedupe by the
event id). A delivery waits while an earlier one of the same account to the same endpoint is
still pending, so each account's events reach a receiver in order, retries included.

A non-2xx answer, a timeout or a refused address is retried after base × 2^(n-1) seconds
(±50 % jitter, at most an hour); once the next try would come after `expires_at` (the event's
time + `WEBHOOK_MAX_AGE_SECONDS`) the delivery is `failed`. An endpoint whose
`WEBHOOK_DISABLE_AFTER_FAILURES` deliveries failed in a row is disabled, audited, and the
administrators are e-mailed.
"""

from __future__ import annotations

import json
import logging
import random
import time
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from prometheus_client import Counter
from sqlalchemy.orm import Session, aliased

from app.auth.mail import queue_email
from app.auth.models import User, UserRole
from app.core import audit, events, uow
from app.core.db import for_update, utcnow
from app.core.events import Event
from app.events import webhooks_net, webhooks_signing
from app.events.webhooks_models import (
    ACTIVE,
    DELIVERED,
    DISABLED,
    FAILED,
    PENDING,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookFanoutCursor,
)

log = logging.getLogger("flowlet.webhooks")

MAX_BACKOFF_SECONDS = 3600
# Exposed at /metrics: delivered, retry (a failed attempt that will be tried again), failed
# (given up), refused (the address was not allowed; also retried), expired (not sent: its
# time ran out while the endpoint was disabled).
ATTEMPTS = Counter(
    "flowlet_webhook_attempts_total", "Webhook delivery attempts by outcome", ["outcome"]
)
_FAN_OUT_BATCH = 1000
_EXPIRED = "not sent: its time ran out while the endpoint was disabled"


def allowed_networks() -> tuple[webhooks_net.Network, ...]:
    return webhooks_net.parse_networks(current_app.config["WEBHOOK_ALLOW_PRIVATE_NETWORKS"])


# --- fan-out --------------------------------------------------------------------------------------


def fan_out(session: Session, *, batch: int = _FAN_OUT_BATCH) -> int:
    """Turn the events after the cursor into deliveries and move the cursor, a batch of events
    per transaction until none is left; returns how many deliveries were written (0 when
    another fan-out holds the cursor)."""
    events.sequence(session)
    written = 0
    while True:
        read, wrote = _fan_out_batch(session, batch)
        written += wrote
        if read < batch:
            return written


def _fan_out_batch(session: Session, batch: int) -> tuple[int, int]:
    """One transaction of the fan-out: (events read, deliveries written)."""
    cursor = session.scalars(
        for_update(
            sa.select(WebhookFanoutCursor).where(WebhookFanoutCursor.id == 1), skip_locked=True
        )
    ).first()
    if cursor is None:  # another fan-out is running; it reads what this one would
        uow.rollback(session)
        return 0, 0
    rows = session.execute(
        sa.select(
            Event.id,
            Event.public_id,
            Event.position,
            Event.type,
            Event.account_id,
            Event.occurred_at,
        )
        .where(Event.position > cursor.position)
        .order_by(Event.position)
        .limit(batch)
    ).all()
    if not rows:
        uow.rollback(session)
        return 0, 0
    # Disabled endpoints too: their deliveries wait, and go out if it is enabled in time.
    endpoints = session.execute(
        sa.select(WebhookEndpoint.id, WebhookEndpoint.event_types, WebhookEndpoint.created_at)
    ).all()
    now = utcnow()
    max_age = timedelta(seconds=int(current_app.config["WEBHOOK_MAX_AGE_SECONDS"]))
    deliveries: list[dict[str, Any]] = []
    for event in rows:
        for endpoint in endpoints:
            # An endpoint receives what happened once it was registered, nothing older.
            if event.type in endpoint.event_types and event.occurred_at >= endpoint.created_at:
                deliveries.append(
                    {
                        "endpoint_id": endpoint.id,
                        "event_id": event.id,
                        "event_public_id": event.public_id,
                        "position": event.position,
                        "account_id": event.account_id,
                        "status": PENDING,
                        "attempts": 0,
                        "next_attempt_at": now,
                        "expires_at": event.occurred_at + max_age,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
    if deliveries:
        session.execute(sa.insert(WebhookDelivery), deliveries)
    cursor.position = rows[-1].position
    cursor.updated_at = now
    uow.commit(session)
    return len(rows), len(deliveries)


# --- delivery -------------------------------------------------------------------------------------


def _claim(session: Session, now: datetime) -> WebhookDelivery | None:
    """Lock the soonest due delivery that no earlier one of its account holds back."""
    earlier = aliased(WebhookDelivery)
    held_back = (
        sa.select(earlier.id)
        .where(
            earlier.endpoint_id == WebhookDelivery.endpoint_id,
            earlier.account_id == WebhookDelivery.account_id,
            earlier.status == PENDING,
            earlier.position < WebhookDelivery.position,
        )
        .exists()
    )
    return session.scalars(
        for_update(
            sa.select(WebhookDelivery)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(
                WebhookDelivery.status == PENDING,
                WebhookDelivery.next_attempt_at <= now,
                WebhookEndpoint.status == ACTIVE,
                ~held_back,
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(1),
            of=WebhookDelivery,
            skip_locked=True,
        )
    ).first()


def backoff(attempts: int) -> timedelta:
    """The wait before the next try after `attempts` tries: base × 2^(n-1), ±50 %, ≤ 1 h."""
    base = float(current_app.config["WEBHOOK_RETRY_BASE_SECONDS"])
    wait = min(base * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)
    return timedelta(seconds=wait * random.uniform(0.5, 1.5))  # noqa: S311 (not a secret)


def body_of(event: Event) -> bytes:
    """The delivery's body: the `Event` of API.md as compact JSON."""
    return json.dumps(events.as_json(event), separators=(",", ":")).encode()


def deliver_one(session: Session) -> bool:
    """Claim one due delivery and POST it; False when none is due."""
    now = utcnow()
    delivery = _claim(session, now)
    if delivery is None:
        uow.rollback(session)
        return False
    # FOR KEY SHARE: a delete of the endpoint waits for this attempt, and an attempt never
    # starts on an endpoint being deleted (its delete would then wait on this delivery's row
    # while this transaction waited on the endpoint: a deadlock).
    endpoint = session.scalars(
        for_update(
            sa.select(WebhookEndpoint).where(WebhookEndpoint.id == delivery.endpoint_id),
            read=True,
            key_share=True,
            skip_locked=True,
        )
    ).first()
    if endpoint is None:
        uow.rollback(session)
        return False
    event = session.get_one(Event, delivery.event_id)
    body = body_of(event)
    header = webhooks_signing.signature(
        webhooks_signing.live_secrets(endpoint, now=now), timestamp=int(time.time()), body=body
    )
    answer = webhooks_net.post(
        endpoint.url,
        body,
        {
            "Content-Type": "application/json",
            "User-Agent": "Flowlet-Webhooks/1",
            webhooks_signing.HEADER: header,
            "Flowlet-Event-Id": str(event.public_id),
        },
        timeout=float(current_app.config["WEBHOOK_TIMEOUT_SECONDS"]),
        allow=allowed_networks(),
    )
    delivery.attempts += 1
    session.add(
        WebhookAttempt(
            delivery_id=delivery.id,
            endpoint_id=endpoint.id,
            attempt=delivery.attempts,
            status_code=answer.status_code,
            duration_ms=answer.duration_ms,
            error=answer.error,
            at=utcnow(),
        )
    )
    delivery.last_status_code = answer.status_code
    delivery.last_error = answer.error
    if answer.error is None:
        outcome = "delivered"
        delivery.status, delivery.delivered_at = DELIVERED, utcnow()
        session.execute(
            sa.update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint.id, WebhookEndpoint.consecutive_failures > 0)
            .values(consecutive_failures=0)
        )
    else:
        retry_at = utcnow() + backoff(delivery.attempts)
        outcome = "refused" if answer.error.startswith("refused") else "retry"
        if retry_at > delivery.expires_at:
            outcome = "failed"
            delivery.status = FAILED
            _count_failure(session, endpoint.id)
        else:
            delivery.next_attempt_at = retry_at
    endpoint_id, event_id, attempt = endpoint.public_id, event.public_id, delivery.attempts
    uow.commit(session)
    ATTEMPTS.labels(outcome).inc()
    log.info(
        "webhook delivery: endpoint %s event %s attempt %d → %s in %d ms%s",
        endpoint_id,
        event_id,
        attempt,
        answer.status_code,
        answer.duration_ms,
        f" ({answer.error})" if answer.error else "",
    )
    return True


def expire_waiting(session: Session, *, endpoint_id: int) -> int:
    """Fail, unsent, an endpoint's pending deliveries whose time ran out (they waited while it
    was disabled); each gets an attempt that says so. The receiver did not fail them: the
    endpoint's count of failures is left alone. Flushes; returns how many."""
    now = utcnow()
    rows = session.execute(
        sa.update(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.status == PENDING,
            WebhookDelivery.expires_at <= now,
        )
        .values(
            status=FAILED,
            attempts=WebhookDelivery.attempts + 1,
            last_status_code=None,
            last_error=_EXPIRED,
            updated_at=now,
        )
        .returning(WebhookDelivery.id, WebhookDelivery.attempts)
    ).all()
    if rows:
        session.execute(
            sa.insert(WebhookAttempt),
            [
                {
                    "delivery_id": row.id,
                    "endpoint_id": endpoint_id,
                    "attempt": row.attempts,
                    "status_code": None,
                    "duration_ms": 0,
                    "error": _EXPIRED,
                    "at": now,
                }
                for row in rows
            ],
        )
    return len(rows)


def expire_on_disabled(session: Session) -> int:
    """Fail the deliveries that waited out their time on endpoints still disabled; how many."""
    disabled = session.scalars(
        sa.select(WebhookEndpoint.id).where(WebhookEndpoint.status == DISABLED)
    ).all()
    expired = sum(expire_waiting(session, endpoint_id=endpoint_id) for endpoint_id in disabled)
    uow.commit(session)
    ATTEMPTS.labels("expired").inc(expired)
    return expired


def deliver_due(session: Session, *, limit: int = 500, budget_seconds: float = 30.0) -> int:
    """Deliver due deliveries one at a time until none is due, `limit` or the time budget."""
    started, done = time.monotonic(), 0
    while done < limit and time.monotonic() - started < budget_seconds:
        if not deliver_one(session):
            break
        done += 1
    return done


def purge(session: Session, *, older_than: timedelta, batch: int = 1000) -> int:
    """Delete a batch of deliveries delivered or failed before `older_than` ago, with their
    attempts; returns how many. Pending ones stay, however old."""
    ids = session.scalars(
        sa.select(WebhookDelivery.id)
        .where(
            WebhookDelivery.status != PENDING,
            WebhookDelivery.updated_at < utcnow() - older_than,
        )
        .order_by(WebhookDelivery.updated_at)
        .limit(batch)
    ).all()
    if ids:
        session.execute(sa.delete(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))
    uow.commit(session)
    return len(ids)


# --- failing endpoints ----------------------------------------------------------------------------


def _count_failure(session: Session, endpoint_id: int) -> None:
    """One more delivery failed in a row; at the limit the endpoint is disabled."""
    failures = session.scalar(
        sa.update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id)
        .values(consecutive_failures=WebhookEndpoint.consecutive_failures + 1)
        .returning(WebhookEndpoint.consecutive_failures)
    )
    limit = int(current_app.config["WEBHOOK_DISABLE_AFTER_FAILURES"])
    if limit > 0 and failures is not None and failures >= limit:
        disable_failing(session, endpoint_id=endpoint_id, failures=failures)


def disable_failing(session: Session, *, endpoint_id: int, failures: int) -> None:
    """Disable an endpoint that keeps failing; audit it and e-mail the administrators (flushes)."""
    reason = f"{failures} deliveries failed in a row"
    row = session.execute(
        sa.update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.status == ACTIVE)
        .values(status=DISABLED, disabled_at=utcnow(), disabled_reason=reason)
        .returning(WebhookEndpoint.public_id, WebhookEndpoint.url)
    ).first()
    if row is None:
        return  # already disabled
    audit.record(
        session,
        "webhooks.endpoint_disabled",
        resource_type="webhook_endpoint",
        resource_id=str(row.public_id),
        changes={"reason": reason, "consecutive_failures": failures},
        actor_role="system",
    )
    admins = session.execute(
        sa.select(User.id, User.email)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == "admin", User.is_active.is_(True))
    ).all()
    for admin in admins:
        queue_email(
            session,
            to=admin.email,
            subject="Flowlet: a webhook endpoint was disabled",
            body=(
                f"The webhook endpoint {row.public_id} ({row.url}) was disabled: {reason}.\n"
                "Events keep being queued for it and wait up to a day: enable it again in "
                "the admin console once the receiver answers, and redeliver the failed "
                "deliveries it still needs."
            ),
            kind="webhook_disabled",
            user_id=admin.id,
        )
    log.warning("webhook endpoint %s disabled: %s", row.public_id, reason)
