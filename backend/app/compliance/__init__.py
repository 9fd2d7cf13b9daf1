"""KYC, sanctions screening, AML monitoring, alerts and case review."""

from __future__ import annotations

from flask import Flask

from app.auth import hooks
from app.compliance import engine_hooks, kyc, privacy, risk_hooks
from app.compliance.aml.versions import seed_versions
from app.compliance.fetch import parse_sources
from app.compliance.seeds import seed_demo_sanctions_list
from app.core import audit
from app.core.schedule import Entry, schedule_of
from app.core.seeds import seeders


def init_app(app: Flask) -> None:
    """Plug compliance into the movement engine (review alerts, sanctions and AML rules, the
    customer risk's limits and overdue reviews), the
    screening of a change of name, the personal-data sections and the schedule; name the KYC
    data for the audit log's masks."""
    engine_hooks.init_app(app)
    risk_hooks.init_app(app)
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
    masks.personal("nationality", "residence")


def _schedule(app: Flask) -> None:
    """The nightly re-screening, AML batch and customer risk run, and the lists' refresh
    when sources are set."""
    schedule = schedule_of(app)
    schedule.add(
        Entry(
            "sanctions-rescreen",
            "app.compliance.tasks.rescreen_with_active_list",
            "maintenance",
            cron="0 2 * * *",
        )
    )
    parse_sources(app.config["SANCTIONS_SOURCES"])  # a bad setting stops the start
    if app.config["SANCTIONS_SOURCES"] and app.config["SANCTIONS_FETCH_CRON"]:
        schedule.add(
            Entry(
                "sanctions-fetch",
                "app.compliance.tasks.fetch_sanctions_lists",
                "maintenance",
                cron=app.config["SANCTIONS_FETCH_CRON"],
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
    schedule.add(
        Entry(
            "customer-risk",
            "app.compliance.tasks.run_customer_risk",
            "maintenance",
            cron="45 1 * * *",  # after the AML batch: its alerts count
        )
    )
