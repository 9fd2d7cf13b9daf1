"""Events for the people and systems around the bank: the movement engine's observer that
writes them, the live stream of a caller's own events and the partners' webhooks.

Events are written by `core.events.emit` in the transaction of the change they tell of: the
movements here (an observer of the engine), the other domains where their change is made
(card authorizations, alerts, KYC, syncs, erasure). The live stream (`/api/v1/events`) is
served by `flask events serve` (`app.events.server`) and, where none runs, by the web app
itself (`app.events.stream`).
"""

from flask import Flask

from app.core.schedule import Entry, schedule_of
from app.events import movements, privacy, webhooks
from app.events.cli import events_cli


def init_app(app: Flask) -> None:
    """The movement engine's observer that writes `movement.*` events, the events' personal
    data section, their daily purge and `flask events …`."""
    movements.register(app)
    webhooks.register(app)  # the fan-out and delivery job (docs/webhooks.md)
    privacy.register(app)
    schedule_of(app).add(
        Entry("events-purge", "app.events.tasks.purge_events", "maintenance", cron="15 4 * * *")
    )
    app.cli.add_command(events_cli)
