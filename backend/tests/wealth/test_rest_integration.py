"""The generic REST integration against a local broker server: mapping, errors, 2FA."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.wealth.integrations import (
    BrokerError,
    BrokerSettings,
    InvalidCredentials,
    TwoFactorRequired,
)
from app.wealth.integrations.rest import RestIntegration
from tests.wealth.conftest import link, positions, snapshots
from tests.wealth.servers import BROKER_2FA_CODE, REST_SETTINGS_TEMPLATE

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _integration(server, **credentials) -> RestIntegration:
    settings = {"base_url": server.url, **REST_SETTINGS_TEMPLATE}
    return RestIntegration(BrokerSettings("local", settings), credentials)


def test_maps_accounts_balance_and_positions(broker_server):
    rest = _integration(broker_server, username="erin", password="pw")
    rest.authenticate()
    (account,) = rest.accounts()
    assert (account.ref, account.name, account.currency) == ("ACC-1", "Brokerage", "USD")
    balance = rest.balance(account)
    assert balance.amount == Decimal("15234.50") and balance.currency == "USD"
    assert isinstance(balance.amount, Decimal)
    aapl, vwce = rest.positions(account)
    assert (aapl.symbol, aapl.isin, aapl.asset_class) == ("AAPL", "US0378331005", "equity")
    assert (aapl.quantity, aapl.price, aapl.value) == (
        Decimal("10"),
        Decimal("190.12"),
        Decimal("1901.20"),
    )
    assert aapl.cost_basis == Decimal("1500.00")
    assert (vwce.asset_class, vwce.quantity, vwce.cost_basis) == ("fund", Decimal("2.5"), None)
    assert ("POST", "/login") in broker_server.state["requests"]


def test_refused_login_is_invalid_credentials_with_the_brokers_message(broker_server):
    rest = _integration(broker_server, username="erin", password="bad")
    with pytest.raises(InvalidCredentials) as caught:
        rest.authenticate()
    assert caught.value.message == "The broker answered 401: Invalid user or password"
    assert caught.value.retryable is False


def test_server_error_is_a_retryable_broker_error(broker_server):
    broker_server.state["down"] = True
    rest = _integration(broker_server, username="erin", password="pw")
    with pytest.raises(BrokerError) as caught:
        rest.authenticate()
    assert caught.value.message == "The broker answered 503: Scheduled maintenance"
    assert caught.value.retryable is True


def test_unreachable_broker_is_a_broker_error(broker_server):
    settings = {**REST_SETTINGS_TEMPLATE, "base_url": "http://127.0.0.1:9", "timeout": 2}
    rest = RestIntegration(BrokerSettings("x", settings), {"username": "a", "password": "b"})
    with pytest.raises(BrokerError) as caught:
        rest.authenticate()
    assert caught.value.message == "The broker could not be reached (ConnectionError)."


def test_2fa_challenge_then_code(broker_server):
    rest = _integration(broker_server, username="2fa-erin", password="pw")
    with pytest.raises(TwoFactorRequired) as caught:
        rest.authenticate()
    assert caught.value.challenge == "Enter the code we sent by SMS"
    assert caught.value.state == {"challenge_id": "ch-77"}
    later = _integration(broker_server, username="2fa-erin", password="pw")
    with pytest.raises(InvalidCredentials):
        later.complete_2fa(caught.value.state, "000000")
    later.complete_2fa(caught.value.state, BROKER_2FA_CODE)
    assert [a.ref for a in later.accounts()] == ["ACC-1"]


def test_rest_broker_synced_through_the_api_with_2fa(
    client, customer, db_session, rest_broker, broker_server, sync_jobs
):
    body = link(client, customer, rest_broker, username="2fa-frank", password="pw").get_json()
    link_id = body["linked_account"]["id"]
    sync_jobs()
    shown = client.get(f"/api/v1/linked-accounts/{link_id}", headers=customer.headers).get_json()
    assert shown["status"] == "pending_auth"
    assert shown["challenge"] == "Enter the code we sent by SMS"

    response = client.post(
        f"/api/v1/linked-accounts/{link_id}/2fa",
        json={"code": BROKER_2FA_CODE},
        headers=customer.headers,
    )
    assert response.status_code == 202
    sync_jobs()
    shown = client.get(f"/api/v1/linked-accounts/{link_id}", headers=customer.headers).get_json()
    assert shown["status"] == "active"
    (snap,) = snapshots(db_session, link_id)
    assert (snap.account_ref, snap.balance, snap.currency) == ("ACC-1", 1523450, "USD")
    assert snap.base_currency == "EUR" and snap.rate < 1  # USD → EUR
    assert [(p.symbol, p.value, p.cost_basis) for p in positions(db_session, snap.id)] == [
        ("AAPL", 190120, 150000),
        ("VWCE", 30100, None),
    ]


def test_rest_broker_error_through_the_api_names_the_brokers_message(
    client, customer, rest_broker, broker_server, sync_jobs
):
    broker_server.state["down"] = True
    body = link(client, customer, rest_broker, username="gina", password="pw").get_json()
    sync_jobs()
    shown = client.get(
        f"/api/v1/linked-accounts/{body['linked_account']['id']}", headers=customer.headers
    ).get_json()
    assert shown["status"] == "error"
    assert shown["last_error"] == "The broker answered 503: Scheduled maintenance"


def test_a_failed_2fa_answer_is_retried_with_the_sealed_code(
    client, customer, rest_broker, broker_server, sync_jobs
):
    body = link(client, customer, rest_broker, username="2fa-iris", password="pw").get_json()
    link_id = body["linked_account"]["id"]
    sync_jobs()
    broker_server.state["fail_2fa"] = 1
    job_id = client.post(
        f"/api/v1/linked-accounts/{link_id}/2fa",
        json={"code": BROKER_2FA_CODE},
        headers=customer.headers,
    ).get_json()["job_id"]
    sync_jobs()
    assert broker_server.state["fail_2fa"] == 0
    job = client.get(f"/api/v1/jobs/{job_id}", headers=customer.headers).get_json()
    assert job["status"] == "finished" and job["result"]["status"] == "active"
    shown = client.get(f"/api/v1/linked-accounts/{link_id}", headers=customer.headers).get_json()
    assert (shown["status"], shown["last_error"], shown["challenge"]) == ("active", None, None)


def test_an_answer_that_cannot_be_read_marks_error_and_retries(
    client, customer, rest_broker, broker_server, sync_jobs
):
    broker_server.state["garbled"] = True
    body = link(client, customer, rest_broker, username="jack", password="pw").get_json()
    sync_jobs()
    shown = client.get(
        f"/api/v1/linked-accounts/{body['linked_account']['id']}", headers=customer.headers
    ).get_json()
    assert (shown["status"], shown["last_error"]) == (
        "error",
        "The broker's answer has no valid balance.",
    )
    job = client.get(f"/api/v1/jobs/{body['job_id']}", headers=customer.headers).get_json()
    assert job["status"] == "failed"
    balance_calls = [r for r in broker_server.state["requests"] if r[1].endswith("/balance")]
    assert len(balance_calls) == 4  # the first run and three retries
