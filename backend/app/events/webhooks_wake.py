"""`flask webhooks listen`: wake the webhook job when events commit, instead of at the next poll.

Writers publish on `core.events.CHANNEL` after each commit. The listener queues one run of
`deliver_webhooks` per burst of messages (it waits `debounce` seconds and drains what came
meanwhile), straight to RQ like the cron scheduler does. It is optional: without it the job
still runs every `WEBHOOK_POLL_SECONDS`; a lost message or a dead listener costs only latency.
Any number may run (each queues a run; runs are safe side by side).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext
from rq import Queue

from app.core import events
from app.core.queue import func_path, get_redis, this_app
from app.events.webhooks_tasks import deliver_webhooks

log = logging.getLogger("flowlet.webhooks")

webhooks_cli = AppGroup("webhooks", help="Webhooks to partners (docs/webhooks.md).")


def listen(app: Flask, *, stop: threading.Event, debounce: float = 0.2) -> int:
    """Queue the webhook job after each burst of committed events until `stop`; how many."""
    redis = app.extensions["flowlet_redis"]
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(events.CHANNEL)
    queue = Queue("default", connection=redis)
    queued = 0
    try:
        while not stop.is_set():
            if pubsub.get_message(timeout=1.0) is None:
                continue
            time.sleep(debounce)
            while pubsub.get_message(timeout=0.0) is not None:
                pass
            queue.enqueue(func_path(deliver_webhooks))
            queued += 1
    finally:
        pubsub.close()
    return queued


@webhooks_cli.command("listen")
@with_appcontext
def listen_command() -> None:
    """Queue the webhook job as soon as events commit (besides the periodic runs)."""
    if get_redis() is None:
        raise click.ClickException("REDIS_URL is not set: there is no channel to listen on")
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo(f"listening on {events.CHANNEL}")
    listen(this_app(), stop=stop)
