"""Accounts: open, read, list, rename, close; ownership; statements."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pypdf import PdfReader
from schwifty import IBAN

from tests.factories import auth_headers, make_user
from tests.money_helpers import audit_actions, make_account, post

pytestmark = pytest.mark.postgres


@pytest.fixture
def customer(app, db_session):
    return make_user(db_session)


@pytest.fixture
def headers(app, customer):
    return auth_headers(app, customer)


def test_open_account_returns_the_contract_shape(app, client, headers):
    response = client.post(
        "/api/v1/accounts", json={"account_type": "checking", "currency": "EUR"}, headers=headers
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert set(body) == {
        "id",
        "account_number",
        "iban",
        "account_type",
        "currency",
        "name",
        "balance",
        "available_balance",
        "credit_limit",
        "status",
        "created_at",
    }
    assert body["balance"] == "0.00" and body["available_balance"] == "0.00"
    assert body["status"] == "active" and body["credit_limit"] is None
    assert body["created_at"].endswith("Z")
    assert IBAN(body["iban"]).validate()
    assert body["iban"].endswith(body["account_number"])
    assert audit_actions(app, body["id"]) == [("account.opened", "success")]


def test_account_numbers_are_unique(client, headers):
    numbers = {
        client.post(
            "/api/v1/accounts",
            json={"account_type": "savings", "currency": "USD"},
            headers=headers,
        ).json["account_number"]
        for _ in range(5)
    }
    assert len(numbers) == 5


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"account_type": "piggy", "currency": "USD"}, "account_type"),
        ({"account_type": "checking", "currency": "XYZ"}, "currency"),
        ({"account_type": "checking", "currency": "usd"}, "currency"),
        ({"account_type": "checking", "currency": "SEK"}, "currency"),
        ({"account_type": "checking"}, "currency"),
        ({"account_type": "checking", "currency": "USD", "balance": "5"}, "balance"),
    ],
)
def test_open_account_rejections(client, headers, body, field):
    response = client.post("/api/v1/accounts", json=body, headers=headers)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "validation_error"
    assert field in response.json["error"]["details"]


def test_another_customers_account_is_not_found(app, client, db_session, customer, headers):
    other = make_user(db_session)
    theirs = make_account(db_session, other, balance="50.00")
    mine = make_account(db_session, customer, balance="50.00")
    for method, url in (
        ("get", f"/api/v1/accounts/{theirs.public_id}"),
        ("patch", f"/api/v1/accounts/{theirs.public_id}"),
        ("post", f"/api/v1/accounts/{theirs.public_id}/close"),
        ("get", f"/api/v1/accounts/{theirs.public_id}/statement?from=2026-01-01&to=2026-12-31"),
        ("get", f"/api/v1/accounts/{uuid.uuid4()}"),
    ):
        kwargs = {"json": {"name": "mine now"}} if method == "patch" else {}
        response = getattr(client, method)(url, headers=headers, **kwargs)
        assert response.status_code == 404, (url, response.json)
        assert response.json["error"]["code"] == "not_found"
    transfer = post(
        client,
        "/api/v1/transactions/transfer",
        headers,
        {
            "from_account_id": str(theirs.public_id),
            "to_account_id": str(mine.public_id),
            "amount": "1.00",
            "currency": "USD",
        },
    )
    assert transfer.status_code == 404
    assert (
        client.get(
            f"/api/v1/accounts/{theirs.public_id}", headers=auth_headers(app, other)
        ).status_code
        == 200
    )


def test_list_is_paginated_by_cursor(client, db_session, customer, headers):
    for _ in range(5):
        make_account(db_session, customer)
    first = client.get("/api/v1/accounts?limit=2", headers=headers).json
    assert len(first["items"]) == 2 and first["next_cursor"]
    seen = [a["id"] for a in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = client.get(f"/api/v1/accounts?limit=2&cursor={cursor}", headers=headers).json
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 5
    assert client.get("/api/v1/accounts?limit=0", headers=headers).status_code == 422
    assert client.get("/api/v1/accounts?limit=201", headers=headers).status_code == 422
    bad = client.get("/api/v1/accounts?cursor=nonsense", headers=headers)
    assert bad.status_code == 422 and "cursor" in bad.json["error"]["details"]


def test_the_list_shows_each_account_as_its_own_endpoint_does(
    client, db_session, customer, headers
):
    """The list reads rows (one statement, no ORM objects): every field, the computed ones
    included, is what `GET /accounts/{id}` shows for the account."""
    make_account(db_session, customer, balance="12.34")
    make_account(db_session, customer, account_type="credit", credit_limit=50_000)
    make_account(db_session, customer, currency="JPY", account_type="savings", balance="500")
    listed = client.get("/api/v1/accounts", headers=headers).json["items"]
    assert len(listed) == 3
    for item in listed:
        assert client.get(f"/api/v1/accounts/{item['id']}", headers=headers).json == item
    credit = next(item for item in listed if item["account_type"] == "credit")
    assert credit["credit_limit"] == "500.00" and credit["available_balance"] == "500.00"
    assert {item["credit_limit"] for item in listed if item is not credit} == {None}


def test_rename(app, client, db_session, customer, headers):
    account = make_account(db_session, customer)
    response = client.patch(
        f"/api/v1/accounts/{account.public_id}", json={"name": "Holidays"}, headers=headers
    )
    assert response.status_code == 200 and response.json["name"] == "Holidays"
    assert ("account.renamed", "success") in audit_actions(app, account.public_id)


def test_close_needs_zero_balance_and_no_holds(app, client, db_session, customer, headers):
    account = make_account(db_session, customer, balance="10.00")
    other = make_account(db_session, customer)
    url = f"/api/v1/accounts/{account.public_id}/close"
    refused = client.post(url, headers=headers)
    assert refused.status_code == 409 and refused.json["error"]["code"] == "conflict"
    # An external transfer holds the money: still not closable.
    pending = post(
        client,
        "/api/v1/transactions/transfer",
        headers,
        {
            "from_account_id": str(account.public_id),
            "to_iban": "GB33BUKB20201555555555",
            "beneficiary_name": "Jane Doe",
            "amount": "10.00",
            "currency": "USD",
        },
    )
    assert pending.status_code == 201 and pending.json["status"] == "pending"
    assert client.post(url, headers=headers).status_code == 409
    empty_url = f"/api/v1/accounts/{other.public_id}/close"
    closed = client.post(empty_url, headers=headers)
    assert closed.status_code == 200 and closed.json["status"] == "closed"
    assert client.post(empty_url, headers=headers).status_code == 409
    assert ("account.closed", "failure") in audit_actions(app, account.public_id)
    assert ("account.closed", "success") in audit_actions(app, other.public_id)
    # A closed account neither pays nor receives.
    deposit = post(
        client,
        "/api/v1/transactions/deposit",
        headers,
        {"account_id": str(other.public_id), "amount": "1.00", "currency": "USD"},
    )
    assert deposit.status_code == 422 and deposit.json["error"]["code"] == "account_frozen"


def test_statement_balances_match_the_ledger(app, client, db_session, customer, headers):
    account = make_account(db_session, customer, balance="100.00")
    friend = make_account(db_session, make_user(db_session))
    for amount in ("10.00", "2.50"):
        assert (
            post(
                client,
                "/api/v1/transactions/transfer",
                headers,
                {
                    "from_account_id": str(account.public_id),
                    "to_account_id": str(friend.public_id),
                    "amount": amount,
                    "currency": "USD",
                    "description": "=cmd|' /C calc'!A0",
                },
            ).status_code
            == 201
        )
    today = datetime.now(UTC).date()
    url = f"/api/v1/accounts/{account.public_id}/statement?from={today}&to={today}"
    doc = client.get(url, headers=headers)
    assert doc.status_code == 200, doc.json
    body = doc.json
    assert body["opening_balance"] == "0.00" and body["closing_balance"] == "87.50"
    assert [line["amount"] for line in body["lines"]] == ["100.00", "-10.00", "-2.50"]
    assert body["lines"][-1]["balance_after"] == "87.50"
    current = client.get(f"/api/v1/accounts/{account.public_id}", headers=headers).json
    assert current["balance"] == body["closing_balance"]
    # A period after today opens with what the ledger holds, and has no lines.
    later = today + timedelta(days=3)
    after = client.get(
        f"/api/v1/accounts/{account.public_id}/statement?from={later}&to={later}",
        headers=headers,
    ).json
    assert after["opening_balance"] == after["closing_balance"] == "87.50"
    assert after["lines"] == []

    as_csv = client.get(url + "&format=csv", headers=headers)
    assert as_csv.status_code == 200 and as_csv.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(as_csv.get_data(as_text=True))))
    assert rows[1][5] == "0.00" and rows[-1][5] == "87.50"
    assert rows[3][3].startswith("'=")  # no formula injection into spreadsheets

    as_pdf = client.get(url + "&format=pdf", headers=headers)
    assert as_pdf.status_code == 200 and as_pdf.mimetype == "application/pdf"
    assert as_pdf.data.startswith(b"%PDF")
    assert "attachment" in as_pdf.headers["Content-Disposition"]
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(as_pdf.data)).pages)
    assert account.account_number in text
    assert "0.00" in text and "87.50" in text  # opening and closing balances, as in the ledger

    wrong = client.get(
        f"/api/v1/accounts/{account.public_id}/statement?from={today}&to={today - timedelta(1)}",
        headers=headers,
    )
    assert wrong.status_code == 422
    bad_format = client.get(url + "&format=xls", headers=headers)
    assert bad_format.status_code == 422


def test_accounts_need_a_customer_token(app, client, db_session):
    assert client.get("/api/v1/accounts").status_code == 401
    officer = make_user(db_session, role="compliance_officer")
    assert client.get("/api/v1/accounts", headers=auth_headers(app, officer)).status_code == 403
