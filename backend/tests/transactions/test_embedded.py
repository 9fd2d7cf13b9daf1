"""The embedded default (SQLite, jobs inline) moves money correctly: the path `make run` uses."""

import uuid

from app import create_app
from tests.auth.helpers import STRONG_PASSWORD, bearer, login, registration
from tests.conftest import make_config, migrate


def _post(client, path, headers, body):
    return client.post(path, json=body, headers={**headers, "Idempotency-Key": str(uuid.uuid4())})


def test_deposit_transfer_withdrawal_on_sqlite_keep_ledger_and_audit_chain_valid(tmp_path):
    app = create_app(make_config(f"sqlite:///{tmp_path / 'flowlet.db'}"))
    migrate(app)
    client = app.test_client()
    tokens = []
    for _ in range(2):
        body = registration()
        assert client.post("/api/v1/auth/register", json=body).status_code == 201
        tokens.append(login(client, body["email"], STRONG_PASSWORD).get_json()["access_token"])
    alice, bob = bearer(tokens[0]), bearer(tokens[1])
    src = client.post(
        "/api/v1/accounts", json={"account_type": "checking", "currency": "USD"}, headers=alice
    ).get_json()
    dst = client.post(
        "/api/v1/accounts", json={"account_type": "checking", "currency": "USD"}, headers=bob
    ).get_json()

    deposit = _post(
        client,
        "/api/v1/transactions/deposit",
        alice,
        {"account_id": src["id"], "amount": "100.00", "currency": "USD"},
    )
    assert deposit.status_code == 201
    transfer = _post(
        client,
        "/api/v1/transactions/transfer",
        alice,
        {
            "from_account_id": src["id"],
            "to_account_number": dst["account_number"],
            "amount": "30.25",
            "currency": "USD",
        },
    )
    assert transfer.status_code == 201, transfer.get_json()
    assert transfer.get_json()["status"] == "completed"
    assert {
        (e["account_id"], e["direction"], e["amount"]) for e in transfer.get_json()["entries"]
    } == {
        (src["id"], "debit", "30.25"),
        (dst["id"], "credit", "30.25"),
    }
    withdrawal = _post(
        client,
        "/api/v1/transactions/withdrawal",
        alice,
        {"account_id": src["id"], "amount": "9.75", "currency": "USD"},
    )
    assert withdrawal.status_code == 201
    # The balance at an instant between the deposit and the transfer, from the running balance.
    between = transfer.get_json()["created_at"]
    at = client.get(
        f"/api/v1/accounts/{src['id']}/balance",
        query_string={"at": deposit.get_json()["created_at"]},
        headers=alice,
    ).get_json()
    assert (at["balance"], at["available_balance"], at["currency"]) == ("100.00", "100.00", "USD")
    after = client.get(
        f"/api/v1/accounts/{src['id']}/balance", query_string={"at": between}, headers=alice
    ).get_json()
    assert after["balance"] == "69.75"

    assert (
        client.get(f"/api/v1/accounts/{src['id']}", headers=alice).get_json()["balance"] == "60.00"
    )
    assert client.get(f"/api/v1/accounts/{dst['id']}", headers=bob).get_json()["balance"] == "30.25"
    runner = app.test_cli_runner()
    ledger = runner.invoke(args=["ledger", "verify"])
    assert ledger.exit_code == 0, ledger.output
    chain = runner.invoke(args=["audit", "verify"])
    assert chain.exit_code == 0, chain.output
    with app.app_context():
        from app.core.extensions import db

        db.engine.dispose()
