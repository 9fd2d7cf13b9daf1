"""The double-entry ledger: journal transactions, entries, holds, posting and verification."""

from __future__ import annotations

from flask import Flask

from app.core.schedule import Entry, schedule_of
from app.core.seeds import seeders
from app.ledger.seeds import seed_system_accounts


def init_app(app: Flask) -> None:
    """The ledger's periodic job (holds past their expiry are released every minute) and its
    reference data (the system accounts)."""
    seeders(app).add(reference=seed_system_accounts)
    schedule_of(app).add(
        Entry("hold-expiry", "app.ledger.tasks.expire_holds", "maintenance", interval=60)
    )
