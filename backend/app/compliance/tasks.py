"""Background jobs of the compliance domain (queue `maintenance`)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from app.core.queue import enqueue, task

log = logging.getLogger("flowlet.compliance")

QUEUE = "maintenance"


def enqueue_rescreen(session: Session, *, list_id: int) -> str:
    """Re-screen every customer once the list version `list_id` commits."""
    return enqueue(session, rescreen_customers, list_id, queue=QUEUE)


@task
def rescreen_customers(list_id: int) -> int:
    """Screen every customer's name against list version `list_id`; alerts for hits.

    Idempotent: a customer already in an open sanctions case is not raised twice for the
    same entry. Skips quietly when a newer list has replaced this one.
    """
    from app.compliance.sanctions import rescreen_all
    from app.extensions import db

    return rescreen_all(db.session, list_id=list_id)


@task
def run_aml_batch(start: str, end: str) -> int:
    """Run the AML rules over the monitoring feed of [start, end) (ISO 8601)."""
    from app.compliance import aml
    from app.extensions import db

    return aml.run_period(
        db.session, start=datetime.fromisoformat(start), end=datetime.fromisoformat(end)
    )
