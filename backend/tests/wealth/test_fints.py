"""The FinTS integration (python-fints) in a whole dialog with a local FinTS test bank."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from app.wealth.integrations import BrokerSettings, InvalidCredentials, TwoFactorRequired
from app.wealth.integrations.fints_bank import FinTSIntegration
from tests.wealth.conftest import add_broker, link, positions, snapshots
from tests.wealth.fints_server import BLZ, DEPOT_IBAN, GIRO_IBAN, PIN, TAN, FinTSBank

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def bank():
    with FinTSBank() as server:
        yield server


@pytest.fixture
def tan_bank():
    """A bank that wants a TAN (two-step mechanism 942) before it opens the dialog."""
    with FinTSBank(tan_required=True) as server:
        yield server


def _fints_broker(db_session, bank) -> str:
    return add_broker(db_session, "fints", ("login", "pin"), {"server": bank.url, "blz": BLZ})


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


def _challenge(app, bank) -> TwoFactorRequired:
    with app.app_context():
        fints = _fints(bank)
        try:
            with pytest.raises(TwoFactorRequired) as caught:
                fints.authenticate()
        finally:
            fints.close()
    return caught.value


def test_a_tan_challenge_pauses_the_dialog_and_another_process_resumes_it(app, tan_bank):
    challenge = _challenge(app, tan_bank)
    assert challenge.challenge == "Bitte die per SMS gesendete TAN eingeben."
    assert sorted(challenge.state) == ["client", "dialog", "tan_request"]
    state = json.loads(json.dumps(challenge.state))  # what the vault seals and opens
    with app.app_context():
        later = _fints(tan_bank)  # a new client, as in the job that gets the TAN
        try:
            later.complete_2fa(state, TAN)
            assert [a.ref for a in later.accounts()] == [GIRO_IBAN, DEPOT_IBAN]
        finally:
            later.close()
    assert tan_bank.tans == [TAN]
    # Dialog opened with a TAN request (process 4), paused, resumed with the TAN (process 2).
    assert tan_bank.received[-6:] == ["HKIDN", "HKVVB", "HKTAN", "HKTAN", "HKSPA", "HKEND"]
    assert tan_bank.pending == set()


def test_a_wrong_tan_is_refused(app, tan_bank):
    state = json.loads(json.dumps(_challenge(app, tan_bank).state))
    with app.app_context():
        later = _fints(tan_bank)
        with pytest.raises(InvalidCredentials) as caught:
            later.complete_2fa(state, "000000")
        later.close()
    assert caught.value.message == "The bank refused the TAN."


def test_fints_bank_synced_through_the_api(client, customer, db_session, bank, sync_jobs):
    code = _fints_broker(db_session, bank)
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


def test_fints_tan_through_the_api_with_the_dialog_state_sealed(
    client, customer, db_session, tan_bank, sync_jobs
):
    code = _fints_broker(db_session, tan_bank)
    body = link(client, customer, code, login="testuser", pin=PIN).get_json()
    link_id = body["linked_account"]["id"]
    sync_jobs()
    shown = client.get(f"/api/v1/linked-accounts/{link_id}", headers=customer.headers).get_json()
    assert shown["status"] == "pending_auth", shown["last_error"]
    assert shown["challenge"] == "Bitte die per SMS gesendete TAN eingeben."
    response = client.post(
        f"/api/v1/linked-accounts/{link_id}/2fa", json={"code": TAN}, headers=customer.headers
    )
    assert response.status_code == 202
    sync_jobs()
    shown = client.get(f"/api/v1/linked-accounts/{link_id}", headers=customer.headers).get_json()
    assert shown["status"] == "active", shown["last_error"]
    assert [s.account_name for s in snapshots(db_session, link_id)] == ["Depot", "Girokonto"]
