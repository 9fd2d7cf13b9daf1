"""Four outbox relays, each on its own database connection, race over the same pending rows:
every row reaches RQ exactly once."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import timedelta

import pytest
import redis as redis_lib
import sqlalchemy as sa
from flask import Flask

from app.core.db import utcnow
from app.core.extensions import db
from app.core.outbox import PENDING, SENT, JobOutbox, relay_pending

ROWS = 400
RELAYS = 4


@pytest.fixture
def pending_rows(app: Flask, redis_url: str):
    """ROWS pending outbox rows, due now, on a queue of their own."""
    queue = f"race-{uuid.uuid4().hex[:8]}"
    past = utcnow() - timedelta(minutes=1)
    ids = [f"race-{uuid.uuid4()}" for _ in range(ROWS)]
    rows = [
        {
            "id": job_id,
            "func": "tests.lease.jobs.lease_probe",
            "args": [],
            "kwargs": {},
            "queue": queue,
            "retry_max": 1,
            "retry_intervals": [10],
            "status": PENDING,
            "attempts": 0,
            "created_at": past,
            "next_attempt_at": past,
        }
        for job_id in ids
    ]
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(sa.insert(JobOutbox), rows)
    yield queue, ids
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(sa.delete(JobOutbox).where(JobOutbox.id.in_(ids)))
    client = redis_lib.Redis.from_url(redis_url)
    client.delete(f"rq:queue:{queue}", *(f"rq:job:{job_id}" for job_id in ids))


def test_four_racing_relays_send_every_row_exactly_once(app: Flask, pending_rows) -> None:
    queue, ids = pending_rows
    start = threading.Barrier(RELAYS)
    sent_by: list[int] = [0] * RELAYS
    errors: list[BaseException] = []

    def relay(index: int) -> None:
        try:
            with app.app_context():  # its own scoped session, so its own connection
                redis = app.extensions["flowlet_redis"]
                assert db.session.connection().connection.dbapi_connection is not None
                start.wait()
                result = None
                while result is None or result.sent or result.failed:
                    result = relay_pending(db.session(), redis, limit=10)
                    sent_by[index] += result.sent
                db.session.remove()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=relay, args=(i,)) for i in range(RELAYS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors

    assert sum(sent_by) == ROWS, sent_by  # no relay counted a row another one sent
    assert sum(1 for n in sent_by if n) >= 2, sent_by  # they did race
    client = redis_lib.Redis.from_url(app.config["REDIS_URL"])
    pushed = Counter(value.decode() for value in client.lrange(f"rq:queue:{queue}", 0, -1))
    assert set(pushed) == set(ids)
    assert max(pushed.values()) == 1  # no job id queued twice
    with app.app_context():
        statuses = db.session.scalars(
            sa.select(JobOutbox.status).where(JobOutbox.id.in_(ids))
        ).all()
        db.session.remove()
    assert Counter(statuses) == {SENT: ROWS}
