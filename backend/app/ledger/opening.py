"""Opening a customer account: its number, its IBAN (when the bank has an IBAN country), audited."""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from flask import current_app
from schwifty import IBAN
from sqlalchemy.orm import Session

from app.core import audit, uow
from app.core.errors import ValidationError
from app.ledger.accounts import Account, AccountStatus
from app.ledger.owners import Customer


def _new_account_number(session: Session) -> str:
    while True:
        number = f"{secrets.randbelow(10**10):010d}"
        if session.scalar(sa.select(Account.id).where(Account.account_number == number)) is None:
            return number


def _iban_for(number: str) -> str | None:
    country = current_app.config["IBAN_COUNTRY"]
    if not country:
        return None
    iban = IBAN.generate(
        country, bank_code=current_app.config["IBAN_BANK_CODE"], account_code=number
    )
    iban.validate()
    return str(iban.compact)


def open_account(
    session: Session, *, user: Customer, account_type: str, currency: str, name: str | None = None
) -> Account:
    """Open an account of `account_type` in `currency` for `user`."""
    if currency not in current_app.config["SUPPORTED_CURRENCIES"]:
        raise ValidationError(
            "This currency is not offered.",
            details={
                "currency": [f"Supported: {', '.join(current_app.config['SUPPORTED_CURRENCIES'])}."]
            },
        )
    number = _new_account_number(session)
    account = Account(
        user_id=user.id,
        account_number=number,
        iban=_iban_for(number),
        account_type=account_type,
        currency=currency,
        name=name or f"{account_type.title()} {currency}",
        balance=0,
        held=0,
        credit_limit=0,
        status=AccountStatus.ACTIVE.value,
    )
    session.add(account)
    session.flush()
    audit.record(
        session,
        "account.opened",
        resource_type="account",
        resource=account,
        changes={"account_type": account_type, "currency": currency, "account_number": number},
    )
    uow.commit(session)
    return account
