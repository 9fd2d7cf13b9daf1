"""Background jobs of the wealth domain: ids only, never a credential; each calls a service.

The sync jobs are queued here (`enqueue_sync`) and by `services.answer_challenge`; what they
run is `sync.sync`.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import current_app
from rq import Retry
from sqlalchemy.orm import Session

from app.core import uow
from app.core.db import utcnow
from app.core.extensions import db
from app.core.queue import enqueue, task
from app.wealth import rates
from app.wealth.models import LinkedAccount
from app.wealth.reports import queue_weekly_reports
from app.wealth.sync import live_linked_account_ids, sync

log = logging.getLogger("flowlet.wealth")

SYNC_QUEUE = "sync"


def sync_retry() -> Retry | int:
    """Exponential backoff: `base × 4^n` seconds for each of the configured retries."""
    config = current_app.config
    base = int(config["WEALTH_SYNC_RETRY_BASE_SECONDS"])
    retries = int(config["WEALTH_SYNC_RETRIES"])
    return Retry(max=retries, interval=[base * 4**n for n in range(retries)]) if retries else 0


def enqueue_sync(session: Session, link: LinkedAccount, *, owner_id: int) -> str:
    """Queue a sync of `link` in `session`'s transaction; it becomes the link's last job."""
    job_id = enqueue(
        session,
        sync_linked_account,
        link.id,
        queue=SYNC_QUEUE,
        retry=sync_retry(),
        owner_id=owner_id,
    )
    link.last_job_id = job_id
    return job_id


def enqueue_daily_syncs(session: Session) -> int:
    """Queue one sync job per live linked account (the daily schedule); returns how many."""
    count = 0
    for link_id in live_linked_account_ids(session):
        link = session.get(LinkedAccount, link_id)
        if link is None:  # unlinked since the list was read
            continue
        enqueue_sync(session, link, owner_id=link.user_id)
        count += 1
    uow.commit(session)
    log.info("queued %d daily broker syncs", count)
    return count


@task
def sync_linked_account(linked_account_id: int) -> dict[str, Any]:
    """Sync one linked account (retried with backoff when the broker fails)."""
    try:
        return sync(db.session(), linked_account_id=linked_account_id)
    finally:
        db.session.remove()


@task
def complete_linked_account_2fa(linked_account_id: int) -> dict[str, Any]:
    """Send the customer's 2FA answer (sealed in the database) and finish the sync."""
    try:
        return sync(db.session(), linked_account_id=linked_account_id, answer_2fa=True)
    finally:
        db.session.remove()


@task
def sync_all_linked_accounts() -> int:
    """The daily sync: queue one job per live linked account."""
    try:
        return enqueue_daily_syncs(db.session())
    finally:
        db.session.remove()


@task
def fetch_exchange_rates(days_back: int = 3) -> int:
    """Load the last few days' exchange rates (a missed day is picked up the next time)."""
    today = utcnow().date()
    try:
        return rates.backfill(db.session(), start=today - timedelta(days=days_back), end=today)
    finally:
        db.session.remove()


@task
def send_weekly_wealth_reports() -> int:
    """Queue the weekly wealth e-mail to every customer with a linked account."""
    try:
        return queue_weekly_reports(db.session())
    finally:
        db.session.remove()
