"""The double-entry ledger: journal transactions, entries, holds, posting and verification."""

from __future__ import annotations

from flask import Flask

from app.core.schedule import Entry, schedule_of


def init_app(app: Flask) -> None:
    """The ledger's periodic job: holds past their expiry are released every minute."""
    schedule_of(app).add(
        Entry("hold-expiry", "app.ledger.tasks.expire_holds", "maintenance", interval=60)
    )
