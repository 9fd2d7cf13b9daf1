"""The card network: authorize, capture, reverse; every decline reason; holds on the ledger."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from app.cards.models import Card
from app.core import uow
from tests.cards.conftest import CARDS, NETWORK, authorize, issue, purchase, reveal
from tests.money_helpers import assert_ledger_consistent, audit_actions, balance_of, post

pytestmark = pytest.mark.postgres

CONTROLS = {
    "per_transaction_limit": None,
    "daily_limit": None,
    "monthly_limit": None,
    "blocked_mccs": [],
    "allowed_countries": [],
    "online_enabled": True,
    "atm_enabled": True,
    "contactless_enabled": True,
    "international_enabled": True,
}


@pytest.fixture
def card(app, client, customer):
    issued = issue(client, customer)
    return issued, reveal(app, client, customer, issued["id"])


def _set_controls(client, customer, card_id, **changes):
    response = client.put(
        f"{CARDS}/{card_id}/controls", headers=customer.headers, json={**CONTROLS, **changes}
    )
    assert response.status_code == 200, response.json


def _declined(client, processor_headers, body, reason):
    response = authorize(client, processor_headers, body)
    assert response.status_code == 200, response.json
    assert response.json["approved"] is False
    assert response.json["decline_reason"] == reason
    assert uuid.UUID(response.json["authorization_id"])
    return response.json


def test_an_approval_holds_the_funds_and_a_capture_posts_them(
    app, client, customer, processor_headers, card
):
    _, secret = card
    approved = authorize(client, processor_headers, purchase(secret, amount="40.00"))
    assert approved.status_code == 200
    assert approved.json["approved"] is True and approved.json["decline_reason"] is None
    assert approved.json["status"] == "authorized"
    assert balance_of(app, customer.account_id) == (50_000, 4_000)
    account = client.get(f"/api/v1/accounts/{customer.account_id}", headers=customer.headers)
    assert account.json["available_balance"] == "460.00"
    auth_id = approved.json["authorization_id"]
    captured = post(client, f"{NETWORK}/{auth_id}/capture", processor_headers, {"amount": "40.00"})
    assert captured.status_code == 200, captured.json
    assert captured.json["status"] == "captured" and captured.json["captured_amount"] == "40.00"
    assert balance_of(app, customer.account_id) == (46_000, 0)
    # The held authorization is what posts: the history's pending `card_authorization` is
    # now a completed `card_capture`, customer → card clearing.
    history = client.get("/api/v1/transactions", headers=customer.headers).json["items"]
    assert [(t["type"], t["status"]) for t in history[:2]] == [
        ("card_capture", "completed"),
        ("deposit", "completed"),
    ]
    assert history[0]["amount"] == "40.00" and history[0]["description"] == "Card: Corner Shop"
    assert sorted(e["direction"] for e in history[0]["entries"]) == ["credit", "debit"]
    assert actions_of(app, auth_id) == ["card.authorization", "card.capture"]
    assert_ledger_consistent(app)


def actions_of(app, resource_id) -> list[str]:
    return [a for a, _ in audit_actions(app, resource_id)]


def test_a_partial_capture_releases_the_rest_and_a_second_capture_is_refused(
    app, client, customer, processor_headers, card
):
    _, secret = card
    auth_id = authorize(client, processor_headers, purchase(secret, amount="80.00")).json[
        "authorization_id"
    ]
    url = f"{NETWORK}/{auth_id}/capture"
    above = post(client, url, processor_headers, {"amount": "80.01"})
    assert above.status_code == 422
    assert above.json["error"]["code"] == "amount_exceeds_authorization"
    assert balance_of(app, customer.account_id) == (50_000, 8_000)
    partial = post(client, url, processor_headers, {"amount": "25.50"})
    assert partial.status_code == 200
    assert balance_of(app, customer.account_id) == (47_450, 0)
    second = post(client, url, processor_headers, {"amount": "1.00"})
    assert second.status_code == 409 and second.json["error"]["code"] == "conflict"
    reverse = post(client, f"{NETWORK}/{auth_id}/reverse", processor_headers, None)
    assert reverse.status_code == 409
    assert balance_of(app, customer.account_id) == (47_450, 0)
    assert_ledger_consistent(app)


def test_a_reversal_releases_the_hold_once(app, client, customer, processor_headers, card):
    _, secret = card
    auth_id = authorize(client, processor_headers, purchase(secret, amount="30.00")).json[
        "authorization_id"
    ]
    url = f"{NETWORK}/{auth_id}/reverse"
    first = post(client, url, processor_headers, None, key="rev-1")
    assert first.status_code == 200 and first.json["status"] == "reversed"
    assert balance_of(app, customer.account_id) == (50_000, 0)
    replay = post(client, url, processor_headers, None, key="rev-1")
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert post(client, url, processor_headers, None).status_code == 409
    capture = post(client, f"{NETWORK}/{auth_id}/capture", processor_headers, {"amount": "1.00"})
    assert capture.status_code == 409
    history = client.get("/api/v1/transactions?type=card_authorization", headers=customer.headers)
    assert history.json["items"][0]["status"] == "rejected"
    assert history.json["items"][0]["failure_reason"] == "reversed by the card network"
    assert_ledger_consistent(app)


def test_the_same_idempotency_key_never_holds_twice(app, client, customer, processor_headers, card):
    _, secret = card
    body = purchase(secret, amount="20.00")
    first = authorize(client, processor_headers, body, key="net-1")
    again = authorize(client, processor_headers, body, key="net-1")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_data() == first.get_data()
    assert balance_of(app, customer.account_id) == (50_000, 2_000)
    other = authorize(client, processor_headers, {**body, "amount": "21.00"}, key="net-1")
    assert other.status_code == 422 and other.json["error"]["code"] == "idempotency_key_reused"
    assert post(client, NETWORK, processor_headers, body, key=None).status_code == 400


def test_card_status_declines(app, client, customer, processor_headers, card):
    issued, secret = card
    url = f"{CARDS}/{issued['id']}"
    client.post(f"{url}/freeze", headers=customer.headers)
    _declined(client, processor_headers, purchase(secret), "card_frozen")
    client.post(f"{url}/unfreeze", headers=customer.headers)
    post(client, f"{url}/cancel", customer.headers, {"reason": "lost", "replace": False})
    _declined(client, processor_headers, purchase(secret), "card_cancelled")
    physical = issue(client, customer, "physical")
    physical_secret = reveal(app, client, customer, physical["id"])
    _declined(client, processor_headers, purchase(physical_secret), "card_inactive")
    assert balance_of(app, customer.account_id) == (50_000, 0)


def test_expiry_and_cvv_declines(app, client, customer, processor_headers, card):
    issued, secret = card
    wrong_cvv = f"{(int(secret['cvv']) + 1) % 1000:03d}"
    _declined(client, processor_headers, purchase(secret, cvv=wrong_cvv), "invalid_cvv")
    _declined(
        client,
        processor_headers,
        purchase(secret, expiry_year=secret["expiry_year"] + 1),
        "expired_card",
    )
    # Without a CVV (a card-present payment) the CVV is not checked.
    assert authorize(client, processor_headers, purchase(secret, cvv=None)).json["approved"]
    from app.core.extensions import db

    with app.app_context():
        db.session.execute(
            sa.update(Card).where(Card.public_id == issued["id"]).values(expiry_year=2020)
        )
        uow.commit(db.session)
        db.session.remove()
    _declined(client, processor_headers, purchase(secret, expiry_year=2020), "expired_card")
    assert (
        client.get(f"{CARDS}/{issued['id']}", headers=customer.headers).json["status"] == "expired"
    )


def test_control_declines(app, client, customer, processor_headers, card):
    issued, secret = card
    card_id = issued["id"]
    _set_controls(client, customer, card_id, per_transaction_limit="50.00")
    _declined(client, processor_headers, purchase(secret, amount="50.01"), "limit_exceeded")
    _set_controls(client, customer, card_id, daily_limit="30.00")
    assert authorize(client, processor_headers, purchase(secret, amount="20.00")).json["approved"]
    _declined(client, processor_headers, purchase(secret, amount="10.01"), "limit_exceeded")
    _set_controls(client, customer, card_id, monthly_limit="25.00")
    _declined(client, processor_headers, purchase(secret, amount="5.01"), "limit_exceeded")
    _set_controls(client, customer, card_id, blocked_mccs=["7995"])
    _declined(client, processor_headers, purchase(secret, mcc="7995"), "mcc_blocked")
    _set_controls(client, customer, card_id, allowed_countries=["DE"])
    _declined(client, processor_headers, purchase(secret, country="FR"), "country_blocked")
    _set_controls(client, customer, card_id, international_enabled=False)
    _declined(client, processor_headers, purchase(secret, country="US"), "country_blocked")
    assert authorize(client, processor_headers, purchase(secret, country="DE")).json["approved"]
    for channel, switch in (
        ("online", "online_enabled"),
        ("atm", "atm_enabled"),
        ("contactless", "contactless_enabled"),
    ):
        _set_controls(client, customer, card_id, **{switch: False})
        _declined(client, processor_headers, purchase(secret, channel=channel), "channel_disabled")
    # Checks run in order: a blocked category over the limit is declined for the limit.
    _set_controls(client, customer, card_id, per_transaction_limit="1.00", blocked_mccs=["5411"])
    _declined(client, processor_headers, purchase(secret), "limit_exceeded")


def test_insufficient_funds_and_a_frozen_account_decline(
    app, client, customer, processor_headers, card
):
    _, secret = card
    _declined(client, processor_headers, purchase(secret, amount="500.01"), "insufficient_funds")
    assert authorize(client, processor_headers, purchase(secret, amount="500.00")).json["approved"]
    _declined(client, processor_headers, purchase(secret, amount="0.01"), "insufficient_funds")
    assert balance_of(app, customer.account_id) == (50_000, 50_000)
    assert_ledger_consistent(app)


def test_a_decline_is_recorded_for_the_customer_and_the_officers(
    app, client, customer, processor_headers, card
):
    issued, secret = card
    declined = _declined(
        client, processor_headers, purchase(secret, amount="999.00"), "insufficient_funds"
    )
    mine = client.get(f"{CARDS}/{issued['id']}/authorizations", headers=customer.headers).json
    entry = mine["items"][0]
    assert entry["authorization_id"] == declined["authorization_id"]
    assert (entry["approved"], entry["decline_reason"], entry["merchant_name"]) == (
        False,
        "insufficient_funds",
        "Corner Shop",
    )
    assert entry["amount"] == "999.00" and entry["created_at"].endswith("Z")
    history = client.get("/api/v1/transactions", headers=customer.headers).json["items"][0]
    assert (history["type"], history["status"], history["failure_reason"]) == (
        "card_authorization",
        "rejected",
        "insufficient_funds",
    )
    assert history["entries"] == []
    from app.core.audit import AuditLog
    from app.core.extensions import db

    with app.app_context():
        record = db.session.scalars(
            sa.select(AuditLog).where(AuditLog.resource_id == declined["authorization_id"])
        ).one()
        db.session.remove()
    assert (record.action, record.outcome, record.actor_role) == (
        "card.authorization",
        "failure",
        "card_processor",
    )
    assert record.changes["decline_reason"] == "insufficient_funds"
    assert record.changes["card_id"] == issued["id"] and record.changes["last4"] == issued["last4"]
    assert record.occurred_at is not None and record.actor_id is not None


def test_unknown_cards_and_foreign_currencies_are_errors_not_declines(
    client, processor_headers, card
):
    _, secret = card
    unknown = authorize(client, processor_headers, purchase(secret, pan="4000120000000006"))
    assert unknown.status_code == 404 and unknown.json["error"]["code"] == "not_found"
    euro = authorize(client, processor_headers, purchase(secret, currency="EUR"))
    assert euro.status_code == 422 and euro.json["error"]["code"] == "currency_mismatch"


def test_only_the_card_processor_may_call_the_network(client, customer, card):
    _, secret = card
    response = authorize(client, customer.headers, purchase(secret))
    assert response.status_code == 403


def test_validation_errors_never_echo_the_card_number(client, processor_headers, card):
    _, secret = card
    body = purchase(secret, amount=10, mcc="54", channel="telepathy")
    response = authorize(client, processor_headers, body)
    assert response.status_code == 422
    assert {"amount", "mcc", "channel"} <= set(response.json["error"]["details"])
    assert secret["pan"] not in response.get_data(as_text=True)


def test_the_fraud_rules_decline_what_they_would_hold_for_review(
    app, client, db_session, processor_headers
):
    from app.core.db import utcnow
    from tests.cards.conftest import make_customer

    # A password changed a moment ago: the first payment after it scores as a takeover would.
    who = make_customer(app, db_session, password_changed_at=utcnow())
    issued = issue(client, who)
    secret = reveal(app, client, who, issued["id"])
    _declined(client, processor_headers, purchase(secret), "suspected_fraud")
    assert balance_of(app, who.account_id) == (50_000, 0)
    assert_ledger_consistent(app)


@pytest.fixture
def review_policy(app):
    """A policy (as an AML rule might be) that holds every card authorization for review."""
    from app.ledger import engine, hooks

    engine.register_policy(
        app,
        "test_review_all_cards",
        lambda ctx: engine.Review("test_rule", 80, "test"),
        kinds=("card_authorization",),
    )
    yield
    hooks.of(app).remove("test_review_all_cards")


def test_a_payment_a_policy_holds_for_review_is_declined_and_released(
    app, client, customer, processor_headers, card, review_policy
):
    issued, secret = card
    declined = _declined(client, processor_headers, purchase(secret), "suspected_fraud")
    assert balance_of(app, customer.account_id) == (50_000, 0)
    listed = client.get(f"{CARDS}/{issued['id']}/authorizations", headers=customer.headers).json
    assert [(a["authorization_id"], a["status"]) for a in listed["items"]] == [
        (declined["authorization_id"], "declined")
    ]
    history = client.get("/api/v1/transactions", headers=customer.headers).json["items"][0]
    assert (history["type"], history["status"], history["failure_reason"]) == (
        "card_authorization",
        "rejected",
        "held for review",
    )
    assert history["risk_rules"] == ["test_rule"]
    assert ("card.authorization_declined_for_review", "failure") in audit_actions(
        app, declined["authorization_id"]
    )
    capture = post(
        client,
        f"{NETWORK}/{declined['authorization_id']}/capture",
        processor_headers,
        {"amount": "1"},
    )
    assert capture.status_code == 409
    assert_ledger_consistent(app)


def test_a_card_is_frozen_after_five_wrong_cvvs_in_a_day(
    app, client, customer, processor_headers, card
):
    issued, secret = card
    wrong = f"{(int(secret['cvv']) + 1) % 1000:03d}"
    for _ in range(5):
        _declined(client, processor_headers, purchase(secret, cvv=wrong), "invalid_cvv")
    shown = client.get(f"{CARDS}/{issued['id']}", headers=customer.headers).json
    assert shown["status"] == "frozen"
    _declined(client, processor_headers, purchase(secret), "card_frozen")
    assert ("card.frozen", "success") in audit_actions(app, issued["id"])
    client.post(f"{CARDS}/{issued['id']}/unfreeze", headers=customer.headers)
    assert authorize(client, processor_headers, purchase(secret)).json["approved"] is True


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("expiry_month", 12.5),
        ("expiry_month", "12"),
        ("expiry_year", "2030"),
        ("expiry_year", 2030.0),
        ("amount", " 1.00"),
        ("amount", "1.00 "),
        ("amount", "1.00\n"),
        ("merchant_name", "   "),
        ("merchant_name", "\t\n"),
        ("country", "de"),
    ],
)
def test_loose_input_is_refused_before_anything_is_held(
    app, client, customer, processor_headers, card, field, value
):
    _, secret = card
    response = authorize(client, processor_headers, purchase(secret, **{field: value}))
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "validation_error"
    assert field in response.json["error"]["details"]
    assert balance_of(app, customer.account_id) == (50000, 0)


def test_a_capture_amount_with_spaces_is_refused(client, processor_headers, card):
    _, secret = card
    approved = authorize(client, processor_headers, purchase(secret)).json
    capture = post(
        client,
        f"{NETWORK}/{approved['authorization_id']}/capture",
        processor_headers,
        {"amount": " 5.00"},
    )
    assert capture.status_code == 422 and "amount" in capture.json["error"]["details"]


def test_the_merchant_name_is_kept_as_sent(client, processor_headers, card):
    _, secret = card
    body = purchase(secret, merchant_name=" Corner Shop ")
    response = authorize(client, processor_headers, body)
    assert response.status_code == 200 and response.json["approved"] is True
    assert response.json["merchant_name"] == " Corner Shop "
