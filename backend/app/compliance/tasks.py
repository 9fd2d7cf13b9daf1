"""Background jobs of the compliance domain (queue `maintenance`)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

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


@task
def rescreen_with_active_list() -> int:
    """Re-screen every customer against the active list (the scheduler's daily run)."""
    from app.compliance.sanctions import active_list, rescreen_all
    from app.extensions import db

    active = active_list(db.session)
    if active is None:
        return 0
    return rescreen_all(db.session, list_id=active.id)


@task
def run_aml_batch_for_yesterday() -> int:
    """Run the AML rules over the previous UTC day (the scheduler's nightly run)."""
    from app.compliance import aml
    from app.extensions import db

    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return aml.run_period(db.session, start=today - timedelta(days=1), end=today)
