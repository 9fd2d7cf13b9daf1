"""Linked broker accounts, wealth summary and exchange rates."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from app.core.products import products
from app.core.schedule import Entry, schedule_of
from app.core.seeds import seeders
from app.wealth import privacy
from app.wealth.brokers import seed_broker_catalogue
from app.wealth.cli import rates_cli
from app.wealth.models import LinkedAccount, LinkStatus
from app.wealth.seeds import seed_demo_linked_account


def linked_accounts(session: Session, user_id: int) -> int:
    """How many broker accounts the customer has linked and not deleted (risk rating)."""
    return (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(LinkedAccount)
            .where(
                LinkedAccount.user_id == user_id, LinkedAccount.status != LinkStatus.DELETED.value
            )
        )
        or 0
    )


def init_app(app: Flask) -> None:
    """The wealth section of the personal data, the count of a customer's linked accounts
    (products held), the periodic jobs and `flask rates …`."""
    privacy.register(app)
    products(app).add("linked_accounts", linked_accounts)
    schedule = schedule_of(app)
    schedule.add(
        Entry(
            "broker-sync-daily",
            "app.wealth.tasks.sync_all_linked_accounts",
            "sync",
            cron="0 3 * * *",
        )
    )
    schedule.add(
        Entry(
            "exchange-rates",
            "app.wealth.tasks.fetch_exchange_rates",
            "maintenance",
            cron="30 16 * * *",  # the ECB reference rates appear around 16:00 CET
        )
    )
    schedule.add(
        Entry(
            "weekly-wealth-report",
            "app.wealth.tasks.send_weekly_wealth_reports",
            "notifications",
            cron="0 7 * * 1",
        )
    )
    app.cli.add_command(rates_cli)
    seeders(app).add(reference=seed_broker_catalogue, demo=seed_demo_linked_account)
