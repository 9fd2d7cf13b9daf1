"""Helpers for the cards tests: a verified customer with money, cards, the card processor."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.factories import auth_headers, make_user
from tests.money_helpers import make_account, post

CARDS = "/api/v1/cards"
NETWORK = "/api/v1/card-network/authorizations"


@dataclass
class Customer:
    user: object
    headers: dict
    account_id: str


@pytest.fixture(autouse=True)
def _no_rate_limit_between_tests(app, monkeypatch):
    # Each test gets its own reveal budget (the limit itself is tested on its own).
    monkeypatch.setitem(app.config, "CARD_REVEAL_RATE_LIMIT", "1000 per hour")


def make_customer(app: Flask, db_session, *, balance: str = "500.00", **fields) -> Customer:
    fields.setdefault("kyc_status", "approved")
    user = make_user(db_session, **fields)
    account = make_account(db_session, user, balance=balance)
    return Customer(user, auth_headers(app, user), str(account.public_id))


@pytest.fixture
def customer(app, db_session) -> Customer:
    return make_customer(app, db_session)


@pytest.fixture
def processor_headers(app, db_session) -> dict:
    return auth_headers(app, make_user(db_session, role="card_processor"))


def issue(client: FlaskClient, who: Customer, card_type: str = "virtual", **extra) -> dict:
    response = post(
        client, CARDS, who.headers, {"account_id": who.account_id, "card_type": card_type, **extra}
    )
    assert response.status_code == 201, response.json
    return response.json


def reveal(app: Flask, client: FlaskClient, who: Customer, card_id: str) -> dict:
    headers = auth_headers(app, who.user, fresh=True)
    response = client.post(f"{CARDS}/{card_id}/reveal", headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def purchase(secret: dict, **overrides) -> dict:
    """An authorization request for a revealed card (home country, point of sale)."""
    body = {
        "pan": secret["pan"],
        "expiry_month": secret["expiry_month"],
        "expiry_year": secret["expiry_year"],
        "cvv": secret["cvv"],
        "amount": "10.00",
        "currency": "USD",
        "merchant_name": "Corner Shop",
        "mcc": "5411",
        "country": "DE",
        "channel": "pos",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def authorize(client: FlaskClient, headers: dict, body: dict, key: str | None = None):
    return post(client, NETWORK, headers, body, key=key or str(uuid.uuid4()))
