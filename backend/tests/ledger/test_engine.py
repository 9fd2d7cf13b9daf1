"""The movement engine: reversal, two-phase holds, balances at an instant, registered policies."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.core import uow
from app.core.audit import AuditLog
from app.core.db import utcnow
from app.core.errors import DomainError
from app.ledger import engine, hooks
from app.ledger.accounts import Account, SystemAccount
from app.ledger.errors import HoldNotActive
from app.ledger.models import Hold, JournalTransaction
from tests.factories import auth_headers, make_user
from tests.money_helpers import (
    assert_ledger_consistent,
    audit_actions,
    balance_of,
    make_account,
    post,
    send_transfer,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def officer(app, db_session):
    user = make_user(db_session, role="compliance_officer")
    return user, auth_headers(app, user)


def _reverse(client, headers, txn_id, reason="customer dispute", key="auto"):
    return post(
        client, f"/api/v1/transactions/{txn_id}/reverse", headers, {"reason": reason}, key=key
    )


# --- reversal ------------------------------------------------------------------------------------


def test_reversal_books_a_linked_movement_and_marks_the_original(app, client, db_session, officer):
    _, officer_headers = officer
    alice, bob = make_user(db_session), make_user(db_session)
    src = make_account(db_session, alice, balance="100.00")
    dst = make_account(db_session, bob)
    sent = send_transfer(client, auth_headers(app, alice), src, dst, "40.00").json
    response = _reverse(client, officer_headers, sent["id"])
    assert response.status_code == 201, response.json
    reversal = response.json
    assert reversal["type"] == "reversal" and reversal["status"] == "completed"
    assert reversal["amount"] == "40.00"
    assert reversal["from_account_id"] == str(dst.public_id)
    assert reversal["to_account_id"] == str(src.public_id)
    assert balance_of(app, src.public_id) == (10000, 0)
    assert balance_of(app, dst.public_id) == (0, 0)
    original = client.get(f"/api/v1/transactions/{sent['id']}", headers=auth_headers(app, alice))
    assert original.json["status"] == "reversed"
    assert original.json["failure_reason"] == "customer dispute"
    with app.app_context():
        from app.core.extensions import db

        link = db.session.scalar(
            sa.select(JournalTransaction.reversal_of_id).where(
                JournalTransaction.public_id == uuid.UUID(reversal["id"])
            )
        )
        original_id = db.session.scalar(
            sa.select(JournalTransaction.id).where(
                JournalTransaction.public_id == uuid.UUID(sent["id"])
            )
        )
        db.session.remove()
    assert link == original_id
    assert ("transaction.reversed", "success") in audit_actions(app, sent["id"])
    assert ("transaction.reversal", "success") in audit_actions(app, reversal["id"])
    assert_ledger_consistent(app)


def test_a_second_reversal_is_refused_with_already_reversed(app, client, db_session, officer):
    _, officer_headers = officer
    user = make_user(db_session)
    account = make_account(db_session, user)
    deposit = post(
        client,
        "/api/v1/transactions/deposit",
        auth_headers(app, user),
        {"account_id": str(account.public_id), "amount": "25.00", "currency": "USD"},
    ).json
    assert _reverse(client, officer_headers, deposit["id"]).status_code == 201
    again = _reverse(client, officer_headers, deposit["id"])
    assert again.status_code == 409
    assert again.json["error"]["code"] == "already_reversed"
    assert balance_of(app, account.public_id) == (0, 0)
    assert_ledger_consistent(app)


def test_an_unaffordable_reversal_is_refused_and_audited(app, client, db_session, officer):
    _, officer_headers = officer
    alice, bob = make_user(db_session), make_user(db_session)
    src = make_account(db_session, alice, balance="100.00")
    dst = make_account(db_session, bob)
    sent = send_transfer(client, auth_headers(app, alice), src, dst, "60.00").json
    spent = post(
        client,
        "/api/v1/transactions/withdrawal",
        auth_headers(app, bob),
        {"account_id": str(dst.public_id), "amount": "50.00", "currency": "USD"},
    )
    assert spent.status_code == 201
    refused = _reverse(client, officer_headers, sent["id"])
    assert refused.status_code == 422
    assert refused.json["error"]["code"] == "insufficient_funds"
    assert balance_of(app, dst.public_id) == (1000, 0)
    shown = client.get(f"/api/v1/transactions/{sent['id']}", headers=auth_headers(app, alice))
    assert shown.json["status"] == "completed"
    with app.app_context():
        from app.core.extensions import db

        outcome = db.session.scalar(
            sa.select(AuditLog.outcome)
            .where(AuditLog.action == "transaction.reversed")
            .order_by(AuditLog.id.desc())
            .limit(1)
        )
        db.session.remove()
    assert outcome == "failure"
    assert_ledger_consistent(app)


def test_customers_may_not_reverse(app, client, db_session):
    user = make_user(db_session)
    account = make_account(db_session, user, balance="10.00")
    with app.app_context():
        from app.core.extensions import db

        txn_id = db.session.scalar(
            sa.select(JournalTransaction.public_id).where(
                JournalTransaction.to_account_id == account.id
            )
        )
        db.session.remove()
    response = _reverse(client, auth_headers(app, user), txn_id)
    assert response.status_code == 403
    assert balance_of(app, account.public_id) == (1000, 0)


# --- two-phase holds -----------------------------------------------------------------------------


def _authorize(app, account, amount, *, expires_at=None, kind="card_authorization"):
    """Place a hold on `account` towards the card clearing account; returns (txn, hold) ids."""
    from app.core.extensions import db

    with app.app_context():
        session = db.session
        clearing = engine.system_account_id(session, SystemAccount.CARD_CLEARING, "USD")
        result = engine.execute(
            session,
            engine.Movement(
                kind=kind,
                debit_account_id=account.id,
                credit_account_id=clearing,
                amount=amount,
                currency="USD",
                initiator_id=account.user_id,
                metadata={"channel": "card", "mcc": "5411", "country": "DE"},
            ),
            hold=True,
            hold_expires_at=expires_at,
        )
        ids = result.transaction.public_id, result.hold.id
        db.session.remove()
    return ids


def _in_app(app, fn):
    from app.core.extensions import db

    with app.app_context():
        try:
            return fn(db.session)
        finally:
            db.session.remove()


def _refused(app, exc, fn):
    with pytest.raises(exc) as info:
        _in_app(app, fn)
    return info.value


def test_a_hold_captured_in_part_posts_that_part_and_releases_the_rest(app, db_session):
    user = make_user(db_session)
    account = make_account(db_session, user, balance="100.00")
    _, hold_id = _authorize(app, account, 5000)
    assert balance_of(app, account.public_id) == (10000, 5000)
    txn = _in_app(app, lambda s: engine.capture(s, hold_id, 3000, initiator_id=None))
    assert txn.status == "completed" and txn.amount == 3000
    assert balance_of(app, account.public_id) == (7000, 0)
    hold = _in_app(app, lambda s: s.get(Hold, hold_id))
    assert (hold.status, hold.captured_amount, hold.amount) == ("captured", 3000, 5000)
    again = _refused(
        app, HoldNotActive, lambda s: engine.capture(s, hold_id, 1000, initiator_id=None)
    )
    assert again.status == 409
    assert balance_of(app, account.public_id) == (7000, 0)
    assert_ledger_consistent(app)


def test_a_capture_above_the_held_amount_is_refused(app, db_session):
    user = make_user(db_session)
    account = make_account(db_session, user, balance="100.00")
    _, hold_id = _authorize(app, account, 2000)
    refused = _refused(
        app, DomainError, lambda s: engine.capture(s, hold_id, 2001, initiator_id=None)
    )
    assert (refused.status, refused.code) == (422, "capture_exceeds_hold")
    assert balance_of(app, account.public_id) == (10000, 2000)
    _in_app(app, lambda s: engine.capture(s, hold_id, 2000, initiator_id=None))
    assert balance_of(app, account.public_id) == (8000, 0)
    assert_ledger_consistent(app)


def test_a_void_releases_the_hold_without_posting(app, db_session):
    user = make_user(db_session)
    account = make_account(db_session, user, balance="100.00")
    txn_id, hold_id = _authorize(app, account, 4000)
    txn = _in_app(app, lambda s: engine.void(s, hold_id, initiator_id=None))
    assert txn.status == "rejected" and txn.failure_reason == "voided"
    assert balance_of(app, account.public_id) == (10000, 0)
    assert ("transaction.voided", "success") in audit_actions(app, txn_id)
    _refused(app, HoldNotActive, lambda s: engine.void(s, hold_id, initiator_id=None))
    assert_ledger_consistent(app)


def test_a_hold_larger_than_the_available_balance_is_refused(app, db_session):
    user = make_user(db_session)
    account = make_account(db_session, user, balance="10.00")
    with pytest.raises(DomainError) as refused:
        _authorize(app, account, 1001)
    assert refused.value.code == "insufficient_funds"
    assert balance_of(app, account.public_id) == (1000, 0)


def test_expired_holds_are_released_by_a_real_worker_and_a_second_run_changes_nothing(
    app, db_session, run_jobs
):
    from app.core.queue import enqueue
    from app.ledger.tasks import expire_holds

    user = make_user(db_session)
    account = make_account(db_session, user, balance="100.00")
    past = utcnow() - timedelta(seconds=1)
    expired_txn, _ = _authorize(app, account, 1500, expires_at=past)
    _, live_hold = _authorize(app, account, 500, expires_at=utcnow() + timedelta(hours=1))
    assert balance_of(app, account.public_id) == (10000, 2000)

    def book(session):
        enqueue(session, expire_holds, queue="maintenance")
        enqueue(session, expire_holds, queue="maintenance")
        uow.commit(session)

    _in_app(app, book)
    run_jobs()
    assert balance_of(app, account.public_id) == (10000, 500)
    assert ("transaction.hold_expired", "success") in audit_actions(app, expired_txn)
    assert [a for a in audit_actions(app, expired_txn) if a[0] == "transaction.hold_expired"] == [
        ("transaction.hold_expired", "success")
    ]
    assert _in_app(app, lambda s: s.get(Hold, live_hold).status) == "active"
    assert _in_app(app, lambda s: engine.expire_holds(s)) == 0
    assert_ledger_consistent(app)


def test_concurrent_captures_of_one_hold_post_once(app, db_session):
    user = make_user(db_session)
    account = make_account(db_session, user, balance="100.00")
    _, hold_id = _authorize(app, account, 3000)
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def capture() -> None:
        from app.core.extensions import db

        with app.app_context():
            barrier.wait()
            try:
                engine.capture(db.session, hold_id, 3000, initiator_id=None)
                outcomes.append("captured")
            except HoldNotActive:
                db.session.rollback()
                outcomes.append("hold_not_active")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=capture) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["captured"] + ["hold_not_active"] * 5
    assert balance_of(app, account.public_id) == (7000, 0)
    assert_ledger_consistent(app)


# --- balances at an instant ----------------------------------------------------------------------


def test_the_balance_at_an_instant_between_two_postings(app, client, db_session):
    user = make_user(db_session)
    headers = auth_headers(app, user)
    account = make_account(db_session, user, balance="100.00")
    time.sleep(0.01)
    between = utcnow()
    time.sleep(0.01)
    post(
        client,
        "/api/v1/transactions/withdrawal",
        headers,
        {"account_id": str(account.public_id), "amount": "30.00", "currency": "USD"},
    )
    url = f"/api/v1/accounts/{account.public_id}/balance"
    at = client.get(url, query_string={"at": between.isoformat()}, headers=headers)
    assert at.status_code == 200, at.json
    assert at.json == {
        "balance": "100.00",
        "available_balance": "100.00",
        "currency": "USD",
        "as_of": between.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0") + "Z",
    }
    now = client.get(url, headers=headers).json
    assert (now["balance"], now["available_balance"]) == ("70.00", "70.00")
    before = client.get(
        url, query_string={"at": (between - timedelta(days=1)).isoformat()}, headers=headers
    ).json
    assert before["balance"] == "0.00"
    stranger = make_user(db_session)
    assert client.get(url, headers=auth_headers(app, stranger)).status_code == 404


def test_the_available_balance_at_an_instant_counts_the_holds_open_then(app, client, db_session):
    user = make_user(db_session)
    headers = auth_headers(app, user)
    account = make_account(db_session, user, balance="100.00")
    _, hold_id = _authorize(app, account, 2500)
    time.sleep(0.01)
    held_then = utcnow()
    time.sleep(0.01)
    _in_app(app, lambda s: engine.void(s, hold_id, initiator_id=None))
    url = f"/api/v1/accounts/{account.public_id}/balance"
    then = client.get(url, query_string={"at": held_then.isoformat()}, headers=headers).json
    assert (then["balance"], then["available_balance"]) == ("100.00", "75.00")
    now = client.get(url, headers=headers).json
    assert now["available_balance"] == "100.00"


# --- policies and observers ----------------------------------------------------------------------


def test_registered_policies_decline_or_hold_and_observers_run_in_the_movement(
    app, db_session, officer
):
    officer_user, _ = officer
    user = make_user(db_session)
    account = make_account(db_session, user, balance="100.00")
    seen: list[tuple[str, str]] = []

    def block_gambling(ctx):
        if ctx.movement.metadata.get("mcc") == "7995":
            raise DomainError("Gambling is blocked on this card.", code="mcc_blocked", status=422)
        if ctx.movement.amount > 5000:
            return engine.Review("large_card_payment", 60, "above 50.00")
        return None

    engine.register_policy(app, "test_card_controls", block_gambling, kinds=["test_card"])
    engine.register_observer(
        app,
        "test_card_seen",
        lambda ctx, txn: seen.append((ctx.event, txn.status)),
        kinds=["test_card"],
    )
    try:

        def run(amount, mcc):
            def go(session):
                clearing = engine.system_account_id(session, SystemAccount.CARD_CLEARING, "USD")
                return engine.execute(
                    session,
                    engine.Movement(
                        "test_card", account.id, clearing, amount, "USD", user.id, {"mcc": mcc}
                    ),
                ).transaction

            return _in_app(app, go)

        with pytest.raises(DomainError) as declined:
            run(1000, "7995")
        assert declined.value.code == "mcc_blocked"
        assert run(1000, "5411").status == "completed"
        held = run(6000, "5411")
        assert (held.status, held.risk_rules, held.risk_score) == (
            "pending_review",
            ["large_card_payment"],
            60,
        )
        assert seen == [("completed", "completed"), ("review", "pending_review")]
        assert balance_of(app, account.public_id) == (9000, 6000)
        rejected = _in_app(
            app,
            lambda s: engine.decide_review(
                s, held.public_id, approve=False, officer_id=officer_user.id
            ),
        )
        assert rejected.status == "rejected"
        assert balance_of(app, account.public_id) == (9000, 0)
        assert seen[-1] == ("rejected", "rejected")
    finally:
        hooks.of(app).remove("test_card_controls")
        hooks.of(app).remove("test_card_seen")
    assert_ledger_consistent(app)


def test_system_accounts_are_never_locked_nor_cached(app, db_session):
    user = make_user(db_session)
    make_account(db_session, user, balance="10.00")
    settlement = _in_app(
        app,
        lambda s: s.scalar(
            sa.select(Account.balance).where(
                Account.system_code == SystemAccount.SETTLEMENT.value, Account.currency == "USD"
            )
        ),
    )
    assert settlement == 0


def test_a_deposit_held_for_review_arrives_only_when_approved(app, client, db_session, officer):
    officer_user, _ = officer
    user = make_user(db_session)
    headers = auth_headers(app, user)
    account = make_account(db_session, user)

    def large_cash(ctx):
        if ctx.movement.metadata.get("channel") == "cash" and ctx.movement.amount >= 500_00:
            return engine.Review("large_cash_deposit", 70, "cash of 500.00 or more")
        return None

    engine.register_policy(app, "test_large_cash", large_cash, kinds=["deposit"])
    try:
        body = {"account_id": str(account.public_id), "amount": "600.00", "currency": "USD"}
        held = post(client, "/api/v1/transactions/deposit", headers, body).json
        rejected = post(client, "/api/v1/transactions/deposit", headers, body).json
    finally:
        hooks.of(app).remove("test_large_cash")
    assert held["status"] == rejected["status"] == "pending_review"
    assert held["risk_rules"] == ["large_cash_deposit"]
    assert balance_of(app, account.public_id) == (0, 0)
    approved = _in_app(
        app,
        lambda s: engine.decide_review(
            s, uuid.UUID(held["id"]), approve=True, officer_id=officer_user.id
        ),
    )
    assert approved.status == "completed"
    _in_app(
        app,
        lambda s: engine.decide_review(
            s, uuid.UUID(rejected["id"]), approve=False, officer_id=officer_user.id
        ),
    )
    assert balance_of(app, account.public_id) == (60000, 0)
    shown = client.get(f"/api/v1/transactions/{held['id']}", headers=headers).json
    assert shown["status"] == "completed" and len(shown["entries"]) == 2
    assert_ledger_consistent(app)  # the deposit counter counts the approved deposit only


def test_the_expiry_command_releases_what_is_due(app, db_session):
    user = make_user(db_session)
    account = make_account(db_session, user, balance="10.00")
    _authorize(app, account, 300, expires_at=utcnow() - timedelta(seconds=1))
    result = app.test_cli_runner().invoke(args=["ledger", "expire-holds"])
    assert result.exit_code == 0 and "released 1 expired holds" in result.output
    assert balance_of(app, account.public_id) == (1000, 0)
    again = app.test_cli_runner().invoke(args=["ledger", "expire-holds"])
    assert "released 0 expired holds" in again.output


def test_concurrent_reversals_of_one_transaction_book_one(app, client, db_session, officer):
    _, officer_headers = officer
    alice, bob = make_user(db_session), make_user(db_session)
    src = make_account(db_session, alice, balance="100.00")
    dst = make_account(db_session, bob)
    sent = send_transfer(client, auth_headers(app, alice), src, dst, "30.00").json
    barrier = threading.Barrier(5)
    outcomes: list[tuple[int, str | None]] = []

    def reverse() -> None:
        own = app.test_client()
        barrier.wait()
        response = _reverse(own, officer_headers, sent["id"])
        code = response.json["error"]["code"] if response.status_code != 201 else None
        outcomes.append((response.status_code, code))

    threads = [threading.Thread(target=reverse) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes, key=str) == sorted(
        [(201, None)] + [(409, "already_reversed")] * 4, key=str
    )
    assert balance_of(app, src.public_id) == (10000, 0)
    assert balance_of(app, dst.public_id) == (0, 0)
    assert_ledger_consistent(app)


def test_holds_placed_without_an_expiry_live_hold_expiry_seconds_then_expire(app, db_session):
    """A transfer's hold (IBAN, awaiting settlement) and a review's hold take the default
    lifetime, `HOLD_EXPIRY_SECONDS`; past it the expiry job releases them."""
    user = make_user(db_session)
    account = make_account(db_session, user, balance="100.00")
    lifetime = timedelta(seconds=app.config["HOLD_EXPIRY_SECONDS"])
    engine.register_policy(
        app,
        "test_review_large",
        lambda ctx: (
            engine.Review("test_large", 60, "large") if ctx.movement.amount > 5000 else None
        ),
        kinds=["test_hold"],
    )
    try:
        before = utcnow()
        held_txn, held_id = _authorize(app, account, 1000, kind="test_hold")
        review = _in_app(
            app,
            lambda s: (
                engine.execute(
                    s,
                    engine.Movement(
                        "test_hold",
                        account.id,
                        engine.system_account_id(s, SystemAccount.SETTLEMENT, "USD"),
                        6000,
                        "USD",
                        user.id,
                        {},
                    ),
                ).transaction.public_id
            ),
        )
        after = utcnow()
    finally:
        hooks.of(app).remove("test_review_large")
    review_hold = _in_app(
        app,
        lambda s: s.scalars(
            sa.select(Hold.id)
            .join(JournalTransaction)
            .where(JournalTransaction.public_id == review)
        ).one(),
    )
    for hold_id in (held_id, review_hold):
        expires = _in_app(app, lambda s, h=hold_id: s.get(Hold, h).expires_at)
        assert before + lifetime <= expires <= after + lifetime
    assert balance_of(app, account.public_id) == (10000, 7000)
    _in_app(app, lambda s: engine.expire_holds(s, now=before + lifetime - timedelta(seconds=1)))
    assert balance_of(app, account.public_id) == (10000, 7000)
    _in_app(app, lambda s: engine.expire_holds(s, now=after + lifetime))
    assert balance_of(app, account.public_id) == (10000, 0)
    rows = _in_app(
        app,
        lambda s: s.execute(
            sa.select(JournalTransaction.status, JournalTransaction.failure_reason).where(
                JournalTransaction.public_id.in_([held_txn, review])
            )
        ).all(),
    )
    assert sorted(rows) == [("rejected", "expired"), ("rejected", "expired")]
    assert_ledger_consistent(app)
