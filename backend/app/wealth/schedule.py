"""The periodic jobs, in one table, run by `flask scheduler` on RQ's own cron scheduler.

Each entry names a job function by its dotted path, the queue it goes to, and either an
interval in seconds or a cron expression. Cron fields are read in the scheduler process's local
time: run it with `TZ=UTC` (the systemd unit and `backend/run.sh` do).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Entry:
    name: str
    func: str  # dotted path of a job function
    queue: str
    interval: int | None = None  # seconds
    cron: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)  # JSON values only (no secrets)

    def resolve(self) -> Callable:
        module, _, attr = self.func.rpartition(".")
        return getattr(importlib.import_module(module), attr)

    @property
    def when(self) -> str:
        return f"every {self.interval} s" if self.interval else f"cron {self.cron}"


SCHEDULE: tuple[Entry, ...] = (
    Entry(
        "broker-sync-daily",
        "app.wealth.tasks.sync_all_linked_accounts",
        "sync",
        cron="0 3 * * *",
    ),
    Entry(
        "exchange-rates",
        "app.wealth.tasks.fetch_exchange_rates",
        "maintenance",
        cron="30 16 * * *",  # the ECB reference rates appear around 16:00 CET
    ),
    Entry(
        "hold-expiry",
        "app.ledger.tasks.expire_holds",
        "maintenance",
        interval=60,
    ),
    Entry(
        "idempotency-key-purge",
        "app.transactions.tasks.purge_idempotency_keys",
        "maintenance",
        interval=3600,
    ),
    Entry(
        "card-expiry",
        "app.cards.tasks.expire_cards",
        "maintenance",
        cron="10 0 * * *",
    ),
    Entry(
        "sanctions-rescreen",
        "app.compliance.tasks.rescreen_with_active_list",
        "maintenance",
        cron="0 2 * * *",
    ),
    Entry(
        "aml-batch",
        "app.compliance.tasks.run_aml_batch_for_yesterday",
        "maintenance",
        cron="15 0 * * *",  # the previous UTC day, once it has ended
    ),
    Entry(
        "weekly-wealth-report",
        "app.wealth.tasks.send_weekly_wealth_reports",
        "notifications",
        cron="0 7 * * 1",
    ),
)


def build_scheduler(connection, *, name: str = ""):
    """An RQ `CronScheduler` with every entry of `SCHEDULE` registered."""
    from rq.cron import CronScheduler

    scheduler = CronScheduler(connection=connection, name=name)
    for entry in SCHEDULE:
        scheduler.register(
            entry.resolve(),
            queue_name=entry.queue,
            kwargs=dict(entry.kwargs),
            interval=entry.interval,
            cron=entry.cron,
            name=entry.name,
        )
    return scheduler


def live_schedulers(connection) -> list[str]:
    """Names of cron schedulers that still send heartbeats (there should be at most one)."""
    from rq.cron import CronScheduler

    return [s.name for s in CronScheduler.all(connection)]
