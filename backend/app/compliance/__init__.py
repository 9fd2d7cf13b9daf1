"""KYC, sanctions screening, AML monitoring, alerts and case review."""

from __future__ import annotations

from flask import Flask

from app.compliance import audit_tasks
from app.core.schedule import Booking, Entry, schedule_of


def init_app(app: Flask) -> None:
    """Plug compliance into the movement engine (review alerts, sanctions and AML rules), into
    the personal-data sections and into the schedule."""
    from app.compliance import privacy, services
    from app.compliance.engine_hooks import init_app as init_engine_hooks
    from app.ledger import engine

    engine.register_observer("review_alerts", services.observe_reviews)
    init_engine_hooks(app)
    privacy.register(app)
    _schedule(app)


def _schedule(app: Flask) -> None:
    """The nightly re-screening and AML batch; the audit sealer books itself on the workers."""
    schedule = schedule_of(app)
    schedule.add(
        Entry(
            "sanctions-rescreen",
            "app.compliance.tasks.rescreen_with_active_list",
            "maintenance",
            cron="0 2 * * *",
        )
    )
    schedule.add(
        Entry(
            "aml-batch",
            "app.compliance.tasks.run_aml_batch_for_yesterday",
            "maintenance",
            cron="15 0 * * *",  # the previous UTC day, once it has ended
        )
    )
    schedule.add_booking(
        Booking("audit-seal", audit_tasks.SEAL_QUEUE, audit_tasks.schedule_audit_seal)
    )
