"""Issuing, showing and managing cards as their holder sees it."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.cards import vault
from app.cards.models import Card
from app.core.audit import AuditLog
from tests.cards.conftest import CARDS, issue, make_customer, reveal
from tests.factories import auth_headers
from tests.money_helpers import audit_actions, post

pytestmark = pytest.mark.postgres


def test_a_virtual_card_is_active_and_shows_only_bin_and_last_four(app, client, customer):
    card = issue(client, customer)
    assert card["status"] == "active"
    assert card["card_type"] == "virtual"
    assert card["brand"] == "visa"
    assert card["account_id"] == customer.account_id
    assert re.fullmatch(r"400012\*{6}\d{4}", card["masked_pan"])
    assert card["masked_pan"].endswith(card["last4"])
    assert card["controls"]["daily_limit"] == "2500.00"
    assert card["controls"]["online_enabled"] is True
    assert "pan" not in card and "cvv" not in card
    secret = reveal(app, client, customer, card["id"])
    assert secret["pan"].startswith("400012") and secret["pan"].endswith(card["last4"])
    assert len(secret["pan"]) == 16 and vault.luhn_valid(secret["pan"])
    assert re.fullmatch(r"\d{3}", secret["cvv"])
    assert (secret["expiry_month"], secret["expiry_year"]) == (
        card["expiry_month"],
        card["expiry_year"],
    )
    listed = client.get(CARDS, headers=customer.headers).json["items"]
    assert [c["id"] for c in listed] == [card["id"]]


def test_issuing_needs_an_idempotency_key_and_replays_the_first_card(client, customer):
    body = {"account_id": customer.account_id, "card_type": "virtual"}
    missing = post(client, CARDS, customer.headers, body, key=None)
    assert missing.status_code == 400
    assert missing.json["error"]["code"] == "idempotency_key_required"
    first = post(client, CARDS, customer.headers, body, key="card-1")
    again = post(client, CARDS, customer.headers, body, key="card-1")
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_data() == first.get_data()
    assert len(client.get(CARDS, headers=customer.headers).json["items"]) == 1


def test_issuing_needs_verified_identity_and_an_own_account(app, client, db_session, customer):
    unverified = make_customer(app, db_session, kyc_status="none")
    response = post(
        client,
        CARDS,
        unverified.headers,
        {"account_id": unverified.account_id, "card_type": "virtual"},
    )
    assert response.status_code == 403
    assert response.json["error"]["code"] == "kyc_required"
    foreign = post(
        client,
        CARDS,
        unverified.headers,
        {"account_id": customer.account_id, "card_type": "virtual"},
    )
    assert foreign.status_code == 404


def test_another_customers_card_is_not_found(app, client, db_session, customer):
    card = issue(client, customer)
    other = make_customer(app, db_session)
    fresh = auth_headers(app, other.user, fresh=True)
    assert client.get(f"{CARDS}/{card['id']}", headers=other.headers).status_code == 404
    for action in ("reveal", "freeze", "unfreeze"):
        response = client.post(f"{CARDS}/{card['id']}/{action}", headers=fresh)
        assert response.status_code == 404, action
        assert response.json["error"]["code"] == "not_found"
    cancel = post(
        client, f"{CARDS}/{card['id']}/cancel", other.headers, {"reason": "lost", "replace": False}
    )
    assert cancel.status_code == 404
    pin = client.post(f"{CARDS}/{card['id']}/pin", headers=fresh, json={"pin": "4829"})
    assert pin.status_code == 404
    assert client.get(f"{CARDS}/{card['id']}", headers=customer.headers).json["status"] == "active"


def test_reveal_needs_a_fresh_token_and_is_audited_without_the_number(app, client, customer):
    card = issue(client, customer)
    stale = client.post(f"{CARDS}/{card['id']}/reveal", headers=customer.headers)
    assert stale.status_code == 401
    assert stale.json["error"]["code"] == "fresh_token_required"
    secret = reveal(app, client, customer, card["id"])
    assert ("card.revealed", "success") in audit_actions(app, card["id"])
    from app.core.extensions import db

    with app.app_context():
        changes = db.session.scalars(
            sa.select(AuditLog.changes).where(AuditLog.resource_id == card["id"])
        ).all()
        db.session.remove()
    text = repr(changes)
    assert secret["pan"] not in text and f"'{secret['cvv']}'" not in text


def test_reveal_is_rate_limited(app, client, customer, monkeypatch):
    monkeypatch.setitem(app.config, "CARD_REVEAL_RATE_LIMIT", "2 per hour")
    card = issue(client, customer)
    headers = auth_headers(app, customer.user, fresh=True)
    codes = [client.post(f"{CARDS}/{card['id']}/reveal", headers=headers) for _ in range(3)]
    assert [r.status_code for r in codes] == [200, 200, 429]
    assert codes[2].json["error"]["code"] == "rate_limited"
    assert "Retry-After" in codes[2].headers
    assert codes[0].headers["Cache-Control"] == "no-store"


def test_freeze_unfreeze_and_cancel_with_a_replacement_keeping_the_controls(app, client, customer):
    card = issue(client, customer)
    url = f"{CARDS}/{card['id']}"
    controls = {
        "per_transaction_limit": "50.00",
        "daily_limit": "100.00",
        "monthly_limit": None,
        "blocked_mccs": ["7995"],
        "allowed_countries": ["DE", "FR"],
        "online_enabled": False,
        "atm_enabled": True,
        "contactless_enabled": True,
        "international_enabled": False,
    }
    updated = client.put(f"{url}/controls", headers=customer.headers, json=controls)
    assert updated.status_code == 200, updated.json
    assert updated.json["controls"] == controls
    assert client.post(f"{url}/freeze", headers=customer.headers).json["status"] == "frozen"
    assert client.post(f"{url}/unfreeze", headers=customer.headers).json["status"] == "active"
    old_pan = reveal(app, client, customer, card["id"])["pan"]
    result = post(client, f"{url}/cancel", customer.headers, {"reason": "stolen", "replace": True})
    assert result.status_code == 200
    assert result.json["card"]["status"] == "cancelled"
    assert result.json["card"]["cancel_reason"] == "stolen"
    replacement = result.json["replacement"]
    assert replacement["status"] == "active" and replacement["id"] != card["id"]
    assert replacement["controls"] == controls
    assert reveal(app, client, customer, replacement["id"])["pan"] != old_pan
    again = client.post(f"{url}/freeze", headers=customer.headers)
    assert again.status_code == 409
    cancelled_reveal = client.post(
        f"{url}/reveal", headers=auth_headers(app, customer.user, fresh=True)
    )
    assert cancelled_reveal.status_code == 409
    actions = [a for a, _ in audit_actions(app, card["id"])]
    assert actions == [
        "card.issued",
        "card.controls_changed",
        "card.frozen",
        "card.unfrozen",
        "card.revealed",
        "card.cancelled",
    ]


def test_controls_are_validated(client, customer):
    card = issue(client, customer)
    body = {
        "daily_limit": 100,
        "blocked_mccs": ["12"],
        "allowed_countries": ["XX"],
        "online_enabled": True,
        "atm_enabled": True,
        "contactless_enabled": True,
        "international_enabled": True,
        "surprise": 1,
    }
    response = client.put(f"{CARDS}/{card['id']}/controls", headers=customer.headers, json=body)
    assert response.status_code == 422
    assert {"daily_limit", "blocked_mccs.0", "allowed_countries.0", "surprise"} <= set(
        response.json["error"]["details"]
    )


def test_a_physical_card_is_inactive_until_activated_with_its_details(app, client, customer):
    card = issue(client, customer, "physical", cardholder_name="Ada Lovelace")
    assert card["status"] == "inactive" and card["cardholder_name"] == "ADA LOVELACE"
    url = f"{CARDS}/{card['id']}/activate"
    wrong = "0000" if card["last4"] != "0000" else "1111"
    body = {"expiry_month": card["expiry_month"], "expiry_year": card["expiry_year"]}
    refused = client.post(url, headers=customer.headers, json={**body, "last4": wrong})
    assert refused.status_code == 422
    activated = client.post(url, headers=customer.headers, json={**body, "last4": card["last4"]})
    assert activated.status_code == 200 and activated.json["status"] == "active"
    assert (
        client.post(
            url, headers=customer.headers, json={**body, "last4": card["last4"]}
        ).status_code
        == 409
    )
    assert ("card.activation_failed", "failure") in audit_actions(app, card["id"])


@pytest.mark.parametrize(
    "pin", ["0000", "1111", "1234", "9876", "123456", "1212", "123123", "12a4", "123"]
)
def test_trivial_or_malformed_pins_are_refused(app, client, customer, pin):
    card = issue(client, customer)
    headers = auth_headers(app, customer.user, fresh=True)
    response = client.post(f"{CARDS}/{card['id']}/pin", headers=headers, json={"pin": pin})
    assert response.status_code == 422
    assert "pin" in response.json["error"]["details"]


def test_a_pin_needs_a_fresh_token_and_is_stored_as_an_argon2_hash(app, client, customer):
    card = issue(client, customer)
    url = f"{CARDS}/{card['id']}/pin"
    stale = client.post(url, headers=customer.headers, json={"pin": "4829"})
    assert stale.status_code == 401 and stale.json["error"]["code"] == "fresh_token_required"
    fresh = auth_headers(app, customer.user, fresh=True)
    assert client.post(url, headers=fresh, json={"pin": "4829"}).status_code == 204
    from app.core.extensions import db

    with app.app_context():
        stored = db.session.scalar(sa.select(Card.pin_hash).where(Card.public_id == card["id"]))
        db.session.remove()
    assert stored.startswith("$argon2id$") and "4829" not in stored
    assert vault.verify_pin(stored, "4829") and not vault.verify_pin(stored, "4830")
    assert client.get(f"{CARDS}/{card['id']}", headers=customer.headers).json["pin_set"] is True


def test_rotate_key_reseals_every_pan_under_the_newest_key(app, client, customer, monkeypatch):
    cards = [issue(client, customer) for _ in range(2)]
    pans = {c["id"]: reveal(app, client, customer, c["id"])["pan"] for c in cards}
    old = app.config["CARD_ENCRYPTION_KEYS"]
    monkeypatch.setitem(
        app.config,
        "CARD_ENCRYPTION_KEYS",
        "k2:bmV3LWNhcmQta2V5LWZvci1yb3RhdGlvbi10ZXN0cyE=," + old,
    )
    result = app.test_cli_runner().invoke(args=["cards", "rotate-key"])
    assert result.exit_code == 0, result.output
    assert "under key 'k2'" in result.output
    from app.core.extensions import db

    with app.app_context():
        kids = db.session.scalars(
            sa.select(Card.pan_ciphertext).where(Card.public_id.in_(list(pans)))
        ).all()
        db.session.remove()
    assert {vault.key_id(k) for k in kids} == {"k2"}
    # Readable with the new key alone: the old one can be retired.
    monkeypatch.setitem(
        app.config, "CARD_ENCRYPTION_KEYS", "k2:bmV3LWNhcmQta2V5LWZvci1yb3RhdGlvbi10ZXN0cyE="
    )
    for card_id, pan in pans.items():
        assert reveal(app, client, customer, card_id)["pan"] == pan
    # Back under the usual key, so that the other tests' cards stay readable.
    monkeypatch.setitem(
        app.config, "CARD_ENCRYPTION_KEYS", old + ",k2:bmV3LWNhcmQta2V5LWZvci1yb3RhdGlvbi10ZXN0cyE="
    )
    assert app.test_cli_runner().invoke(args=["cards", "rotate-key"]).exit_code == 0
