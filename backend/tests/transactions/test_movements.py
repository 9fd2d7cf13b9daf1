"""Deposits, withdrawals and transfers over HTTP: what succeeds and every rejection."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from app.core import uow
from app.ledger.models import JournalTransaction, LedgerEntry
from tests.factories import auth_headers, make_user
from tests.money_helpers import (
    assert_ledger_consistent,
    audit_actions,
    balance_of,
    make_account,
    post,
)

pytestmark = pytest.mark.postgres

TRANSFER = "/api/v1/transactions/transfer"
DEPOSIT = "/api/v1/transactions/deposit"
WITHDRAWAL = "/api/v1/transactions/withdrawal"


@pytest.fixture
def customer(db_session):
    return make_user(db_session)


@pytest.fixture
def headers(app, customer):
    return auth_headers(app, customer)


def _transfer(src, dst, amount="10.00", currency="USD", **extra):
    body = {"from_account_id": str(src.public_id), "amount": amount, "currency": currency}
    if dst is not None:
        body["to_account_id"] = str(dst.public_id)
    body.update(extra)
    return body


def test_deposit_posts_balanced_entries_from_settlement(app, client, db_session, customer, headers):
    account = make_account(db_session, customer)
    response = post(
        client,
        DEPOSIT,
        headers,
        {
            "account_id": str(account.public_id),
            "amount": "25.50",
            "currency": "USD",
            "reference": "Salary",
        },
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["type"] == "deposit" and body["status"] == "completed"
    assert body["amount"] == "25.50" and body["to_account_id"] == str(account.public_id)
    assert body["risk_score"] == 0
    directions = sorted((e["direction"], e["amount"]) for e in body["entries"])
    assert directions == [("credit", "25.50"), ("debit", "25.50")]
    assert balance_of(app, account.public_id) == (2550, 0)
    entries = db_session.scalars(
        sa.select(LedgerEntry.amount)
        .join(JournalTransaction)
        .where(JournalTransaction.public_id == uuid.UUID(body["id"]))
    ).all()
    assert sum(entries) == 0
    assert audit_actions(app, body["id"]) == [("transaction.deposit", "success")]
    assert_ledger_consistent(app)


def test_jpy_amounts_have_no_decimals(app, client, db_session, customer, headers):
    account = make_account(db_session, customer, currency="JPY")
    ok = post(
        client,
        DEPOSIT,
        headers,
        {"account_id": str(account.public_id), "amount": "1000", "currency": "JPY"},
    )
    assert ok.status_code == 201 and ok.json["amount"] == "1000"
    bad = post(
        client,
        DEPOSIT,
        headers,
        {"account_id": str(account.public_id), "amount": "10.5", "currency": "JPY"},
    )
    assert bad.status_code == 422 and "amount" in bad.json["error"]["details"]


def test_withdrawal_and_internal_transfers(app, client, db_session, customer, headers):
    src = make_account(db_session, customer, balance="100.00")
    mine = make_account(db_session, customer)
    friend = make_account(db_session, make_user(db_session))
    withdrawal = post(
        client,
        WITHDRAWAL,
        headers,
        {"account_id": str(src.public_id), "amount": "5.00", "currency": "USD"},
    )
    assert withdrawal.status_code == 201 and withdrawal.json["type"] == "withdrawal"
    by_id = post(client, TRANSFER, headers, _transfer(src, mine, "10.00"))
    assert by_id.status_code == 201 and by_id.json["status"] == "completed"
    by_number = post(
        client,
        TRANSFER,
        headers,
        {
            "from_account_id": str(src.public_id),
            "to_account_number": friend.account_number,
            "amount": "20.00",
            "currency": "USD",
            "description": "Rent",
        },
    )
    assert by_number.status_code == 201
    assert by_number.json["to_account_id"] == str(friend.public_id)
    by_iban = post(
        client,
        TRANSFER,
        headers,
        {
            "from_account_id": str(src.public_id),
            "to_iban": friend.iban,
            "amount": "1.00",
            "currency": "USD",
        },
    )
    assert by_iban.status_code == 201 and by_iban.json["status"] == "completed"
    assert balance_of(app, src.public_id) == (6400, 0)
    assert balance_of(app, mine.public_id) == (1000, 0)
    assert balance_of(app, friend.public_id) == (2100, 0)
    one = client.get(f"/api/v1/transactions/{by_id.json['id']}", headers=headers)
    assert one.status_code == 200 and len(one.json["entries"]) == 2
    # The receiving customer sees it too; a stranger does not.
    stranger = auth_headers(app, make_user(db_session))
    assert (
        client.get(f"/api/v1/transactions/{by_id.json['id']}", headers=stranger).status_code == 404
    )
    assert_ledger_consistent(app)


def test_completed_transfer_response_is_what_was_committed(
    app, client, db_session, customer, headers
):
    """The response of a posted transfer is byte for byte what reading it back returns."""
    src = make_account(db_session, customer, balance="50.00")
    dst = make_account(db_session, make_user(db_session))
    created = post(client, TRANSFER, headers, _transfer(src, dst, "12.34", description="Books"))
    assert created.status_code == 201
    body = created.json
    assert (body["status"], body["from_account_id"], body["to_account_id"]) == (
        "completed",
        str(src.public_id),
        str(dst.public_id),
    )
    assert [(e["account_id"], e["direction"], e["amount"]) for e in body["entries"]] == [
        (str(src.public_id), "debit", "12.34"),
        (str(dst.public_id), "credit", "12.34"),
    ]
    again = client.get(f"/api/v1/transactions/{body['id']}", headers=headers)
    assert again.status_code == 200
    assert again.get_data() == created.get_data()
    assert balance_of(app, src.public_id) == (5000 - 1234, 0)
    assert balance_of(app, dst.public_id) == (1234, 0)
    assert audit_actions(app, body["id"]) == [("transaction.transfer", "success")]
    assert_ledger_consistent(app)


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        (10.5, "float"),
        (10, "int"),
        ("NaN", "nan"),
        ("-5.00", "negative"),
        ("0", "zero"),
        ("0.00", "zero"),
        ("10.123", "decimals"),
        ("1e2", "exponent"),
        (None, "null"),
    ],
)
def test_amount_rejections(client, db_session, customer, headers, amount, reason):
    src = make_account(db_session, customer, balance="100.00")
    dst = make_account(db_session, customer)
    for url, body in (
        (TRANSFER, _transfer(src, dst, amount)),
        (DEPOSIT, {"account_id": str(src.public_id), "amount": amount, "currency": "USD"}),
        (WITHDRAWAL, {"account_id": str(src.public_id), "amount": amount, "currency": "USD"}),
    ):
        response = post(client, url, headers, body)
        assert response.status_code == 422, (reason, response.json)
        assert response.json["error"]["code"] == "validation_error"
        assert "amount" in response.json["error"]["details"]


def test_float_amount_in_raw_json_is_rejected(client, db_session, customer, headers):
    src = make_account(db_session, customer, balance="100.00")
    response = client.post(
        DEPOSIT,
        data=f'{{"account_id": "{src.public_id}", "amount": 1.10, "currency": "USD"}}',
        headers={
            **headers,
            "Idempotency-Key": str(uuid.uuid4()),
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 422 and "amount" in response.json["error"]["details"]


def test_currency_must_be_the_accounts(client, db_session, customer, headers):
    src = make_account(db_session, customer, balance="100.00")
    eur = make_account(db_session, customer, currency="EUR")
    usd = make_account(db_session, customer)
    wrong = post(client, TRANSFER, headers, _transfer(src, usd, "1.00", currency="EUR"))
    assert wrong.status_code == 422 and wrong.json["error"]["code"] == "currency_mismatch"
    assert "currency" in wrong.json["error"]["details"]
    cross = post(client, TRANSFER, headers, _transfer(src, eur, "1.00"))
    assert cross.status_code == 422 and cross.json["error"]["code"] == "currency_mismatch"
    deposit = post(
        client,
        DEPOSIT,
        headers,
        {"account_id": str(src.public_id), "amount": "1.00", "currency": "GBP"},
    )
    assert deposit.status_code == 422 and deposit.json["error"]["code"] == "currency_mismatch"


def test_transfer_body_rejections(client, db_session, customer, headers):
    src = make_account(db_session, customer, balance="100.00")
    dst = make_account(db_session, customer)
    both = _transfer(src, dst, to_account_number=dst.account_number)
    for body, field in (
        (both, "to_account_id"),
        (_transfer(src, None), "to_account_id"),
        (_transfer(src, src), "to_account_id"),
        ({**_transfer(src, dst), "extra": 1}, "extra"),
        (_transfer(src, None, to_iban="DE00123"), "to_iban"),
        (_transfer(src, None, to_iban="GB33BUKB20201555555555"), "beneficiary_name"),
    ):
        response = post(client, TRANSFER, headers, body)
        assert response.status_code == 422, (body, response.json)
        assert field in response.json["error"]["details"], response.json
    unknown = post(
        client, TRANSFER, headers, {**_transfer(src, None), "to_account_id": str(uuid.uuid4())}
    )
    assert unknown.status_code == 404


def test_insufficient_funds_is_refused_and_audited(app, client, db_session, customer, headers):
    src = make_account(db_session, customer, balance="10.00")
    dst = make_account(db_session, customer)
    response = post(client, TRANSFER, headers, _transfer(src, dst, "10.01"))
    assert response.status_code == 422
    assert response.json["error"]["code"] == "insufficient_funds"
    withdrawal = post(
        client,
        WITHDRAWAL,
        headers,
        {"account_id": str(src.public_id), "amount": "10.01", "currency": "USD"},
    )
    assert withdrawal.json["error"]["code"] == "insufficient_funds"
    assert balance_of(app, src.public_id) == (1000, 0)
    from app.core.audit import AuditLog

    failures = db_session.scalars(
        sa.select(AuditLog.changes).where(
            AuditLog.action == "transaction.transfer", AuditLog.outcome == "failure"
        )
    ).all()
    assert any(
        c["from_account_id"] == str(src.public_id) and c["reason"] == "insufficient_funds"
        for c in failures
    )


def test_credit_account_goes_down_to_minus_its_limit(app, client, db_session, customer, headers):
    credit = make_account(db_session, customer, account_type="credit", credit_limit=50000)
    dst = make_account(db_session, customer)
    shown = client.get(f"/api/v1/accounts/{credit.public_id}", headers=headers).json
    assert shown["credit_limit"] == "500.00" and shown["available_balance"] == "500.00"
    assert post(client, TRANSFER, headers, _transfer(credit, dst, "500.00")).status_code == 201
    over = post(client, TRANSFER, headers, _transfer(credit, dst, "0.01"))
    assert over.json["error"]["code"] == "insufficient_funds"
    shown = client.get(f"/api/v1/accounts/{credit.public_id}", headers=headers).json
    assert shown["balance"] == "-500.00" and shown["available_balance"] == "0.00"
    assert_ledger_consistent(app)


def test_frozen_account_refuses_debits_but_receives(app, client, db_session, customer, headers):
    src = make_account(db_session, customer, balance="50.00")
    dst = make_account(db_session, customer)
    admin = auth_headers(app, make_user(db_session, role="admin"))
    assert (
        client.patch(
            f"/api/v1/admin/accounts/{src.public_id}", json={"status": "frozen"}, headers=admin
        ).status_code
        == 200
    )
    response = post(client, TRANSFER, headers, _transfer(src, dst, "1.00"))
    assert response.status_code == 422 and response.json["error"]["code"] == "account_frozen"
    withdrawal = post(
        client,
        WITHDRAWAL,
        headers,
        {"account_id": str(src.public_id), "amount": "1.00", "currency": "USD"},
    )
    assert withdrawal.json["error"]["code"] == "account_frozen"
    deposit = post(
        client,
        DEPOSIT,
        headers,
        {"account_id": str(src.public_id), "amount": "1.00", "currency": "USD"},
    )
    assert deposit.status_code == 201


def test_limits_per_transfer_and_daily(app, client, db_session, customer, monkeypatch):
    monkeypatch.setitem(
        app.config,
        "TRANSFER_LIMITS",
        {
            "none": {"per_transfer": "100", "daily": "150"},
            "approved": {"per_transfer": "1000", "daily": "5000"},
        },
    )
    headers = auth_headers(app, customer)
    src = make_account(db_session, customer, balance="900.00")
    dst = make_account(db_session, make_user(db_session))
    too_big = post(client, TRANSFER, headers, _transfer(src, dst, "100.01"))
    assert too_big.status_code == 422 and too_big.json["error"]["code"] == "limit_exceeded"
    assert post(client, TRANSFER, headers, _transfer(src, dst, "100.00")).status_code == 201
    assert (
        post(
            client,
            WITHDRAWAL,
            headers,
            {"account_id": str(src.public_id), "amount": "40.00", "currency": "USD"},
        ).status_code
        == 201
    )
    over_daily = post(client, TRANSFER, headers, _transfer(src, dst, "10.01"))
    assert over_daily.json["error"]["code"] == "limit_exceeded"
    assert "amount" in over_daily.json["error"]["details"]
    # A higher KYC level carries higher limits.
    customer.kyc_status = "approved"
    uow.commit(db_session)
    assert post(client, TRANSFER, headers, _transfer(src, dst, "500.00")).status_code == 201


def test_large_amounts_need_a_fresh_token(app, client, db_session, customer, monkeypatch):
    monkeypatch.setitem(app.config, "STEP_UP_TRANSFER_THRESHOLD", "100")
    src = make_account(db_session, customer, balance="500.00")
    dst = make_account(db_session, customer)
    stale = post(client, TRANSFER, auth_headers(app, customer), _transfer(src, dst, "100.01"))
    assert stale.status_code == 401
    assert stale.json["error"]["code"] == "fresh_token_required"
    fresh = auth_headers(app, customer, fresh=True)
    assert post(client, TRANSFER, fresh, _transfer(src, dst, "100.01")).status_code == 201
    at_threshold = post(
        client, TRANSFER, auth_headers(app, customer), _transfer(src, dst, "100.00")
    )
    assert at_threshold.status_code == 201


def test_money_posts_need_an_idempotency_key(client, db_session, customer, headers):
    src = make_account(db_session, customer, balance="10.00")
    dst = make_account(db_session, customer)
    for url, body in (
        (TRANSFER, _transfer(src, dst, "1.00")),
        (DEPOSIT, {"account_id": str(src.public_id), "amount": "1.00", "currency": "USD"}),
        (WITHDRAWAL, {"account_id": str(src.public_id), "amount": "1.00", "currency": "USD"}),
    ):
        response = post(client, url, headers, body, key=None)
        assert response.status_code == 400
        assert response.json["error"]["code"] == "idempotency_key_required"
    too_long = post(client, TRANSFER, headers, _transfer(src, dst, "1.00"), key="k" * 256)
    assert too_long.status_code == 422


def test_only_customers_move_money(app, client, db_session):
    officer = auth_headers(app, make_user(db_session, role="compliance_officer"))
    response = post(
        client,
        DEPOSIT,
        officer,
        {"account_id": str(uuid.uuid4()), "amount": "1.00", "currency": "USD"},
    )
    assert response.status_code == 403
    assert (
        post(
            client,
            DEPOSIT,
            {},
            {"account_id": str(uuid.uuid4()), "amount": "1.00", "currency": "USD"},
        ).status_code
        == 401
    )
