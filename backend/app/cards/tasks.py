"""Background jobs of the cards domain (ids only; each calls one service)."""

from __future__ import annotations

import logging

from app.cards.issuing import expire_cards as expire
from app.core.extensions import db
from app.core.queue import task

log = logging.getLogger("flowlet.cards")


@task
def expire_cards() -> int:
    """Mark cards past their expiry month `expired`."""
    try:
        count = expire(db.session())
    finally:
        db.session.remove()
    log.info("marked %d cards expired", count)
    return count
