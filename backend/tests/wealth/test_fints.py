"""The FinTS integration (python-fints) in a whole dialog with a local FinTS test bank."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from app.wealth.integrations import BrokerSettings, InvalidCredentials
from app.wealth.integrations.fints_bank import FinTSIntegration
from app.wealth.models import Broker
from tests.wealth.conftest import link, positions, snapshots
from tests.wealth.fints_server import BLZ, DEPOT_IBAN, GIRO_IBAN, PIN, FinTSBank

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def bank():
    with FinTSBank() as server:
        yield server


def _fints(bank, pin=PIN) -> FinTSIntegration:
    settings = BrokerSettings("test-bank", {"server": bank.url, "blz": BLZ})
    return FinTSIntegration(settings, {"login": "testuser", "pin": pin})


def test_dialog_lists_accounts_balances_and_depot_holdings(app, bank):
    with app.app_context():
        fints = _fints(bank)
        try:
            fints.authenticate()
            giro, depot = fints.accounts()
            assert (giro.ref, giro.name, giro.currency) == (GIRO_IBAN, "Girokonto", "EUR")
            assert (depot.ref, depot.name) == (DEPOT_IBAN, "Depot")
            assert fints.balance(giro).amount == Decimal("1234.56")
            assert fints.balance(depot).amount == Decimal("2166")
            assert fints.positions(giro) == []
            (sap,) = fints.positions(depot)
        finally:
            fints.close()
    assert (sap.isin, sap.name, sap.currency) == ("DE0007164600", "SAP SE", "EUR")
    assert (sap.quantity, sap.price, sap.value) == (
        Decimal("12"),
        Decimal("180.5"),
        Decimal("2166"),
    )
    # The bank parsed every request the client built, and the dialog was ended.
    assert bank.received[-6:] == ["HKSPA", "HKSAL", "HKSAL", "HKWPD", "HKWPD", "HKEND"]
    assert set(bank.pins) == {PIN}


def test_wrong_pin_is_refused_credentials(app, bank):
    with app.app_context():
        fints = _fints(bank, pin="99999")
        with pytest.raises(InvalidCredentials) as caught:
            fints.authenticate()
        fints.close()
    assert caught.value.message == "The bank refused the login or PIN."


def test_fints_bank_synced_through_the_api(client, customer, db_session, bank, sync_jobs):
    code = f"fints-{uuid.uuid4().hex[:8]}"
    sandbox_schema = {
        "type": "object",
        "required": ["login", "pin"],
        "properties": {"login": {"type": "string"}, "pin": {"type": "string"}},
        "additionalProperties": False,
    }
    db_session.add(
        Broker(
            code=code,
            name="Local FinTS Bank",
            integration_type="fints",
            country="DE",
            supports_2fa=True,
            credentials_schema=sandbox_schema,
            settings={"server": bank.url, "blz": BLZ},
        )
    )
    db_session.commit()
    body = link(client, customer, code, login="testuser", pin=PIN).get_json()
    sync_jobs()
    link_id = body["linked_account"]["id"]
    shown = client.get(f"/api/v1/linked-accounts/{link_id}", headers=customer.headers).get_json()
    assert shown["status"] == "active", shown["last_error"]
    depot, giro = snapshots(db_session, link_id)
    assert (giro.account_ref, giro.account_name, giro.balance) == (GIRO_IBAN, "Girokonto", 123456)
    assert (depot.account_name, depot.balance) == ("Depot", 216600)
    assert [(p.isin, p.value) for p in positions(db_session, depot.id)] == [
        ("DE0007164600", 216600)
    ]
