"""Cards on the embedded default (SQLite, jobs inline): the path `make run` uses."""

from __future__ import annotations

import uuid

from app import create_app
from app.core.extensions import db
from tests.cards.conftest import CARDS, NETWORK, Customer, purchase
from tests.conftest import make_config, migrate
from tests.factories import auth_headers, make_user
from tests.money_helpers import assert_ledger_consistent, make_account


def _post(client, path, headers, body=None):
    return client.post(path, json=body, headers={**headers, "Idempotency-Key": str(uuid.uuid4())})


def test_issue_reveal_authorize_capture_and_reverse_on_sqlite(tmp_path):
    app = create_app(make_config(f"sqlite:///{tmp_path / 'flowlet.db'}"))
    migrate(app)
    client = app.test_client()
    with app.app_context():
        user = make_user(db.session, kyc_status="approved")
        account = make_account(db.session, user, balance="100.00")
        who = Customer(user, auth_headers(app, user), str(account.public_id))
        network = auth_headers(app, make_user(db.session, role="card_processor"))
        fresh = auth_headers(app, user, fresh=True)
        db.session.remove()
    card = _post(client, CARDS, who.headers, {"account_id": who.account_id, "card_type": "virtual"})
    assert card.status_code == 201, card.get_json()
    card_id = card.get_json()["id"]
    secret = client.post(f"{CARDS}/{card_id}/reveal", headers=fresh).get_json()
    first = _post(client, NETWORK, network, purchase(secret, amount="30.00")).get_json()
    second = _post(client, NETWORK, network, purchase(secret, amount="20.00")).get_json()
    declined = _post(client, NETWORK, network, purchase(secret, amount="60.00")).get_json()
    assert (first["approved"], second["approved"]) == (True, True)
    assert declined["decline_reason"] == "insufficient_funds"
    capture = _post(
        client, f"{NETWORK}/{first['authorization_id']}/capture", network, {"amount": "25.00"}
    )
    assert capture.status_code == 200, capture.get_json()
    reverse = _post(client, f"{NETWORK}/{second['authorization_id']}/reverse", network)
    assert reverse.status_code == 200, reverse.get_json()
    balance = client.get(f"/api/v1/accounts/{who.account_id}", headers=who.headers).get_json()
    assert (balance["balance"], balance["available_balance"]) == ("75.00", "75.00")
    assert_ledger_consistent(app)
    with app.app_context():
        db.engine.dispose()
