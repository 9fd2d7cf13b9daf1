"""Background jobs of the events domain: the retention purge."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app

from app.core import events
from app.core.extensions import db
from app.core.queue import task
from app.events import tickets

log = logging.getLogger("flowlet.events")

# Batches of 10,000 rows, each its own short transaction; at most this many per run (the
# next run takes the rest), so one run never holds the database for long.
_MAX_BATCHES = 100


@task
def purge_events() -> int:
    """Delete events older than `EVENTS_RETENTION_DAYS`, and expired stream tickets."""
    older_than = timedelta(days=int(current_app.config["EVENTS_RETENTION_DAYS"]))
    session = db.session()
    total = 0
    for _ in range(_MAX_BATCHES):
        count = events.purge(session, older_than=older_than)
        total += count
        if count == 0:
            break
    expired = tickets.purge_expired(session)
    log.info("purged %d events and %d expired stream tickets", total, expired)
    return total
