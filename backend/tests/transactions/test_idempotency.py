"""Idempotency-Key: replay byte for byte, reuse with another body, concurrency, cleanup."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from rq.registry import ScheduledJobRegistry

from app.core import uow
from app.core.audit import AuditLog
from app.core.db import utcnow
from app.core.idempotency import IdempotencyKey, fingerprint
from app.core.idempotency_purge import (
    PURGE_JOB_PREFIX,
    purge_idempotency_keys,
    schedule_idempotency_purge,
)
from app.core.queue import enqueue, get_queue
from app.edge import idempotency as edge_idempotency
from app.ledger.models import JournalTransaction
from app.transactions import tasks as transactions_tasks
from tests.factories import auth_headers, make_user
from tests.money_helpers import (
    assert_ledger_consistent,
    balance_of,
    make_account,
    own_transfer,
    post,
    run_threads,
    transfer_body,
)

pytestmark = pytest.mark.postgres

TRANSFER = "/api/v1/transactions/transfer"


def _count_transfers(db_session, account) -> int:
    return db_session.scalar(
        sa.select(sa.func.count())
        .select_from(JournalTransaction)
        .where(JournalTransaction.from_account_id == account.id)
    )


def test_replay_is_byte_for_byte(app, client, db_session):
    headers, src, body = own_transfer(app, db_session, amount="7.00")
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
    headers, src, body = own_transfer(app, db_session, amount="7.00")
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
    headers, _, body = own_transfer(app, db_session, amount="7.00", balance="5.00")
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
    headers, src, body = own_transfer(app, db_session, amount="3.00")
    key = str(uuid.uuid4())
    barrier = threading.Barrier(20)
    results: list = []

    def worker():
        client = app.test_client()
        barrier.wait()
        response = post(client, TRANSFER, headers, body, key=key)
        results.append(response)

    run_threads([threading.Thread(target=worker) for _ in range(20)])
    created = [
        r for r in results if r.status_code == 201 and "Idempotent-Replayed" not in r.headers
    ]
    assert len(created) == 1
    for response in results:
        if response is created[0]:
            continue
        # A duplicate waits for the first to commit, then gets its answer: never a 409.
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
    body = transfer_body(src, dst, "1.00")
    old_key, new_key = str(uuid.uuid4()), str(uuid.uuid4())
    assert post(client, TRANSFER, headers, body, key=old_key).status_code == 201
    assert post(client, TRANSFER, headers, body, key=new_key).status_code == 201
    db_session.execute(
        sa.update(IdempotencyKey)
        .where(IdempotencyKey.user_id == user.id, IdempotencyKey.key == old_key)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    enqueue(db_session, purge_idempotency_keys, queue="maintenance")
    uow.commit(db_session)
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
    body = transfer_body(src, dst, "1.00")
    key = str(uuid.uuid4())
    assert post(client, TRANSFER, headers, body, key=key).status_code == 201
    db_session.execute(
        sa.update(IdempotencyKey)
        .where(IdempotencyKey.user_id == user.id, IdempotencyKey.key == key)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    uow.commit(db_session)
    again = post(client, TRANSFER, headers, body, key=key)
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers


def test_a_purge_queued_under_its_old_path_still_runs():
    # Jobs booked before the purge moved to core name `app.transactions.tasks`.
    assert transactions_tasks.purge_idempotency_keys is purge_idempotency_keys


def _booked_purges(registry):
    return [j for j in registry.get_job_ids() if j.startswith(PURGE_JOB_PREFIX)]


def test_workers_keep_the_purge_job_booked(app, run_jobs):
    """A starting worker books the purge; each run books the next; never two at once."""
    with app.app_context():
        queue = get_queue("maintenance")
        registry = ScheduledJobRegistry(queue=queue)
        for job_id in _booked_purges(registry):
            registry.remove(job_id, delete_job=True)

        started = datetime.now(UTC)
        result = app.test_cli_runner().invoke(args=["worker", "--burst", "--queues", "maintenance"])
        assert result.exit_code == 0, result.output
        (booked,) = _booked_purges(registry)
        assert schedule_idempotency_purge(queue) == booked  # no second booking
        interval = timedelta(seconds=app.config["IDEMPOTENCY_PURGE_INTERVAL_SECONDS"])
        due = registry.get_scheduled_time(booked)  # RQ keeps whole seconds
        assert started + interval - timedelta(seconds=1) <= due <= datetime.now(UTC) + interval

        # Run the booked job now instead of in an hour.
        job = queue.fetch_job(booked)
        registry.remove(booked)
        queue.enqueue_job(job)
    run_jobs(queues=("maintenance",))
    with app.app_context():
        assert queue.fetch_job(booked).get_status() == "finished"
        (following,) = _booked_purges(registry)
        assert following != booked


def _audit_actions(db_session, resource_id) -> list[str]:
    return list(
        db_session.scalars(
            sa.select(AuditLog.action).where(AuditLog.resource_id == str(resource_id))
        )
    )


def test_a_failure_before_the_commit_leaves_nothing_and_the_retry_runs_once(
    app, client, db_session, monkeypatch
):
    """The key and its response are written in the movement's transaction, right before the
    COMMIT: a failure there takes the movement, its audit record and the key with it."""
    headers, src, body = own_transfer(app, db_session, amount="5.00")
    key = str(uuid.uuid4())
    audit_rows = db_session.scalar(sa.select(sa.func.count()).select_from(AuditLog))
    uow.commit(db_session)

    def broken_stage(*args, **kwargs):
        raise RuntimeError("the process dies before its COMMIT")

    monkeypatch.setattr(edge_idempotency, "stage", broken_stage)
    failed = post(client, TRANSFER, headers, body, key=key)
    assert failed.status_code == 500
    assert _count_transfers(db_session, src) == 0
    assert db_session.scalar(sa.select(sa.func.count()).select_from(AuditLog)) == audit_rows
    assert (
        db_session.scalar(
            sa.select(sa.func.count()).select_from(IdempotencyKey).where(IdempotencyKey.key == key)
        )
        == 0
    )
    uow.commit(db_session)

    monkeypatch.undo()
    retried = post(client, TRANSFER, headers, body, key=key)
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
    again = post(client, TRANSFER, headers, body, key=key)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_data() == retried.get_data()
    assert _count_transfers(db_session, src) == 1
    assert _audit_actions(db_session, retried.json["id"]) == ["transaction.transfer"]
    assert balance_of(app, src.public_id) == (9500, 0)
    assert_ledger_consistent(app)


def test_the_key_and_its_response_commit_with_the_movement(app, client, db_session):
    headers, _, body = own_transfer(app, db_session, amount="5.00")
    key = str(uuid.uuid4())
    created = post(client, TRANSFER, headers, body, key=key)
    assert created.status_code == 201
    row = db_session.execute(
        sa.select(
            IdempotencyKey.status,
            IdempotencyKey.response_status,
            IdempotencyKey.response_body,
            sa.literal_column("idempotency_keys.xmin::text"),
        ).where(IdempotencyKey.key == key)
    ).one()
    txn = db_session.execute(
        sa.select(sa.literal_column("journal_transactions.xmin::text")).where(
            JournalTransaction.public_id == uuid.UUID(created.json["id"])
        )
    ).scalar_one()
    assert row[:3] == ("completed", 201, created.get_data())
    assert row[3] == txn  # written by the same PostgreSQL transaction


def test_a_key_left_committed_without_its_answer_keeps_answering_409(app, client, db_session):
    """Keys from before the key moved into the movement's transaction: the change committed and
    its answer was not kept. They answer 409 until they expire, never a second movement."""
    user = make_user(db_session)
    headers = auth_headers(app, user)
    src = make_account(db_session, user, balance="100.00")
    dst = make_account(db_session, user)
    body, key = transfer_body(src, dst, "5.00"), str(uuid.uuid4())
    with app.test_request_context():
        digest = fingerprint("POST", TRANSFER, json.dumps(body).encode())
    now = utcnow()
    db_session.add(
        IdempotencyKey(
            user_id=user.id,
            key=key,
            fingerprint=digest,
            status="committed",
            created_at=now,
            expires_at=now + timedelta(hours=1),
        )
    )
    uow.commit(db_session)
    retry = post(client, TRANSFER, headers, body, key=key)
    assert retry.status_code == 409
    assert "carried out" in retry.json["error"]["message"]
    assert _count_transfers(db_session, src) == 0


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
