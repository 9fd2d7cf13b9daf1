"""Idempotency-Key: replay byte for byte, reuse with another body, concurrency, cleanup."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from rq.registry import ScheduledJobRegistry

from app.auth.models import User
from app.core.db import utcnow
from app.core.idempotency import (
    ARMED_KEY,
    Claim,
    ClaimTakenOver,
    IdempotencyKey,
    claim,
    fingerprint,
    release,
)
from app.core.queue import enqueue, get_queue
from app.extensions import db
from app.ledger.models import JournalTransaction
from app.transactions.tasks import (
    PURGE_JOB_PREFIX,
    purge_idempotency_keys,
    schedule_idempotency_purge,
)
from app.transactions.transfers import transfer
from tests.factories import auth_headers, make_user
from tests.money_helpers import assert_ledger_consistent, balance_of, make_account, post

pytestmark = pytest.mark.postgres

TRANSFER = "/api/v1/transactions/transfer"


def _transfer_body(src, dst, amount="5.00") -> dict:
    return {
        "from_account_id": str(src.public_id),
        "to_account_id": str(dst.public_id),
        "amount": amount,
        "currency": "USD",
    }


def _count_transfers(db_session, account) -> int:
    return db_session.scalar(
        sa.select(sa.func.count())
        .select_from(JournalTransaction)
        .where(JournalTransaction.from_account_id == account.id)
    )


def test_replay_is_byte_for_byte(app, client, db_session):
    user = make_user(db_session)
    headers = auth_headers(app, user)
    src = make_account(db_session, user, balance="100.00")
    dst = make_account(db_session, user)
    body = _transfer_body(src, dst, "7.00")
    key = str(uuid.uuid4())
    first = post(client, TRANSFER, headers, body, key=key)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    # Same body, keys in another order: the same request.
    again = post(client, TRANSFER, headers, dict(reversed(list(body.items()))), key=key)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_data() == first.get_data()
    assert again.headers["Content-Type"] == first.headers["Content-Type"]
    assert balance_of(app, src.public_id) == (9300, 0)
    assert _count_transfers(db_session, src) == 1
    # The same key under another user is another key.
    other = make_user(db_session)
    theirs = make_account(db_session, other, balance="10.00")
    mine = post(
        client,
        TRANSFER,
        auth_headers(app, other),
        {**body, "from_account_id": str(theirs.public_id)},
        key=key,
    )
    assert mine.status_code == 201 and "Idempotent-Replayed" not in mine.headers


def test_reuse_with_another_body_is_refused(app, client, db_session):
    user = make_user(db_session)
    headers = auth_headers(app, user)
    src = make_account(db_session, user, balance="100.00")
    dst = make_account(db_session, user)
    body = _transfer_body(src, dst, "7.00")
    key = str(uuid.uuid4())
    assert post(client, TRANSFER, headers, body, key=key).status_code == 201
    reused = post(client, TRANSFER, headers, {**body, "amount": "8.00"}, key=key)
    assert reused.status_code == 422
    assert reused.json["error"]["code"] == "idempotency_key_reused"
    elsewhere = post(
        client,
        "/api/v1/transactions/withdrawal",
        headers,
        {"account_id": str(src.public_id), "amount": "7.00", "currency": "USD"},
        key=key,
    )
    assert elsewhere.json["error"]["code"] == "idempotency_key_reused"
    assert balance_of(app, src.public_id) == (9300, 0)


def test_a_refusal_is_replayed_and_a_validation_error_frees_the_key(app, client, db_session):
    user = make_user(db_session)
    headers = auth_headers(app, user)
    src = make_account(db_session, user, balance="5.00")
    dst = make_account(db_session, user)
    body = _transfer_body(src, dst, "7.00")
    key = str(uuid.uuid4())
    refused = post(client, TRANSFER, headers, body, key=key)
    assert refused.json["error"]["code"] == "insufficient_funds"
    replayed = post(client, TRANSFER, headers, body, key=key)
    assert replayed.get_data() == refused.get_data()
    assert replayed.headers["Idempotent-Replayed"] == "true"
    # A body that fails validation is no decision: the corrected request may use the key.
    other_key = str(uuid.uuid4())
    invalid = post(client, TRANSFER, headers, {**body, "amount": 1.5}, key=other_key)
    assert invalid.status_code == 422
    corrected = post(client, TRANSFER, headers, {**body, "amount": "1.50"}, key=other_key)
    assert corrected.status_code == 201


def test_twenty_concurrent_requests_with_one_key_create_one_transaction(app, db_session):
    user = make_user(db_session)
    headers = auth_headers(app, user)
    src = make_account(db_session, user, balance="100.00")
    dst = make_account(db_session, user)
    body = _transfer_body(src, dst, "3.00")
    key = str(uuid.uuid4())
    barrier = threading.Barrier(20)
    results: list = []

    def worker():
        client = app.test_client()
        barrier.wait()
        response = post(client, TRANSFER, headers, body, key=key)
        results.append(response)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    created = [
        r for r in results if r.status_code == 201 and "Idempotent-Replayed" not in r.headers
    ]
    assert len(created) == 1
    for response in results:
        if response is created[0]:
            continue
        if response.status_code == 409:
            assert response.json["error"]["code"] == "request_in_progress"
        else:
            assert response.status_code == 201
            assert response.headers["Idempotent-Replayed"] == "true"
            assert response.get_data() == created[0].get_data()
    assert _count_transfers(db_session, src) == 1
    assert balance_of(app, src.public_id) == (9700, 0)
    # Once the first has finished, a retry is a replay.
    late = post(app.test_client(), TRANSFER, headers, body, key=key)
    assert late.headers["Idempotent-Replayed"] == "true"
    assert late.get_data() == created[0].get_data()
    assert_ledger_consistent(app)


def test_cleanup_job_purges_keys_past_retention(app, client, db_session, run_jobs):
    user = make_user(db_session)
    headers = auth_headers(app, user)
    src = make_account(db_session, user, balance="100.00")
    dst = make_account(db_session, user)
    body = _transfer_body(src, dst, "1.00")
    old_key, new_key = str(uuid.uuid4()), str(uuid.uuid4())
    assert post(client, TRANSFER, headers, body, key=old_key).status_code == 201
    assert post(client, TRANSFER, headers, body, key=new_key).status_code == 201
    db_session.execute(
        sa.update(IdempotencyKey)
        .where(IdempotencyKey.user_id == user.id, IdempotencyKey.key == old_key)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    enqueue(db_session, purge_idempotency_keys, queue="maintenance")
    db_session.commit()
    run_jobs()
    keys = set(
        db_session.scalars(sa.select(IdempotencyKey.key).where(IdempotencyKey.user_id == user.id))
    )
    assert keys == {new_key}
    # The purged key is free again: a new movement, not a replay.
    fresh = post(client, TRANSFER, headers, body, key=old_key)
    assert fresh.status_code == 201 and "Idempotent-Replayed" not in fresh.headers
    assert balance_of(app, src.public_id) == (9700, 0)


def test_an_expired_key_is_not_replayed(app, client, db_session):
    user = make_user(db_session)
    headers = auth_headers(app, user)
    src = make_account(db_session, user, balance="100.00")
    dst = make_account(db_session, user)
    body = _transfer_body(src, dst, "1.00")
    key = str(uuid.uuid4())
    assert post(client, TRANSFER, headers, body, key=key).status_code == 201
    db_session.execute(
        sa.update(IdempotencyKey)
        .where(IdempotencyKey.user_id == user.id, IdempotencyKey.key == key)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    db_session.commit()
    again = post(client, TRANSFER, headers, body, key=key)
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers


def _booked_purges(registry):
    return [j for j in registry.get_job_ids() if j.startswith(PURGE_JOB_PREFIX)]


def test_workers_keep_the_purge_job_booked(app, run_jobs):
    """A starting worker books the purge; each run books the next; never two at once."""
    with app.app_context():
        queue = get_queue("maintenance")
        registry = ScheduledJobRegistry(queue=queue)
        for job_id in _booked_purges(registry):
            registry.remove(job_id, delete_job=True)

        result = app.test_cli_runner().invoke(args=["worker", "--burst", "--queues", "maintenance"])
        assert result.exit_code == 0, result.output
        (booked,) = _booked_purges(registry)
        assert schedule_idempotency_purge(queue) == booked  # no second booking
        interval = app.config["IDEMPOTENCY_PURGE_INTERVAL_SECONDS"]
        due = registry.get_scheduled_time(booked)
        assert interval - 60 < (due - datetime.now(UTC)).total_seconds() <= interval

        # Run the booked job now instead of in an hour.
        job = queue.fetch_job(booked)
        registry.remove(booked)
        queue.enqueue_job(job)
    run_jobs(queues=("maintenance",))
    with app.app_context():
        assert queue.fetch_job(booked).get_status() == "finished"
        (following,) = _booked_purges(registry)
        assert following != booked


def _claim(app, user, key, body) -> Claim:
    """What a request does first: claim the key (as if it then died or stalled)."""
    with app.test_request_context():
        held = claim(
            user_id=user.id,
            key=key,
            fingerprint=fingerprint("POST", TRANSFER, json.dumps(body).encode()),
        )
    assert isinstance(held, Claim)
    return held


def _age_claim(db_session, held: Claim, seconds: int) -> None:
    db_session.execute(
        sa.update(IdempotencyKey)
        .where(IdempotencyKey.id == held.id)
        .values(claimed_at=utcnow() - timedelta(seconds=seconds))
    )
    db_session.commit()


def test_a_retry_takes_over_the_stale_claim_of_a_request_that_died(app, client, db_session):
    user = make_user(db_session)
    headers = auth_headers(app, user)
    src = make_account(db_session, user, balance="100.00")
    dst = make_account(db_session, user)
    body, key = _transfer_body(src, dst), str(uuid.uuid4())
    held = _claim(app, user, key, body)

    early = post(client, TRANSFER, headers, body, key=key)
    assert early.status_code == 409
    assert early.json["error"]["code"] == "request_in_progress"

    _age_claim(db_session, held, app.config["IDEMPOTENCY_STALE_SECONDS"] + 1)
    retried = post(client, TRANSFER, headers, body, key=key)
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
    replayed = post(client, TRANSFER, headers, body, key=key)
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.get_data() == retried.get_data()
    assert _count_transfers(db_session, src) == 1
    assert balance_of(app, src.public_id) == (9500, 0)


def test_a_request_whose_claim_was_taken_over_cannot_commit_its_movement(app, db_session):
    user = make_user(db_session)
    src = make_account(db_session, user, balance="100.00")
    dst = make_account(db_session, user)
    body, key = _transfer_body(src, dst), str(uuid.uuid4())
    user_id, src_id, dst_id = user.id, src.public_id, dst.public_id
    src_pk = src.id
    slow = _claim(app, user, key, body)
    _age_claim(db_session, slow, app.config["IDEMPOTENCY_STALE_SECONDS"] + 1)
    retry = _claim(app, user, key, body)
    assert retry.id == slow.id and retry.token != slow.token

    def transfers_out() -> int:
        return db_session.scalar(
            sa.select(sa.func.count())
            .select_from(JournalTransaction)
            .where(JournalTransaction.from_account_id == src_pk)
        )

    def run_transfer_under(held: Claim):
        with app.test_request_context():
            session = db.session()
            session.info[ARMED_KEY] = held
            try:
                return transfer(
                    db.session,
                    user=db.session.get(User, user_id),
                    from_account_id=src_id,
                    to_account_id=dst_id,
                    amount=500,
                    currency="USD",
                )
            finally:
                db.session.rollback()
                db.session.remove()

    # The stalled original wakes up: its commit is refused and nothing of it stays.
    with pytest.raises(ClaimTakenOver):
        run_transfer_under(slow)
    assert transfers_out() == 0
    assert balance_of(app, src_id) == (10000, 0)
    # The retry that took over moves the money, once.
    run_transfer_under(retry)
    assert transfers_out() == 1
    assert balance_of(app, src_id) == (9500, 0)
    assert_ledger_consistent(app)


def test_a_key_is_never_freed_once_its_movement_committed(app, client, db_session):
    user = make_user(db_session)
    headers = auth_headers(app, user)
    src = make_account(db_session, user, balance="100.00")
    dst = make_account(db_session, user)
    body, key = _transfer_body(src, dst), str(uuid.uuid4())
    held = _claim(app, user, key, body)
    with app.test_request_context():
        db.session().info[ARMED_KEY] = held
        transfer(
            db.session,
            user=db.session.get(User, user.id),
            from_account_id=src.public_id,
            to_account_id=dst.public_id,
            amount=500,
            currency="USD",
        )
        # The request then fails before storing its response (say, the process dies).
        assert release(held) is False
        db.session.remove()
    row = db_session.scalars(sa.select(IdempotencyKey).where(IdempotencyKey.id == held.id)).one()
    assert row.status == "committed"
    retry = post(client, TRANSFER, headers, body, key=key)
    assert retry.status_code == 409
    assert "carried out" in retry.json["error"]["message"]
    assert _count_transfers(db_session, src) == 1


def test_the_stored_fingerprint_is_keyed_so_a_card_number_cannot_be_guessed_from_it(app):
    """A body may carry a PAN: its fingerprint depends on the server's secret, not only on it."""
    import hashlib

    body = b'{"pan": "4000120000000006"}'
    plain = hashlib.sha256(b"POST /api/v1/card-network/authorizations\n" + body).hexdigest()
    with app.test_request_context():
        keyed = fingerprint("POST", "/api/v1/card-network/authorizations", body)
        app.config["SECRET_KEY"], saved = "another-secret-" + "x" * 32, app.config["SECRET_KEY"]
        try:
            other = fingerprint("POST", "/api/v1/card-network/authorizations", body)
        finally:
            app.config["SECRET_KEY"] = saved
    assert keyed != plain
    assert keyed != other
