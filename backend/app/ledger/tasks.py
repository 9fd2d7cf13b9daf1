"""Background jobs of the ledger (ids only; safe to run twice)."""

from __future__ import annotations

import logging

from app.core.extensions import db
from app.core.queue import task
from app.ledger import engine

log = logging.getLogger("flowlet.ledger")


@task
def expire_holds() -> int:
    """Release every active hold past its expiry (run periodically, e.g. every minute)."""
    try:
        count = engine.expire_holds(db.session())
        if count:
            log.info("released %d expired holds", count)
        return count
    finally:
        db.session.remove()
