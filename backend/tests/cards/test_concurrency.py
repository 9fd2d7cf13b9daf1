"""Concurrent card traffic on real PostgreSQL through the HTTP stack: limits and balances hold,
and the ledger balances afterwards."""

from __future__ import annotations

import random
import threading
import uuid

import pytest

from tests.cards.conftest import CARDS, NETWORK, authorize, issue, make_customer, purchase, reveal
from tests.money_helpers import assert_ledger_consistent, balance_of, post, run_threads

pytestmark = pytest.mark.postgres

TRANSFER = "/api/v1/transactions/transfer"


@pytest.fixture(autouse=True)
def _no_velocity_rule(app, monkeypatch):
    monkeypatch.setitem(app.config, "FRAUD_VELOCITY_MAX", 10_000)


def _storm(app, processor_headers, secret, n: int = 30, amount: str = "10.00") -> list[dict]:
    barrier = threading.Barrier(n)
    answers: list[dict] = []

    def one() -> None:
        client = app.test_client()
        barrier.wait()
        response = authorize(client, processor_headers, purchase(secret, amount=amount))
        assert response.status_code == 200, response.json
        answers.append(response.json)

    run_threads([threading.Thread(target=one) for _ in range(n)])
    return answers


def test_thirty_concurrent_authorizations_never_pass_the_daily_limit(
    app, client, customer, processor_headers
):
    card = issue(client, customer)
    limits = {
        "daily_limit": "100.00",
        "blocked_mccs": [],
        "allowed_countries": [],
        "online_enabled": True,
        "atm_enabled": True,
        "contactless_enabled": True,
        "international_enabled": True,
    }
    assert (
        client.put(f"{CARDS}/{card['id']}/controls", headers=customer.headers, json=limits)
    ).status_code == 200
    answers = _storm(app, processor_headers, reveal(app, client, customer, card["id"]))
    assert sum(a["approved"] for a in answers) == 10
    assert {a["decline_reason"] for a in answers if not a["approved"]} == {"limit_exceeded"}
    assert balance_of(app, customer.account_id) == (50_000, 10_000)
    assert_ledger_consistent(app)


def test_thirty_concurrent_authorizations_never_pass_the_balance(
    app, client, db_session, processor_headers
):
    poor = make_customer(app, db_session, balance="50.00")
    card = issue(client, poor)
    answers = _storm(app, processor_headers, reveal(app, client, poor, card["id"]))
    assert sum(a["approved"] for a in answers) == 5
    assert {a["decline_reason"] for a in answers if not a["approved"]} == {"insufficient_funds"}
    assert balance_of(app, poor.account_id) == (5_000, 5_000)
    assert_ledger_consistent(app)


def test_a_mixed_concurrent_run_leaves_the_ledger_balanced(
    app, client, db_session, processor_headers
):
    people = [make_customer(app, db_session, balance="300.00") for _ in range(3)]
    secrets = []
    for who in people:
        for card_type in ("virtual", "virtual"):
            secrets.append(reveal(app, client, who, issue(client, who, card_type)["id"]))
    approved: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(24)

    def shopper(i: int) -> None:
        rng = random.Random(i)
        local = app.test_client()
        barrier.wait()
        for _ in range(4):
            secret = secrets[rng.randrange(len(secrets))]
            cents = rng.randrange(100, 4000)
            answer = authorize(
                local,
                processor_headers,
                purchase(secret, amount=f"{cents // 100}.{cents % 100:02d}"),
            )
            assert answer.status_code == 200
            if answer.json["approved"]:
                with lock:
                    approved.append((answer.json["authorization_id"], cents))

    def settler(i: int) -> None:
        rng = random.Random(100 + i)
        local = app.test_client()
        barrier.wait()
        for _ in range(12):
            with lock:
                item = approved.pop(rng.randrange(len(approved))) if approved else None
            if item is None:
                continue
            auth_id, cents = item
            if rng.random() < 0.5:
                part = rng.randrange(1, cents + 1)
                response = post(
                    local,
                    f"{NETWORK}/{auth_id}/capture",
                    processor_headers,
                    {"amount": f"{part // 100}.{part % 100:02d}"},
                )
            else:
                response = post(local, f"{NETWORK}/{auth_id}/reverse", processor_headers, None)
            assert response.status_code == 200, response.json

    def payer(i: int) -> None:
        local = app.test_client()
        src, dst = people[i % 3], people[(i + 1) % 3]
        barrier.wait()
        for _ in range(3):
            response = post(
                local,
                TRANSFER,
                src.headers,
                {
                    "from_account_id": src.account_id,
                    "to_account_id": dst.account_id,
                    "amount": "7.00",
                    "currency": "USD",
                    "description": f"share {uuid.uuid4()}",
                },
            )
            if response.status_code != 201:
                assert response.json["error"]["code"] == "insufficient_funds"

    threads = [threading.Thread(target=shopper, args=(i,)) for i in range(12)]
    threads += [threading.Thread(target=settler, args=(i,)) for i in range(6)]
    threads += [threading.Thread(target=payer, args=(i,)) for i in range(6)]
    run_threads(threads)
    total = sum(balance_of(app, who.account_id)[0] for who in people)
    assert total <= 90_000
    for who in people:
        balance, held = balance_of(app, who.account_id)
        assert balance - held >= 0
    assert_ledger_consistent(app)
