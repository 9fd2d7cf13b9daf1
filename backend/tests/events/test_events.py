"""Events are written with the change they tell of, and read in commit order without a gap."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from app.core import events, uow
from app.core.events import Event
from tests.factories import auth_headers, make_user
from tests.money_helpers import make_account, post, transfer_body

pytestmark = [pytest.mark.postgres]

TRANSFER = "/api/v1/transactions/transfer"


def _events(session, **where) -> list[Event]:
    query = sa.select(Event).order_by(Event.id)
    for name, value in where.items():
        query = query.where(getattr(Event, name) == value)
    return list(session.scalars(query))


def test_a_transfer_writes_one_event_per_customer_account_in_its_transaction(
    app, client, db_session
):
    alice, bob = make_user(db_session), make_user(db_session)
    src = make_account(db_session, alice, balance="100.00")
    dst = make_account(db_session, bob)
    before = db_session.scalar(sa.select(sa.func.count()).select_from(Event))

    response = post(client, TRANSFER, auth_headers(app, alice), transfer_body(src, dst, "12.34"))
    assert response.status_code == 201, response.get_json()
    txn_id = response.get_json()["id"]

    db_session.expire_all()
    alices = [e for e in _events(db_session, user_id=alice.id) if e.type == "movement.completed"]
    bobs = _events(db_session, user_id=bob.id)
    assert [e.data["direction"] for e in alices if e.data["transaction_id"] == txn_id] == ["debit"]
    assert [(e.type, e.data["direction"]) for e in bobs] == [("movement.completed", "credit")]
    assert bobs[0].data == {
        "transaction_id": txn_id,
        "transaction_type": "transfer",
        "status": "completed",
        "amount": "12.34",
        "currency": "USD",
        "account_id": str(dst.public_id),
        "direction": "credit",
    }
    # Bob's event says nothing of Alice's account.
    assert str(src.public_id) not in str(bobs[0].data)
    # The events and the movement committed in one transaction (PostgreSQL's xmin).
    xmins = db_session.execute(
        sa.text(
            "SELECT DISTINCT e.xmin::text FROM events e WHERE e.data->>'transaction_id' = :t "
            "UNION SELECT t.xmin::text FROM journal_transactions t "
            "WHERE t.public_id = CAST(:t AS uuid)"
        ),
        {"t": txn_id},
    ).all()
    assert len(xmins) == 1
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Event)) == before + 2


def test_a_refused_transfer_writes_no_event(app, client, db_session):
    alice, bob = make_user(db_session), make_user(db_session)
    src = make_account(db_session, alice, balance="5.00")
    dst = make_account(db_session, bob)

    response = post(client, TRANSFER, auth_headers(app, alice), transfer_body(src, dst, "50.00"))

    assert response.status_code == 422
    db_session.expire_all()
    assert _events(db_session, user_id=bob.id) == []


def test_a_customer_reads_only_their_own_events(app, db_session):
    alice, bob = make_user(db_session), make_user(db_session)
    make_account(db_session, alice, balance="10.00")
    make_account(db_session, bob, balance="20.00")
    events.sequence(db_session)

    mine = events.after(db_session, 0, user_id=alice.id)
    theirs = events.after(db_session, 0, user_id=bob.id)

    assert mine and theirs
    assert {e.user_id for e in mine} == {alice.id}
    assert {e.data["amount"] for e in mine} == {"10.00"}
    assert {e.user_id for e in theirs} == {bob.id}
    assert all(e.audience == "customer" for e in mine + theirs)
    officers = events.after(db_session, 0, audience="compliance")
    assert all(e.audience == "compliance" for e in officers)


def test_positions_follow_commit_order_not_insert_order(app, db_session):
    """An event inserted first but committed last is numbered after the one that committed
    first: a reader resuming after the later one's position misses nothing."""
    from app.core.extensions import db

    user = make_user(db_session)
    events.sequence(db_session)
    start = events.last_position(db_session)
    inserted = threading.Event()
    release = threading.Event()

    def slow_writer() -> None:
        with app.app_context():
            session = db.session
            events.emit(session, "test.first", {"n": 1}, user_id=user.id)
            uow.of(session).flush()  # its id is taken now…
            inserted.set()
            release.wait(10)
            uow.commit(session)  # …and it commits after the second
            session.remove() if hasattr(session, "remove") else None

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert inserted.wait(10)
    events.emit(db_session, "test.second", {"n": 2}, user_id=user.id)
    uow.commit(db_session)
    events.sequence(db_session)  # numbers only what has committed: the second
    seen = events.after(db_session, start, user_id=user.id)
    assert [e.type for e in seen] == ["test.second"]
    resume_from = seen[-1].position

    release.set()
    thread.join(10)
    events.sequence(db_session)
    later = events.after(db_session, resume_from, user_id=user.id)
    assert [e.type for e in later] == ["test.first"]
    assert later[0].id < seen[0].id  # inserted first, numbered after


def test_sequence_from_many_processes_at_once_numbers_each_event_once(app, db_session):
    from app.core.extensions import db

    user = make_user(db_session)
    for n in range(200):
        events.emit(db_session, "test.bulk", {"n": n}, user_id=user.id)
    uow.commit(db_session)

    def run() -> None:
        with app.app_context():
            events.sequence(db.session, batch=37)
            events.sequence(db.session, batch=37)
            db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    while events.sequence(db_session):
        pass
    rows = db_session.execute(
        sa.select(Event.id, Event.position)
        .where(Event.user_id == user.id, Event.type == "test.bulk")
        .order_by(Event.id)
    ).all()
    positions = [row.position for row in rows]
    assert None not in positions
    assert positions == sorted(positions)
    assert len(set(positions)) == 200


def test_an_event_payload_must_be_json(app, db_session):
    user = make_user(db_session)
    with pytest.raises(TypeError):
        events.emit(db_session, "test.bad", {"when": object()}, user_id=user.id)
    with pytest.raises(ValueError):
        events.emit(db_session, "test.bad", {}, audience="customer")
