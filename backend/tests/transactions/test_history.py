"""Transaction history: filters and keyset pagination."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import auth_headers, make_user
from tests.money_helpers import make_account, post

pytestmark = pytest.mark.postgres


def test_filters_and_pages(app, client, db_session):
    user = make_user(db_session)
    headers = auth_headers(app, user)
    main = make_account(db_session, user, balance="500.00")
    other = make_account(db_session, user)
    friend = make_account(db_session, make_user(db_session), balance="5.00")
    amounts = ["1.00", "2.50", "10.00", "20.00", "99.99"]
    for amount in amounts:
        assert (
            post(
                client,
                "/api/v1/transactions/transfer",
                headers,
                {
                    "from_account_id": str(main.public_id),
                    "to_account_id": str(other.public_id),
                    "amount": amount,
                    "currency": "USD",
                    "description": f"Groceries {amount}",
                },
            ).status_code
            == 201
        )
    assert (
        post(
            client,
            "/api/v1/transactions/withdrawal",
            headers,
            {
                "account_id": str(main.public_id),
                "amount": "3.00",
                "currency": "USD",
                "reference": "ATM 100% cash",
            },
        ).status_code
        == 201
    )

    def items(query):
        response = client.get(f"/api/v1/transactions?{query}", headers=headers)
        assert response.status_code == 200, response.json
        return response.json["items"]

    everything = items(f"account_id={main.public_id}")
    assert len(everything) == 7  # opening deposit, five transfers, one withdrawal
    assert [t["created_at"] for t in everything] == sorted(
        (t["created_at"] for t in everything), reverse=True
    )
    assert len(items("type=transfer")) == 5
    assert len(items("type=deposit&status=completed")) == 1
    assert [t["amount"] for t in items("type=transfer&min_amount=2.5&max_amount=20")] == [
        "20.00",
        "10.00",
        "2.50",
    ]
    assert [t["amount"] for t in items("q=groceries 99")] == ["99.99"]
    assert [t["amount"] for t in items("q=100%")] == ["3.00"]
    today = datetime.now(UTC).date()
    assert len(items(f"from={today}&to={today}&account_id={main.public_id}")) == 7
    assert items(f"from={today + timedelta(days=1)}") == []
    since = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert len(items(f"from={since}&account_id={other.public_id}")) == 5
    # The friend's own deposit is not ours.
    assert all(t["to_account_id"] != str(friend.public_id) for t in items("type=deposit"))

    seen, cursor = [], ""
    while True:
        page = client.get(
            f"/api/v1/transactions?account_id={main.public_id}&limit=3{cursor}",
            headers=headers,
        ).json
        seen += [t["id"] for t in page["items"]]
        if not page["next_cursor"]:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert seen == [t["id"] for t in everything]

    for bad in (
        "type=gift",
        "status=lost",
        "min_amount=abc",
        "from=yesterday",
        "limit=500",
        "min_amount=NaN",
    ):
        response = client.get(f"/api/v1/transactions?{bad}", headers=headers)
        assert response.status_code == 422, bad
    not_mine = client.get(f"/api/v1/transactions?account_id={friend.public_id}", headers=headers)
    assert not_mine.status_code == 404
