"""Admin changes to accounts: status and credit limit, audited, admins only."""

from __future__ import annotations

import uuid

import pytest

from tests.factories import auth_headers, make_user
from tests.money_helpers import audit_actions, make_account, post

pytestmark = pytest.mark.postgres


def test_admin_freezes_and_sets_credit_limits(app, client, db_session):
    admin = auth_headers(app, make_user(db_session, role="admin"))
    owner = make_user(db_session)
    credit = make_account(db_session, owner, account_type="credit")
    url = f"/api/v1/admin/accounts/{credit.public_id}"
    limited = client.patch(url, json={"credit_limit": "250.00"}, headers=admin)
    assert limited.status_code == 200, limited.json
    assert limited.json["credit_limit"] == "250.00"
    assert limited.json["available_balance"] == "250.00"
    frozen = client.patch(url, json={"status": "frozen"}, headers=admin)
    assert frozen.json["status"] == "frozen"
    active = client.patch(url, json={"status": "active"}, headers=admin)
    assert active.json["status"] == "active"
    assert [a for a, _ in audit_actions(app, credit.public_id)].count("account.admin_updated") == 3
    for body, field in (
        ({"credit_limit": 250}, "credit_limit"),
        ({"status": "gone"}, "status"),
        ({}, "_schema"),
        ({"credit_limit": "1.234"}, "credit_limit"),
    ):
        response = client.patch(url, json=body, headers=admin)
        assert response.status_code == 422, body
        assert field in response.json["error"]["details"], response.json
    checking = make_account(db_session, owner)
    not_credit = client.patch(
        f"/api/v1/admin/accounts/{checking.public_id}",
        json={"credit_limit": "10.00"},
        headers=admin,
    )
    assert not_credit.status_code == 422


def test_credit_limit_cannot_drop_below_use(app, client, db_session):
    admin = auth_headers(app, make_user(db_session, role="admin"))
    owner = make_user(db_session)
    credit = make_account(db_session, owner, account_type="credit", credit_limit=10000)
    other = make_account(db_session, owner)
    assert (
        post(
            client,
            "/api/v1/transactions/transfer",
            auth_headers(app, owner),
            {
                "from_account_id": str(credit.public_id),
                "to_account_id": str(other.public_id),
                "amount": "60.00",
                "currency": "USD",
            },
        ).status_code
        == 201
    )
    response = client.patch(
        f"/api/v1/admin/accounts/{credit.public_id}", json={"credit_limit": "50.00"}, headers=admin
    )
    assert response.status_code == 409


def test_only_admins(app, client, db_session):
    account = make_account(db_session, make_user(db_session))
    url = f"/api/v1/admin/accounts/{account.public_id}"
    for role in ("customer", "compliance_officer"):
        headers = auth_headers(app, make_user(db_session, role=role))
        assert client.patch(url, json={"status": "frozen"}, headers=headers).status_code == 403
    admin = auth_headers(app, make_user(db_session, role="admin"))
    missing = client.patch(
        f"/api/v1/admin/accounts/{uuid.uuid4()}", json={"status": "frozen"}, headers=admin
    )
    assert missing.status_code == 404
