"""A worker killed with SIGKILL in the middle of a sync: the job is retried, no duplicates."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from rq import Queue
from rq.registry import StartedJobRegistry

from tests.wealth.conftest import link, positions, snapshots

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

BACKEND = Path(__file__).resolve().parents[2]


def _worker(pg_url: str, redis_url: str, rates_url: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "FLOWLET_ENV": "testing",
        "DATABASE_URL": pg_url,
        "REDIS_URL": redis_url,
        "EXCHANGE_RATES_URL": rates_url,
        "WEALTH_SYNC_RETRY_BASE_SECONDS": "0",
    }
    flask = Path(sys.executable).with_name("flask")
    return subprocess.Popen(
        [str(flask), "--app", "main", "worker", "--queues", "sync"],
        cwd=BACKEND,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the worker and any work horse
    )


def test_job_killed_mid_sync_is_retried_without_duplicate_snapshots(
    app,
    client,
    customer,
    db_session,
    rest_broker,
    broker_server,
    rates_server,
    pg_url,
    redis_url,
    sync_jobs,
):
    body = link(client, customer, rest_broker, username="hank", password="pw").get_json()
    link_id = body["linked_account"]["id"]
    sync_jobs()
    (before,) = snapshots(db_session, link_id)
    assert before.balance == 1523450

    # The second sync of the day stalls at the positions call; the worker dies right there.
    reached, release = threading.Event(), threading.Event()
    broker_server.state.update(
        balance="20000.00", positions_reached=reached, positions_release=release
    )
    job_id = client.post(
        f"/api/v1/linked-accounts/{link_id}/sync", headers=customer.headers
    ).get_json()["job_id"]
    worker = _worker(pg_url, redis_url, rates_server.url)
    try:
        assert reached.wait(60), "the worker never reached the broker"
        assert (
            client.get(f"/api/v1/jobs/{job_id}", headers=customer.headers).get_json()["status"]
            == "started"
        )
        os.killpg(worker.pid, signal.SIGKILL)  # kill -9 of the worker (and a forked horse)
        assert worker.wait(10) == -signal.SIGKILL
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)
        release.set()
    broker_server.state.pop("positions_reached")

    # RQ's own maintenance finds the abandoned job once its heartbeat has lapsed; run it
    # with a timestamp past that point instead of waiting minutes.
    queue = Queue("sync", connection=app.extensions["flowlet_redis"])
    StartedJobRegistry(queue=queue).cleanup(timestamp=time.time() + 24 * 3600)
    job = client.get(f"/api/v1/jobs/{job_id}", headers=customer.headers).get_json()
    assert job["status"] == "queued"  # put back for its retry

    sync_jobs()

    job = client.get(f"/api/v1/jobs/{job_id}", headers=customer.headers).get_json()
    assert job["status"] == "finished"
    (after,) = snapshots(db_session, link_id)
    assert after.id == before.id and after.snapshot_date == before.snapshot_date
    assert after.balance == 2000000
    assert [p.symbol for p in positions(db_session, after.id)] == ["AAPL", "VWCE"]
    shown = client.get(f"/api/v1/linked-accounts/{link_id}", headers=customer.headers)
    assert shown.get_json()["status"] == "active"
