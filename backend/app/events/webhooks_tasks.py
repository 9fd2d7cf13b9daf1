"""The webhook job: fan out the new events, then deliver what is due (RQ workers only)."""

from __future__ import annotations

from flask import current_app

from app.core.extensions import db
from app.core.queue import task
from app.events.webhooks_delivery import deliver_due, fan_out


@task
def deliver_webhooks() -> int:
    """Run periodically (`WEBHOOK_POLL_SECONDS`) and after a redelivery; returns how many
    deliveries it attempted. Any number may run at once (the cursor and the deliveries are
    claimed with SKIP LOCKED)."""
    session = db.session()
    fan_out(session)
    budget = max(float(current_app.config["WEBHOOK_POLL_SECONDS"]) * 6, 30.0)
    return deliver_due(session, budget_seconds=budget)
