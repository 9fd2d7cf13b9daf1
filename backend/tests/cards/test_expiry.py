"""Holds that are neither captured nor reversed expire through the engine's job on a real RQ
worker, and their authorizations with them."""

from __future__ import annotations

import pytest

from app.core import uow
from app.core.queue import enqueue
from app.ledger import tasks
from tests.cards.conftest import CARDS, NETWORK, authorize, issue, purchase, reveal
from tests.money_helpers import assert_ledger_consistent, balance_of, post

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _enqueue_expiry(app) -> None:
    from app.core.extensions import db

    with app.app_context():
        enqueue(db.session, tasks.expire_holds)
        uow.commit(db.session)
        db.session.remove()


def test_an_unused_hold_expires_and_releases_the_funds(
    app, client, customer, processor_headers, run_jobs, monkeypatch
):
    card = issue(client, customer)
    secret = reveal(app, client, customer, card["id"])
    monkeypatch.setitem(app.config, "CARD_AUTHORIZATION_HOLD_SECONDS", 0)
    stale = authorize(client, processor_headers, purchase(secret, amount="25.00")).json
    monkeypatch.setitem(app.config, "CARD_AUTHORIZATION_HOLD_SECONDS", 3600)
    live = authorize(client, processor_headers, purchase(secret, amount="5.00")).json
    assert balance_of(app, customer.account_id) == (50_000, 3_000)
    _enqueue_expiry(app)
    run_jobs()
    assert balance_of(app, customer.account_id) == (50_000, 500)
    listed = client.get(f"{CARDS}/{card['id']}/authorizations", headers=customer.headers).json
    statuses = {a["authorization_id"]: a["status"] for a in listed["items"]}
    assert statuses == {
        stale["authorization_id"]: "expired",
        live["authorization_id"]: "authorized",
    }
    late = post(
        client, f"{NETWORK}/{stale['authorization_id']}/capture", processor_headers, {"amount": "1"}
    )
    assert late.status_code == 409
    history = client.get(
        "/api/v1/transactions?type=card_authorization", headers=customer.headers
    ).json["items"]
    assert {(t["status"], t["failure_reason"]) for t in history} == {
        ("rejected", "expired"),
        ("pending", None),
    }
    # Running it again changes nothing.
    _enqueue_expiry(app)
    run_jobs()
    assert balance_of(app, customer.account_id) == (50_000, 500)
    assert_ledger_consistent(app)
