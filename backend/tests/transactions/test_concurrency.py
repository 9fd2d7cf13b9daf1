"""Concurrent requests on real PostgreSQL through the HTTP stack: no overdraft, no lost or
invented money, no deadlock."""

from __future__ import annotations

import threading
import uuid

import pytest

from tests.factories import auth_headers, make_user
from tests.money_helpers import (
    assert_ledger_consistent,
    balance_of,
    make_account,
    post,
    run_threads,
)

pytestmark = pytest.mark.postgres

TRANSFER = "/api/v1/transactions/transfer"


@pytest.fixture(autouse=True)
def _no_velocity_rule(app, monkeypatch):
    # These tests are about locking; the velocity fraud rule would hold transfers for review.
    monkeypatch.setitem(app.config, "FRAUD_VELOCITY_MAX", 10_000)


def test_fifty_concurrent_transfers_from_an_account_that_can_pay_ten(app, db_session):
    payer = make_user(db_session)
    headers = auth_headers(app, payer)
    # A credit account: 50.00 of its own plus a 50.00 credit line pays ten transfers of 10.00.
    source = make_account(
        db_session, payer, account_type="credit", credit_limit=5000, balance="50.00"
    )
    receivers = [make_account(db_session, make_user(db_session)) for _ in range(5)]
    source_id, receiver_ids = str(source.public_id), [str(r.public_id) for r in receivers]
    barrier = threading.Barrier(50)
    results: list[int] = []
    codes: list[str] = []
    lowest: list[int] = []
    done = threading.Event()

    def pay(i: int) -> None:
        client = app.test_client()
        body = {
            "from_account_id": source_id,
            "to_account_id": receiver_ids[i % 5],
            "amount": "10.00",
            "currency": "USD",
        }
        barrier.wait()
        response = post(client, TRANSFER, headers, body)
        results.append(response.status_code)
        if response.status_code != 201:
            codes.append(response.json["error"]["code"])

    def watch() -> None:
        while not done.is_set():
            lowest.append(balance_of(app, source_id)[0])

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        run_threads([threading.Thread(target=pay, args=(i,)) for i in range(50)])
    finally:
        done.set()
        watcher.join()
    assert results.count(201) == 10, results
    assert results.count(422) == 40 and set(codes) == {"insufficient_funds"}
    assert min(lowest) >= -5000
    assert balance_of(app, source_id) == (-5000, 0)
    assert sum(balance_of(app, r)[0] for r in receiver_ids) == 10_000
    assert_ledger_consistent(app)


def test_transfers_both_ways_between_two_accounts_never_deadlock(app, db_session):
    alice, bob = make_user(db_session), make_user(db_session)
    a = make_account(db_session, alice, balance="1000.00")
    b = make_account(db_session, bob, balance="1000.00")
    a_id, b_id = str(a.public_id), str(b.public_id)
    pairs = [(auth_headers(app, alice), a_id, b_id), (auth_headers(app, bob), b_id, a_id)]
    barrier = threading.Barrier(40)
    results: list[int] = []

    def pay(i: int) -> None:
        headers, src, dst = pairs[i % 2]
        client = app.test_client()
        barrier.wait()
        for _ in range(3):
            response = post(
                client,
                TRANSFER,
                headers,
                {
                    "from_account_id": src,
                    "to_account_id": dst,
                    "amount": "1.00",
                    "currency": "USD",
                    "description": f"ping {uuid.uuid4()}",
                },
            )
            results.append(response.status_code)

    run_threads([threading.Thread(target=pay, args=(i,)) for i in range(40)])
    assert results == [201] * 120
    assert balance_of(app, a_id) == (100_000, 0)
    assert balance_of(app, b_id) == (100_000, 0)
    assert_ledger_consistent(app)


def test_concurrent_deposits_and_withdrawals_lose_no_money(app, db_session):
    user = make_user(db_session)
    headers = auth_headers(app, user)
    # 200.00 pays all fifteen withdrawals of 7.00 in any order: every request must succeed.
    account_id = str(make_account(db_session, user, balance="200.00").public_id)
    barrier = threading.Barrier(30)
    results: list[tuple[str, int]] = []

    def move(i: int) -> None:
        client = app.test_client()
        kind = "deposit" if i % 2 else "withdrawal"
        barrier.wait()
        response = post(
            client,
            f"/api/v1/transactions/{kind}",
            headers,
            {"account_id": account_id, "amount": "7.00", "currency": "USD"},
        )
        results.append((kind, response.status_code))

    run_threads([threading.Thread(target=move, args=(i,)) for i in range(30)])
    assert sorted(results) == sorted([("deposit", 201)] * 15 + [("withdrawal", 201)] * 15)
    assert balance_of(app, account_id) == (20_000, 0)
    assert_ledger_consistent(app)


def test_transfers_among_customers_with_several_accounts_never_deadlock(app, db_session):
    """Accounts, then their customer: one lock order, whichever accounts a transfer names.

    Three customers with two accounts each pay each other and themselves at random from 30
    threads; each transfer locks both accounts and the payer in one statement.
    """
    import random

    owners = [make_user(db_session) for _ in range(3)]
    accounts = [
        (owner, str(make_account(db_session, owner, balance="1000.00").public_id))
        for owner in owners
        for _ in range(2)
    ]
    headers = {owner.id: auth_headers(app, owner) for owner in owners}
    barrier = threading.Barrier(30)
    results: list[int] = []

    def pay(seed: int) -> None:
        pick = random.Random(seed)
        client = app.test_client()
        barrier.wait()
        for _ in range(4):
            (owner, src), (_, dst) = pick.sample(accounts, 2)
            response = post(
                client,
                TRANSFER,
                headers[owner.id],
                {"from_account_id": src, "to_account_id": dst, "amount": "1.00", "currency": "USD"},
            )
            results.append(response.status_code)

    run_threads([threading.Thread(target=pay, args=(i,)) for i in range(30)])
    assert results == [201] * 120
    assert sum(balance_of(app, account)[0] for _, account in accounts) == 600_000
    assert_ledger_consistent(app)
