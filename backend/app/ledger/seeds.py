"""Reference data of the ledger: the bank's system accounts (`init-db`)."""

from __future__ import annotations

from flask import current_app
from sqlalchemy.orm import Session

from app.ledger.accounts import SystemAccount
from app.ledger.posting import system_account


def seed_system_accounts(session: Session) -> None:
    """One settlement, card clearing, fees and suspense account per supported currency."""
    for currency in current_app.config["SUPPORTED_CURRENCIES"]:
        for code in SystemAccount:
            system_account(session, code, currency)
