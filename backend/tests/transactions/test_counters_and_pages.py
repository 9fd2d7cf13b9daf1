"""Running counters against a recount, and keyset pages while new transactions arrive."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from app.core import uow
from app.transactions.models import DailyCounter
from tests.factories import auth_headers, make_user
from tests.money_helpers import assert_ledger_consistent, make_account, send_transfer

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture(autouse=True)
def _no_velocity_rule(app, monkeypatch):
    monkeypatch.setitem(app.config, "FRAUD_VELOCITY_MAX", 10_000)


def test_counters_equal_a_recount_after_a_concurrent_run_and_verify_names_a_difference(
    app, db_session
):
    user = make_user(db_session)
    headers = auth_headers(app, user)
    src = str(make_account(db_session, user, balance="100.00").public_id)
    others = [str(make_account(db_session, make_user(db_session)).public_id) for _ in range(3)]
    user_id = user.id
    barrier = threading.Barrier(12)
    statuses: list[int] = []

    def pay(i: int) -> None:
        client = app.test_client()
        barrier.wait()
        statuses.append(send_transfer(client, headers, src, others[i % 3], "2.00").status_code)

    threads = [threading.Thread(target=pay, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [201] * 12
    assert_ledger_consistent(app)  # balances, and the counters against their recount
    with app.app_context():
        from app.core.extensions import db

        kept = db.session.execute(
            sa.select(DailyCounter.direction, DailyCounter.amount, DailyCounter.count).where(
                DailyCounter.user_id == user_id
            )
        ).all()
        assert sorted(tuple(r) for r in kept) == [("in", 10000, 1), ("out", 2400, 12)]
        db.session.execute(
            sa.update(DailyCounter)
            .where(DailyCounter.user_id == user_id, DailyCounter.direction == "out")
            .values(amount=DailyCounter.amount - 200)
        )
        uow.commit(db.session)
        db.session.remove()
    result = app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert result.exit_code == 1
    assert f"counter user {user_id} USD out" in result.output
    assert "(2200, 12) != recount (2400, 12)" in result.output
    with app.app_context():
        from app.core.extensions import db

        db.session.execute(
            sa.update(DailyCounter)
            .where(DailyCounter.user_id == user_id, DailyCounter.direction == "out")
            .values(amount=DailyCounter.amount + 200)
        )
        uow.commit(db.session)
        db.session.remove()
    assert_ledger_consistent(app)


def test_pages_return_every_transaction_once_while_new_ones_arrive(app, client, db_session):
    user = make_user(db_session)
    headers = auth_headers(app, user)
    checking = make_account(db_session, user, balance="500.00")
    savings = make_account(db_session, user)
    friend = make_account(db_session, make_user(db_session))
    for i in range(7):  # both directions, between own accounts and out
        assert (
            send_transfer(client, headers, checking, savings if i % 2 else friend).status_code
            == 201
        )
    url = "/api/v1/transactions"
    seen: list[str] = []
    cursor = None
    before = client.get(url, query_string={"limit": 200}, headers=headers).json["items"]
    expected = [t["id"] for t in before]
    while True:
        query = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get(url, query_string=query, headers=headers)
        assert page.status_code == 200, page.json
        seen.extend(t["id"] for t in page.json["items"])
        # New transactions arrive between pages: newer than the cursor, so never on a next page.
        assert send_transfer(client, headers, checking, friend).status_code == 201
        cursor = page.json["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    assert len(set(seen)) == len(seen) == 8  # a deposit and seven transfers, each once
    one_account = client.get(
        url, query_string={"account_id": str(savings.public_id), "limit": 2}, headers=headers
    ).json
    assert len(one_account["items"]) == 2 and one_account["next_cursor"]
