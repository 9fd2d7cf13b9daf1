"""Background jobs of the wealth domain: ids only, never a credential; each calls a service."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from app.core.queue import task

log = logging.getLogger("flowlet.wealth")


@task
def sync_linked_account(linked_account_id: int) -> dict[str, Any]:
    """Sync one linked account (retried with backoff when the broker fails)."""
    from app.extensions import db
    from app.wealth.services import sync

    try:
        return sync(db.session, linked_account_id=linked_account_id)
    finally:
        db.session.remove()


@task
def complete_linked_account_2fa(linked_account_id: int) -> dict[str, Any]:
    """Send the customer's 2FA answer (sealed in the database) and finish the sync."""
    from app.extensions import db
    from app.wealth.services import sync

    try:
        return sync(db.session, linked_account_id=linked_account_id, answer_2fa=True)
    finally:
        db.session.remove()


@task
def sync_all_linked_accounts() -> int:
    """The daily sync: queue one job per live linked account."""
    from app.extensions import db
    from app.wealth.services import enqueue_daily_syncs

    try:
        return enqueue_daily_syncs(db.session)
    finally:
        db.session.remove()


@task
def fetch_exchange_rates(days_back: int = 3) -> int:
    """Load the last few days' exchange rates (a missed day is picked up the next time)."""
    from app.core.db import utcnow
    from app.extensions import db
    from app.wealth import rates

    today = utcnow().date()
    try:
        return rates.backfill(db.session, start=today - timedelta(days=days_back), end=today)
    finally:
        db.session.remove()


@task
def send_weekly_wealth_reports() -> int:
    """Queue the weekly wealth e-mail to every customer with a linked account."""
    from app.extensions import db
    from app.wealth.reports import queue_weekly_reports

    try:
        return queue_weekly_reports(db.session)
    finally:
        db.session.remove()
