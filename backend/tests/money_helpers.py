"""Test helpers for the money domains: accounts with money, and JSON posts with a key."""

from __future__ import annotations

import threading
import uuid

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.auth.models import User
from app.core import uow
from app.core.audit import AuditLog
from app.core.money import parse_amount
from app.ledger.accounts import Account
from app.ledger.opening import open_account
from app.ledger.verify import verify
from app.transactions.deposits import deposit


def make_account(
    session,
    user: User,
    *,
    currency: str = "USD",
    account_type: str = "checking",
    balance: str | None = None,
    credit_limit: int = 0,
) -> Account:
    """Open an account for `user` (and deposit `balance` into it) through the services."""
    account = open_account(session, user=user, account_type=account_type, currency=currency)
    if credit_limit:
        account.credit_limit = credit_limit
        uow.commit(session)
    if balance is not None:
        deposit(
            session,
            user=user,
            account_id=account.public_id,
            amount=parse_amount(balance, currency),
            currency=currency,
        )
    return account


def own_transfer(app: Flask, session, *, amount: str = "1.00", balance: str = "100.00"):
    """A new customer with two accounts (the first funded), their bearer headers, the source
    account and the body of a transfer between the two."""
    from tests.factories import auth_headers, make_user

    user = make_user(session)
    headers = auth_headers(app, user)
    src = make_account(session, user, balance=balance)
    dst = make_account(session, user)
    return headers, src, transfer_body(src, dst, amount)


def transfer_body(src, dst, amount: str = "1.00") -> dict:
    """The JSON of a USD transfer between two accounts (or their public ids)."""
    return {
        "from_account_id": str(getattr(src, "public_id", src)),
        "to_account_id": str(getattr(dst, "public_id", dst)),
        "amount": amount,
        "currency": "USD",
    }


def send_transfer(client: FlaskClient, headers: dict, src, dst, amount: str = "1.00"):
    """POST that transfer with a fresh Idempotency-Key."""
    return post(client, "/api/v1/transactions/transfer", headers, transfer_body(src, dst, amount))


def post(client: FlaskClient, url: str, headers: dict, body, *, key: str | None = "auto"):
    """POST JSON with a fresh Idempotency-Key (or the one given; None sends none)."""
    headers = dict(headers)
    if key == "auto":
        key = str(uuid.uuid4())
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(url, json=body, headers=headers)


def balance_of(app: Flask, account_public_id) -> tuple[int, int]:
    """(balance, held) of an account, read fresh from the database."""
    from app.core.extensions import db

    with app.app_context():
        row = db.session.execute(
            sa.select(Account.balance, Account.held).where(
                Account.public_id == uuid.UUID(str(account_public_id))
            )
        ).one()
        db.session.remove()
        return row.balance, row.held


def assert_ledger_consistent(app: Flask) -> None:
    """`flask ledger verify` passes."""
    result = app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        from app.core.extensions import db

        assert verify(db.session).ok
        db.session.remove()


def audit_actions(app: Flask, resource_id) -> list[tuple[str, str]]:
    """(action, outcome) of the audit records about a resource, in order."""
    from app.core.extensions import db

    with app.app_context():
        rows = db.session.execute(
            sa.select(AuditLog.action, AuditLog.outcome)
            .where(AuditLog.resource_id == str(resource_id))
            .order_by(AuditLog.id)
        ).all()
        db.session.remove()
        return [tuple(r) for r in rows]


def run_threads(threads: list[threading.Thread]) -> None:
    """Start the threads and wait for each; one still running after two minutes has hung."""
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive(), "a request hung"
