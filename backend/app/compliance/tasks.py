"""Background jobs of the compliance domain (queue `maintenance`).

The re-screening job `rescreen_customers` lives with the list it screens against
(`sanctions.rescreen_customers`, enqueued by `sanctions.load_list`); it is importable here too,
because jobs queued before it moved name it `app.compliance.tasks.rescreen_customers`.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from app.compliance.aml.batch import run_period
from app.compliance.backtests import backtest_report, keep_report
from app.compliance.fetch import fetch_all
from app.compliance.reviews import nightly
from app.compliance.sanctions import enqueue_rescreen, rescreen_all, rescreen_customers
from app.core import replica
from app.core.extensions import db
from app.core.queue import task

__all__ = [
    "QUEUE",
    "enqueue_rescreen",
    "fetch_sanctions_lists",
    "rescreen_customers",
    "rescreen_with_active_list",
    "run_aml_batch",
    "run_aml_batch_for_yesterday",
    "run_customer_risk",
    "run_rule_backtest",
]

log = logging.getLogger("flowlet.compliance")

QUEUE = "maintenance"


@task
def run_aml_batch(start: str, end: str) -> int:
    """Run the AML rules over the journal's movements of [start, end) (ISO 8601)."""
    return run_period(
        db.session(), start=datetime.fromisoformat(start), end=datetime.fromisoformat(end)
    )


@task
def run_rule_backtest(
    rule: str, params: dict[str, Any], start: str, end: str, backtest_id: str | None = None
) -> dict[str, Any]:
    """Backtest an AML rule's parameters over [start, end) (ISO 8601); the report is the
    job's result (`GET /api/v1/jobs/{id}`) and is kept with the backtest."""
    report = backtest_report(
        replica.tolerating_lag(db.session()),
        rule=rule,
        params=params,
        start=datetime.fromisoformat(start),
        end=datetime.fromisoformat(end),
    )
    if backtest_id is not None:
        keep_report(db.session(), backtest_id=backtest_id, report=report)
    return report


@task
def rescreen_with_active_list() -> int:
    """Re-screen every customer and recent beneficiary against the active lists (the
    scheduler's daily run)."""
    return rescreen_all(db.session())


@task
def fetch_sanctions_lists() -> list[dict[str, object]]:
    """Download the lists of `SANCTIONS_SOURCES`, verify them and swap in what changed (the
    scheduler's refresh); a failed source keeps its active version and raises an alert."""
    return [asdict(result) for result in fetch_all(db.session())]


@task
def run_aml_batch_for_yesterday() -> int:
    """Run the AML rules over the previous UTC day (the scheduler's nightly run)."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return run_period(db.session(), start=today - timedelta(days=1), end=today)


@task
def run_customer_risk() -> dict[str, int]:
    """Re-rate the customers, open the reviews due, mark the overdue (the nightly run)."""
    return nightly(db.session())
