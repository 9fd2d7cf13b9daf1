"""Background jobs of the ledger (ids only; safe to run twice)."""

from __future__ import annotations

import logging

from app.core.queue import task

log = logging.getLogger("flowlet.ledger")


@task
def expire_holds() -> int:
    """Release every active hold past its expiry (run periodically, e.g. every minute)."""
    from app.core.extensions import db
    from app.ledger import engine

    try:
        count = engine.expire_holds(db.session())
        if count:
            log.info("released %d expired holds", count)
        return count
    finally:
        db.session.remove()
