"""The webhook job: fan out the new events, then deliver what is due (RQ workers only)."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app

from app.core.extensions import db
from app.core.queue import task
from app.events.webhooks_delivery import deliver_due, expire_on_disabled, fan_out, purge


@task
def deliver_webhooks() -> int:
    """Run periodically (`WEBHOOK_POLL_SECONDS`) and after a redelivery; returns how many
    deliveries it attempted. Any number may run at once (the cursor and the deliveries are
    claimed with SKIP LOCKED)."""
    session = db.session()
    config = current_app.config
    fan_out(session)
    budget = max(float(config["WEBHOOK_POLL_SECONDS"]) * 6, 30.0)
    attempted = deliver_due(session, budget_seconds=budget)
    expire_on_disabled(session)
    purge(session, older_than=timedelta(seconds=int(config["WEBHOOK_RETENTION_SECONDS"])))
    return attempted
