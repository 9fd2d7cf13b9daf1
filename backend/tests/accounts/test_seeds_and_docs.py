"""Seeders, the idempotency purge command and the OpenAPI document of the money endpoints."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.auth.users import get_user_by_email
from app.ledger.accounts import Account, SystemAccount

pytestmark = pytest.mark.postgres


def test_system_accounts_are_seeded_for_every_currency(app, db_session):
    rows = db_session.execute(
        sa.select(Account.system_code, Account.currency).where(Account.system_code.is_not(None))
    ).all()
    expected = {(c.value, cur) for c in SystemAccount for cur in app.config["SUPPORTED_CURRENCIES"]}
    assert expected <= set(rows)
    assert len(rows) == len(set(rows))


def test_seed_demo_twice_gives_the_demo_customers_funded_accounts_once(app, db_session):
    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["seed-demo"])
        assert result.exit_code == 0, result.output
    alice = get_user_by_email(db_session, "alice@flowlet.test")
    balances = db_session.scalars(
        sa.select(Account.balance).where(Account.user_id == alice.id).order_by(Account.id)
    ).all()
    assert balances == [250000, 1000000]
    assert runner.invoke(args=["ledger", "verify"]).exit_code == 0


def test_purge_command(app):
    result = app.test_cli_runner().invoke(args=["ledger", "purge-idempotency-keys"])
    assert result.exit_code == 0 and "purged" in result.output


def test_openapi_documents_the_money_endpoints(client):
    spec = client.get("/openapi.json").json
    for path in (
        "/api/v1/accounts/{account_id}/statement",
        "/api/v1/transactions/transfer",
        "/api/v1/compliance/transactions/{transaction_id}/approve",
        "/api/v1/admin/accounts/{account_id}",
    ):
        assert path in spec["paths"], path
    transfer = spec["paths"]["/api/v1/transactions/transfer"]["post"]
    assert transfer["summary"].startswith("Transfer money")
    assert "201" in transfer["responses"]
