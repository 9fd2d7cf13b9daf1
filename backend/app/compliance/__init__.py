"""KYC, sanctions screening, AML monitoring, alerts and case review."""

from __future__ import annotations

from flask import Flask

from app.auth import hooks
from app.compliance import engine_hooks, kyc, privacy
from app.compliance.aml.versions import seed_versions
from app.compliance.seeds import seed_demo_sanctions_list
from app.core import audit
from app.core.schedule import Entry, schedule_of
from app.core.seeds import seeders


def init_app(app: Flask) -> None:
    """Plug compliance into the movement engine (review alerts, sanctions and AML rules), the
    screening of a change of name, the personal-data sections and the schedule; name the KYC
    data for the audit log's masks."""
    engine_hooks.init_app(app)
    hooks.on_name_change(app, kyc.check_name_change)  # a new name is screened first
    privacy.register(app)
    _schedule(app)
    seeders(app).add(reference=seed_versions, demo=seed_demo_sanctions_list)
    masks = audit.masks(app)
    masks.personal("email", hint=audit.email_address)
    masks.personal("phone", "document_number", hint=audit.last_four)
    masks.personal("date_of_birth", hint=audit.birth_year)
    masks.personal("first_name", "last_name", "name")
    masks.personal("address", "line1", "line2", "city", "postal_code")


def _schedule(app: Flask) -> None:
    """The nightly re-screening and AML batch."""
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
