"""Two `flask scheduler` processes and two RQ workers on one PostgreSQL and one Redis: the
lease holder schedules, the standby takes over when it dies or hangs, and the probe entry
runs once per period throughout."""

from __future__ import annotations

import itertools
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis as redis_lib
from flask import Flask

from app.core.extensions import db
from app.core.lease import holder
from tests.lease.jobs import RUNS_KEY
from tests.lease.probe_app import PROBE, PROBE_INTERVAL
from tests.lease.servers import flask_process, kill, wait_until

APP = "tests.lease.probe_app"
STALE = 3  # the schedulers' SCHEDULER_LEASE_STALE_SECONDS in these tests
RENEW = 1


@pytest.fixture
def stack(pg_url: str, redis_url: str) -> Iterator[dict]:
    """Two RQ workers on `default`; schedulers are started by the test (and all stopped)."""
    client = redis_lib.Redis.from_url(redis_url)
    client.flushdb()
    env = {"DATABASE_URL": pg_url, "REDIS_URL": redis_url}
    processes: list[subprocess.Popen] = []

    def scheduler(instance: str) -> subprocess.Popen:
        process = flask_process(
            APP,
            "scheduler",
            INSTANCE_ID=instance,
            SCHEDULER_LEASE_RENEW_SECONDS=str(RENEW),
            SCHEDULER_LEASE_STALE_SECONDS=str(STALE),
            **env,
        )
        processes.append(process)
        return process

    for _ in range(2):
        processes.append(flask_process(APP, "worker", "--queues", "default", **env))
    yield {"scheduler": scheduler, "redis": client}
    for process in processes:
        kill(process, signal.SIGCONT)
        kill(process, signal.SIGTERM)
    client.flushdb()


def lease_holder(app: Flask) -> str | None:
    with app.app_context(), db.engine.connect() as conn:
        current = holder(conn)
    return current.instance if current else None


def runs(client: redis_lib.Redis) -> list[tuple[float, int]]:
    rows = [value.decode().split() for value in client.lrange(RUNS_KEY, 0, -1)]
    return sorted((float(at), int(pid)) for at, pid in rows)


HISTORY = f"rq:cron_job:{PROBE.name}:jobs"  # what the schedulers enqueued, scored by when


def enqueued(client: redis_lib.Redis) -> list[float]:
    """When the schedulers enqueued the probe: what they did, whatever the workers' delay
    (a run the workers start late would otherwise look like two runs close together)."""
    return sorted(score for _, score in client.zrange(HISTORY, 0, -1, withscores=True))


def assert_once_per_period(client: redis_lib.Redis, *, lasted: float, gap_allowed: float) -> None:
    """No two runs in one period, none missing beyond the takeover's gap."""
    # Every enqueued run has been worked (a run worked twice would never match).
    wait_until(lambda: len(runs(client)) == client.zcard(HISTORY), 5)
    times = enqueued(client)
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert min(gaps) > PROBE_INTERVAL - 0.6, gaps  # a second scheduler would run it twice
    assert max(gaps) < gap_allowed, gaps
    assert len(times) >= lasted / PROBE_INTERVAL - 2, times


def test_the_standby_takes_over_from_a_killed_holder_and_each_period_runs_once(
    app: Flask, stack: dict
) -> None:
    started = time.monotonic()
    first = stack["scheduler"]("sched-a")
    wait_until(lambda: lease_holder(app) == "sched-a", 30)
    stack["scheduler"]("sched-b")
    time.sleep(8)  # both up: the standby must not schedule
    assert lease_holder(app) == "sched-a"
    times = enqueued(stack["redis"])
    assert min(b - a for a, b in itertools.pairwise(times)) > PROBE_INTERVAL - 0.6

    killed = time.monotonic()
    kill(first)  # SIGKILL, no goodbye
    wait_until(lambda: lease_holder(app) == "sched-b", 15)
    takeover = time.monotonic() - killed
    print(f"takeover after SIGKILL: {takeover:.2f} s")
    assert takeover < RENEW + 1.5
    time.sleep(8)

    assert_once_per_period(
        stack["redis"], lasted=time.monotonic() - started - 3, gap_allowed=PROBE_INTERVAL + 2.5
    )
    after = [at for at, _ in runs(stack["redis"]) if at > time.time() - (time.monotonic() - killed)]
    assert len(after) >= 3  # the new holder runs it
    assert len({pid for _, pid in runs(stack["redis"])}) == 2  # both workers took runs


def test_a_hung_holder_is_reported_stale_then_loses_the_lease(
    app: Flask, stack: dict, client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "SCHEDULER_LEASE_STALE_SECONDS", STALE)
    first = stack["scheduler"]("sched-a")
    wait_until(lambda: lease_holder(app) == "sched-a", 30)
    stack["scheduler"]("sched-b")
    time.sleep(4)
    scheduler = client.get("/health/detailed").get_json()["components"]["scheduler"]
    assert scheduler["status"] == "ok"
    assert scheduler["holder"] == "sched-a"
    assert scheduler["renewed_seconds_ago"] < RENEW + 0.5

    kill(first, signal.SIGSTOP)  # alive, holding its session, renewing nothing
    stopped = time.monotonic()

    def degraded() -> bool:
        body = client.get("/health/detailed").get_json()["components"]["scheduler"]
        return body["status"] == "degraded" and body.get("holder") == "sched-a"

    wait_until(degraded, STALE + 2, every=0.2)
    # PostgreSQL ends the silent session (idle_session_timeout = 2 × STALE): the standby wins.
    wait_until(lambda: lease_holder(app) == "sched-b", 2 * STALE + 3)
    print(f"takeover from a hung holder: {time.monotonic() - stopped:.2f} s")
    kill(first, signal.SIGCONT)  # it wakes up, finds its lease gone and schedules nothing
    time.sleep(6)
    assert lease_holder(app) == "sched-b"
    assert client.get("/health/detailed").get_json()["components"]["scheduler"]["status"] == "ok"
    times = enqueued(stack["redis"])
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert min(gaps) > PROBE_INTERVAL - 0.6, gaps
