"""The periodic jobs: one table per app, each domain adding its own from its `init_app`.

Two kinds of entry, kept on `app.extensions["flowlet_schedule"]`:

* an `Entry` names a job function by its dotted path, the queue it goes to, and either an
  interval in seconds or a cron expression. `flask scheduler` (app.jobs) runs the entries on
  RQ's own cron scheduler. Any number may run: the one holding the scheduler lease
  (`core.lease`) schedules, the others stand by (`run_leased`). Cron fields are read in the
  scheduler process's local time: run it with `TZ=UTC` (the systemd unit and `backend/run.sh`
  do).
* a `Booking` is a job that books its own next run (`enqueue_in`). Every worker that works the
  booking's queue books it when it starts (`app.worker`); `book` returns the job id, the one
  already booked if there is one, or None when the job is turned off.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from redis import Redis
from rq import Queue
from rq.cron import CronScheduler

from app.core.lease import Lease

log = logging.getLogger("flowlet.schedule")

EXTENSION = "flowlet_schedule"


@dataclass(frozen=True)
class Entry:
    name: str
    func: str  # dotted path of a job function
    queue: str
    interval: int | None = None  # seconds
    cron: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)  # JSON values only (no secrets)

    def resolve(self) -> Callable[..., Any]:
        module, _, attr = self.func.rpartition(".")
        func: Callable[..., Any] = getattr(importlib.import_module(module), attr)
        return func

    @property
    def when(self) -> str:
        return f"every {self.interval} s" if self.interval else f"cron {self.cron}"


@dataclass(frozen=True)
class Booking:
    name: str
    queue: str
    book: Callable[[Queue], str | None]


class Schedule:
    """The app's entries and bookings, in the order they were added."""

    def __init__(self) -> None:
        self._entries: list[Entry] = []
        self._bookings: list[Booking] = []

    def add(self, entry: Entry) -> None:
        if (entry.interval is None) == (entry.cron is None):
            raise ValueError(f"schedule entry {entry.name!r} needs an interval or a cron")
        if any(known.name == entry.name for known in self._entries):
            raise ValueError(f"schedule entry {entry.name!r} is already registered")
        self._entries.append(entry)

    def add_booking(self, booking: Booking) -> None:
        if any(known.name == booking.name for known in self._bookings):
            raise ValueError(f"booking {booking.name!r} is already registered")
        self._bookings.append(booking)

    @property
    def entries(self) -> tuple[Entry, ...]:
        return tuple(self._entries)

    def book(self, queue_names: Iterable[str], connection: Redis) -> None:
        """A worker starting on `queue_names` books the self-booking jobs of those queues."""
        working = set(queue_names)
        for booking in self._bookings:
            if booking.queue in working:
                booking.book(Queue(booking.queue, connection=connection))


def schedule_of(app: Flask) -> Schedule:
    """The app's schedule (created empty on first use)."""
    schedule: Schedule = app.extensions.setdefault(EXTENSION, Schedule())
    return schedule


def build_scheduler(
    entries: Iterable[Entry], connection: Redis, *, name: str = ""
) -> CronScheduler:
    """An RQ `CronScheduler` with every entry registered."""
    scheduler = CronScheduler(connection=connection, name=name)
    for entry in entries:
        scheduler.register(
            entry.resolve(),
            queue_name=entry.queue,
            kwargs=dict(entry.kwargs),
            interval=entry.interval,
            cron=entry.cron,
            name=entry.name,
        )
    return scheduler


def live_schedulers(connection: Redis) -> list[str]:
    """Names of cron schedulers that still send heartbeats (there should be at most one)."""
    return [s.name for s in CronScheduler.all(connection)]


def restore_last_runs(scheduler: CronScheduler) -> None:
    """Take each entry's last enqueue time from RQ's job history in Redis.

    A scheduler that takes over then continues its predecessor's periods: an interval entry
    runs `interval` after the last run, not at once (no second run in one period), and a cron
    time missed while nobody held the lease runs once, at once.
    """
    for job in scheduler.get_jobs():
        latest = scheduler.connection.zrevrange(job.job_history_key, 0, 0, withscores=True)
        if latest:
            job.set_enqueue_time(datetime.fromtimestamp(float(latest[0][1]), UTC))


def run_leased(
    scheduler: CronScheduler, lease: Lease, *, renew_every: float, stop: threading.Event
) -> bool:
    """Stand by until `lease` is ours, then run `scheduler` while renewing it.

    The lease is renewed before every round of enqueues, so a holder that lost it enqueues
    nothing more. Returns True when `stop` was set, False when the lease was lost (the caller
    stands by again).
    """
    while not lease.try_acquire():
        if stop.wait(renew_every):
            return True
    log.warning("scheduler %s holds the lease: scheduling", lease.instance)
    restore_last_runs(scheduler)
    scheduler.register_birth()
    try:
        while not stop.is_set():
            if not lease.renew():
                log.error("scheduler %s lost the lease: standing by", lease.instance)
                return False
            if scheduler.enqueue_jobs():
                scheduler.save()
            scheduler.heartbeat()
            stop.wait(min(scheduler.calculate_sleep_interval(), renew_every))
        return True
    finally:
        scheduler.register_death()
