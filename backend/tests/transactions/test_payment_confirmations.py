"""Payment confirmation (SCA with dynamic linking): a passkey signs the exact transfer."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from app.auth.models import PaymentConfirmation
from app.ledger.accounts import Account
from tests.auth.helpers import Clock, audit_rows
from tests.auth.passkey_helpers import register_passkey
from tests.factories import auth_headers, make_user
from tests.money_helpers import make_account, post

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

TRANSFER = "/api/v1/transactions/transfer"
CONFIRMATIONS = "/api/v1/transactions/confirmations"


@pytest.fixture
def setup(app, client, db_session, monkeypatch):
    """A customer with a passkey, two funded accounts, a step-up threshold of 100 USD."""
    monkeypatch.setitem(app.config, "STEP_UP_TRANSFER_THRESHOLD", "100")
    user = make_user(db_session)
    authenticator, _ = register_passkey(client, app, user)
    src = make_account(db_session, user, balance="1000.00")
    dst = make_account(db_session, user)
    return user, authenticator, src, dst


def _confirm(client, headers, src, payee, amount="250.00", currency="USD"):
    return client.post(
        CONFIRMATIONS,
        json={
            "kind": "transfer",
            "account_id": str(src.public_id),
            "amount": amount,
            "currency": currency,
            "payee": payee,
        },
        headers=headers,
    )


def _transfer(src, payee, amount="250.00", confirmation=None):
    body = {"from_account_id": str(src.public_id), "amount": amount, "currency": "USD", **payee}
    if confirmation is not None:
        body["confirmation"] = confirmation
    return body


def _signed(client, headers, authenticator, src, payee, **kwargs):
    created = _confirm(client, headers, src, payee, **kwargs)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    return {"id": body["id"], "credential": authenticator.assert_(body["webauthn_options"])}


def _balance(db_session, account) -> int:
    db_session.expire_all()
    return db_session.get(Account, account.id).balance


def test_a_confirmed_transfer_goes_through_once(app, client, db_session, setup):
    user, authenticator, src, dst = setup
    headers = auth_headers(app, user)
    payee = {"to_account_id": str(dst.public_id)}
    created = _confirm(client, headers, src, payee)
    assert created.status_code == 201
    options = created.get_json()["webauthn_options"]
    assert options["userVerification"] == "required" and options["allowCredentials"]
    confirmation = {
        "id": created.get_json()["id"],
        "credential": authenticator.assert_(options),
    }
    key = str(uuid.uuid4())
    done = post(
        client, TRANSFER, headers, _transfer(src, payee, confirmation=confirmation), key=key
    )
    assert done.status_code == 201, done.get_json()
    row = db_session.scalar(
        sa.select(PaymentConfirmation).where(
            PaymentConfirmation.public_id == uuid.UUID(confirmation["id"])
        )
    )
    assert row.status == "used" and str(row.transaction_id) == done.get_json()["id"]
    assert row.amount == 25000 and row.currency == "USD"
    assert _balance(db_session, dst) == 25000
    # The same request retried with its key is the stored answer, not a second payment.
    again = post(
        client, TRANSFER, headers, _transfer(src, payee, confirmation=confirmation), key=key
    )
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == done.get_json()["id"]
    # A new request with the used confirmation is refused.
    replay = post(client, TRANSFER, headers, _transfer(src, payee, confirmation=confirmation))
    assert replay.status_code == 403
    assert replay.get_json()["error"]["code"] == "confirmation_required"
    assert _balance(db_session, dst) == 25000
    assert audit_rows(
        db_session, action="auth.payment_confirmation_used", resource_id=confirmation["id"]
    )


def test_above_the_threshold_a_passkey_user_needs_a_confirmation(app, client, db_session, setup):
    user, _, src, dst = setup
    payee = {"to_account_id": str(dst.public_id)}
    fresh = auth_headers(app, user, fresh=True)
    refused = post(client, TRANSFER, fresh, _transfer(src, payee))
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "confirmation_required"
    small = post(client, TRANSFER, auth_headers(app, user), _transfer(src, payee, amount="100.00"))
    assert small.status_code == 201
    # Without a passkey the fresh token (TOTP or password step-up) still does.
    other = make_user(db_session)
    other_src = make_account(db_session, other, balance="500.00")
    stale = post(client, TRANSFER, auth_headers(app, other), _transfer(other_src, payee))
    assert stale.get_json()["error"]["code"] == "fresh_token_required"
    ok = post(client, TRANSFER, auth_headers(app, other, fresh=True), _transfer(other_src, payee))
    assert ok.status_code == 201


@pytest.mark.parametrize(
    "change",
    [
        {"amount": "250.01"},
        {"payee": "other"},
        {"payee": "iban"},
    ],
)
def test_a_confirmation_for_another_payment_is_refused_and_void(
    app, client, db_session, setup, change
):
    user, authenticator, src, dst = setup
    headers = auth_headers(app, user)
    payee = {"to_account_id": str(dst.public_id)}
    confirmation = _signed(client, headers, authenticator, src, payee)
    sent_payee = payee
    if change.get("payee") == "other":
        sent_payee = {"to_account_id": str(make_account(db_session, user).public_id)}
    elif change.get("payee") == "iban":
        sent_payee = {"to_iban": "DE89370400440532013000", "beneficiary_name": "Mallory"}
    amount = change.get("amount", "250.00")
    response = post(
        client, TRANSFER, headers, _transfer(src, sent_payee, amount, confirmation=confirmation)
    )
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["code"] == "confirmation_mismatch"
    assert _balance(db_session, dst) == 0
    row = db_session.scalar(
        sa.select(PaymentConfirmation).where(
            PaymentConfirmation.public_id == uuid.UUID(confirmation["id"])
        )
    )
    assert row.status == "voided"
    # Void: not even the confirmed payment may use it now.
    again = post(client, TRANSFER, headers, _transfer(src, payee, confirmation=confirmation))
    assert again.status_code == 403


def test_an_expired_confirmation_is_refused(app, client, db_session, setup, monkeypatch):
    user, authenticator, src, dst = setup
    headers = auth_headers(app, user)
    payee = {"to_account_id": str(dst.public_id)}
    confirmation = _signed(client, headers, authenticator, src, payee)
    clock = Clock()
    clock.advance(seconds=app.config["PAYMENT_CONFIRMATION_SECONDS"] + 1)
    monkeypatch.setattr("app.core.db.utcnow", clock)
    response = post(client, TRANSFER, headers, _transfer(src, payee, confirmation=confirmation))
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "confirmation_required"
    assert "expired" in response.get_json()["error"]["message"]
    assert _balance(db_session, dst) == 0


def test_a_confirmation_signed_over_another_challenge_is_refused(app, client, db_session, setup):
    user, authenticator, src, dst = setup
    headers = auth_headers(app, user)
    payee = {"to_account_id": str(dst.public_id)}
    first = _signed(client, headers, authenticator, src, payee)
    second = _signed(client, headers, authenticator, src, payee)
    swapped = {"id": first["id"], "credential": second["credential"]}
    response = post(client, TRANSFER, headers, _transfer(src, payee, confirmation=swapped))
    assert response.status_code == 403
    assert _balance(db_session, dst) == 0


def test_confirmations_are_for_own_accounts_and_passkey_holders(app, client, db_session, setup):
    user, _, src, dst = setup
    other = make_user(db_session)
    payee = {"to_account_id": str(dst.public_id)}
    assert _confirm(client, auth_headers(app, other), src, payee).status_code == 404
    other_src = make_account(db_session, other, balance="10.00")
    no_passkey = _confirm(client, auth_headers(app, other), other_src, payee)
    assert no_passkey.status_code == 409
    bad_payee = _confirm(
        client, auth_headers(app, user), src, {"to_iban": "DE89370400440532013000"}
    )
    assert bad_payee.status_code == 422


def test_a_confirmed_transfer_by_account_number_or_to_an_iban(app, client, db_session, setup):
    user, authenticator, src, dst = setup
    headers = auth_headers(app, user)
    by_number = {"to_account_number": dst.account_number}
    confirmation = _signed(client, headers, authenticator, src, by_number, amount="300.00")
    done = post(client, TRANSFER, headers, _transfer(src, by_number, "300.00", confirmation))
    assert done.status_code == 201, done.get_json()
    assert _balance(db_session, dst) == 30000
    iban = {"to_iban": "DE89 3704 0044 0532 0130 00", "beneficiary_name": "Ada Lovelace"}
    confirmation = _signed(client, headers, authenticator, src, iban, amount="120.00")
    out = post(client, TRANSFER, headers, _transfer(src, iban, "120.00", confirmation))
    assert out.status_code == 201, out.get_json()
    assert out.get_json()["status"] == "pending"


def test_two_requests_racing_with_one_confirmation_move_the_money_once(
    app, client, db_session, setup
):
    """The confirmation's row lock decides: one transfer goes through, the other is refused."""
    import threading

    from tests.money_helpers import assert_ledger_consistent, balance_of, run_threads

    user, authenticator, src, dst = setup
    headers = auth_headers(app, user)
    dst_id = dst.public_id
    payee = {"to_account_id": str(dst_id)}
    confirmation = _signed(client, headers, authenticator, src, payee)
    body = _transfer(src, payee, "250.00", confirmation)
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def send() -> None:
        test_client = app.test_client()
        barrier.wait()
        statuses.append(post(test_client, TRANSFER, headers, body).status_code)

    run_threads([threading.Thread(target=send) for _ in range(2)])
    assert sorted(statuses) == [201, 403], statuses
    assert balance_of(app, dst_id) == (25000, 0)
    assert_ledger_consistent(app)
