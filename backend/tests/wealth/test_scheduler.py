"""`flask scheduler`: one table of periodic jobs on RQ's own cron scheduler."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rq import Queue
from rq.job import Job

from app.core.schedule import build_scheduler, schedule_of

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

BACKEND = Path(__file__).resolve().parents[2]
QUEUES = ("default", "sync", "notifications", "maintenance")


def test_every_entry_names_an_existing_job_and_one_of_the_queues(app):
    entries = schedule_of(app).entries
    names = [e.name for e in entries]
    assert len(names) == len(set(names))
    assert set(names) == {
        "aml-batch",
        "broker-sync-daily",
        "card-expiry",
        "customer-risk",
        "events-purge",
        "exchange-rates",
        "hold-expiry",
        "idempotency-key-purge",
        "sanctions-rescreen",
        "webauthn-challenge-purge",
        "webhooks",
        "weekly-wealth-report",
    }
    for entry in entries:
        func = entry.resolve()
        assert callable(func) and func.__wrapped__  # a core.queue.task
        assert entry.queue in QUEUES
        assert (entry.interval is None) != (entry.cron is None)


def test_scheduler_list_prints_the_table(app):
    result = app.test_cli_runner().invoke(args=["scheduler", "--list"])
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert len(lines) == len(schedule_of(app).entries)
    assert [line.split()[0] for line in lines] == sorted(e.name for e in schedule_of(app).entries)
    broker_sync = next(line for line in lines if line.startswith("broker-sync-daily "))
    assert broker_sync.split() == [
        "broker-sync-daily",
        "cron",
        "0",
        "3",
        "*",
        "*",
        "*",
        "sync",
        "app.wealth.tasks.sync_all_linked_accounts",
    ]


def test_each_scheduled_job_runs_on_a_real_worker(app, run_jobs, customer, client, sync_jobs):
    redis = app.extensions["flowlet_redis"]
    from tests.wealth.conftest import link

    link(client, customer)
    sync_jobs()
    scheduler = build_scheduler(schedule_of(app).entries, redis)
    jobs = [cron_job.enqueue(redis) for cron_job in scheduler.get_jobs()]
    run_jobs(QUEUES)
    for job in jobs:
        job = Job.fetch(job.id, connection=redis)
        assert job.get_status() == "finished", (job.func_name, job.exc_info)
    results = {job.func_name: Job.fetch(job.id, connection=redis).return_value() for job in jobs}
    assert results["app.wealth.tasks.sync_all_linked_accounts"] >= 1
    assert results["app.wealth.tasks.fetch_exchange_rates"] > 0


def test_a_second_scheduler_stands_by_while_the_lease_is_held(app, pg_url, redis_url):
    """`flask scheduler` schedules nothing while another process holds the lease, and starts
    once it is released."""
    from app.core.extensions import db
    from app.core.lease import SCHEDULER_LEASE, Lease

    redis = app.extensions["flowlet_redis"]
    maintenance = Queue("maintenance", connection=redis)
    maintenance.empty()
    for key in redis.scan_iter("rq:cron_job:*:jobs"):  # no earlier runs to continue from
        redis.delete(key)
    with app.app_context():
        held = Lease(db.engine.url, key=SCHEDULER_LEASE, instance="test-holder", stale_after=15)
    assert held.try_acquire()
    process = _scheduler_process(pg_url, redis_url)
    try:
        time.sleep(4)
        assert maintenance.count == 0
        held.release()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and maintenance.count == 0:
            time.sleep(0.2)
        assert maintenance.count > 0
    finally:
        held.release()
        process.send_signal(signal.SIGTERM)
        process.wait(15)
    maintenance.empty()


def _scheduler_process(pg_url: str, redis_url: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "FLOWLET_ENV": "testing",
        "DATABASE_URL": pg_url,
        "REDIS_URL": redis_url,
        "TZ": "UTC",
        "SCHEDULER_LEASE_RENEW_SECONDS": "1",
    }
    flask = Path(sys.executable).with_name("flask")
    return subprocess.Popen(
        [str(flask), "--app", "main", "scheduler"],
        cwd=BACKEND,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_scheduler_process_enqueues_interval_jobs(app, pg_url, redis_url):
    redis = app.extensions["flowlet_redis"]
    maintenance = Queue("maintenance", connection=redis)
    maintenance.empty()
    # A scheduler continues the periods of the runs in RQ's history: start from none.
    for key in redis.scan_iter("rq:cron_job:*:jobs"):
        redis.delete(key)
    process = _scheduler_process(pg_url, redis_url)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and maintenance.count == 0:
            time.sleep(0.2)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and maintenance.count < 3:
            time.sleep(0.2)
        funcs = sorted(job.func_name for job in maintenance.get_jobs())
        assert funcs == [
            "app.auth.tasks.purge_webauthn_challenges",
            "app.core.idempotency_purge.purge_idempotency_keys",
            "app.ledger.tasks.expire_holds",
        ]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(15)
    maintenance.empty()
