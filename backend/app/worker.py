"""`flask worker`: an RQ worker with the outbox relay and abandoned-job recovery beside it.

* Jobs run in a forked work horse; the worker heartbeats every `WORKER_HEARTBEAT_SECONDS`
  and a job's started-registry entry lives only a few heartbeats, so a worker killed with
  `kill -9` leaves an entry that expires within `3 × WORKER_HEARTBEAT_SECONDS`.
* A maintenance thread in the same process relays pending outbox rows to RQ (with backoff
  while Redis is down) and, every `WORKER_HEARTBEAT_SECONDS`, cleans the started registries:
  an expired entry is an abandoned job, requeued through its `Retry` (every outbox job has
  one). Every 10 s it also pushes again the outbox rows not done `OUTBOX_REDELIVER_AFTER_SECONDS`
  after they were handed to RQ, unless RQ visibly holds their job (`core.outbox`).
* RQ's scheduler (retries' waits, `enqueue_in`) runs in one worker, holding a lock that lives
  61 s (RQ's scheduler interval + 60) past its last refresh. A worker that starts while a
  killed worker's lock still lives tries again at every RQ maintenance round: every
  `WORKER_MAINTENANCE_SECONDS` (RQ's default is 10 minutes, which stalled every scheduled job
  for up to 10 minutes after a restart). RQ runs that round only between two waits on the
  queues, and an idle worker waits `worker_ttl - 15` s (405 s by default): the worker's TTL is
  set so that it waits no longer than the round's interval.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from flask import Flask, current_app
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue, Worker
from rq.job import Job
from rq.registry import StartedJobRegistry

from app.core import uow
from app.core.extensions import db
from app.core.outbox import Every, purge_sent, redeliver_undone, relay_pending
from app.core.queue import get_redis, set_worker_app, this_app
from app.core.ratelimit import SQLCounterStorage
from app.core.schedule import schedule_of

log = logging.getLogger("flowlet.worker")


class FlowletWorker(Worker):
    """RQ's forking worker with short heartbeats, so abandoned jobs are found quickly."""

    heartbeat_grace_factor = 3
    max_connection_wait_time = 5.0  # back on Redis within seconds of it returning

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        ttl = self.job_monitoring_interval * self.heartbeat_grace_factor
        if job.timeout and job.timeout > 0:
            return int(max(min(job.timeout - working_time, ttl), 1) + self.job_monitoring_interval)
        return int(ttl)


def clean_started_registries(redis, queue_names: list[str]) -> int:
    """Requeue (or fail) jobs whose worker stopped heartbeating; returns how many were found."""
    found = 0
    for name in queue_names:
        registry = StartedJobRegistry(name, connection=redis)
        found += len(registry.get_expired_job_ids())
        registry.cleanup()
    return found


class Maintenance(threading.Thread):
    """The outbox relay and registry cleaning, in a thread of the worker process."""

    def __init__(self, app: Flask, queue_names: list[str], *, interval: float) -> None:
        super().__init__(name="flowlet-outbox-relay", daemon=True)
        self.app = app
        self.queue_names = queue_names
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        purge, recover = Every(3600), Every(10)
        while not self.stopped.is_set():
            run_maintenance_round(
                self.app, self.queue_names, purge=purge.due(), recover=recover.due()
            )
            self.stopped.wait(self.interval)

    def stop(self) -> None:
        self.stopped.set()


def run_maintenance_round(
    app: Flask, queue_names: list[str], *, purge: bool = False, recover: bool = True
) -> None:
    """One relay pass and one registry clean; logs (never raises) what fails."""
    with app.app_context():
        redis = app.extensions["flowlet_redis"]
        try:
            relay_pending(db.session(), redis)
        except Exception as exc:
            db.session.rollback()
            log.warning("outbox relay round failed: %s", type(exc).__name__)
        try:
            if recover:
                after = timedelta(seconds=int(app.config["OUTBOX_REDELIVER_AFTER_SECONDS"]))
                redeliver_undone(db.session(), redis, older_than=after)
        except Exception as exc:
            db.session.rollback()
            log.warning("outbox redelivery failed: %s", type(exc).__name__)
        try:
            abandoned = clean_started_registries(redis, queue_names)
            if abandoned:
                log.warning("requeued %d abandoned job(s)", abandoned)
        except Exception as exc:
            log.warning("started-registry cleaning failed: %s", type(exc).__name__)
        try:
            if purge:
                retention = timedelta(seconds=int(app.config["OUTBOX_RETENTION_SECONDS"]))
                purge_sent(db.session(), older_than=retention)
                uow.commit(db.session())
                SQLCounterStorage().purge_expired()
        except Exception:
            db.session.rollback()
            log.warning("outbox purge failed", exc_info=True)
        finally:
            db.session.remove()


def run_worker(queue_names: list[str], *, burst: bool = False) -> None:
    """Work the queues in this process; each job pushes its own app context (core.queue.task)."""
    redis = get_redis()
    if redis is None:
        raise SystemExit("REDIS_URL is not set: jobs run inline, there is no queue to work")
    app = this_app()
    set_worker_app(app)
    interval = float(app.config["WORKER_HEARTBEAT_SECONDS"])
    queues = [Queue(name, connection=redis) for name in queue_names]
    maintenance = Maintenance(app, queue_names, interval=min(interval, 1.0))
    maintenance.start()  # the relay runs even while Redis is down (it backs off)
    current_app.logger.info("worker starting on %s", ", ".join(queue_names))
    wait = 1.0
    try:
        while True:
            try:
                schedule_of(app).book(queue_names, redis)  # the self-booking jobs
                maintenance_every = int(app.config["WORKER_MAINTENANCE_SECONDS"])
                worker = FlowletWorker(
                    queues,
                    connection=redis,
                    job_monitoring_interval=max(int(interval), 1),
                    maintenance_interval=maintenance_every,
                    # An idle worker waits on its queues `worker_ttl - 15` s between rounds.
                    worker_ttl=maintenance_every + 15,
                )
                worker.work(burst=burst, with_scheduler=True)
                return
            except (RedisConnectionError, RedisTimeoutError) as exc:
                # Redis is down (at start, or the worker gave up): wait for it, then work on.
                if burst:
                    raise
                log.warning("worker: Redis unreachable (%s); retrying in %.0f s", exc, wait)
                time.sleep(wait)
                wait = min(wait * 2, 30.0)
    finally:
        maintenance.stop()
        if burst:  # a burst run hands over what is left before it returns
            run_maintenance_round(app, queue_names)
