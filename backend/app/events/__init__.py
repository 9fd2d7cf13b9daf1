"""Events for the people and systems around the bank: the movement engine's observer that
writes them, the live stream of a caller's own events and the partners' webhooks.

Events are written by `core.events.emit` in the transaction of the change they tell of: the
movements here (an observer of the engine), the other domains where their change is made
(card authorizations, alerts, KYC, syncs, erasure).
"""

from flask import Flask

from app.events import movements, webhooks


def init_app(app: Flask) -> None:
    """The movement engine's observer that writes `movement.*` events."""
    movements.register(app)
    webhooks.register(app)  # the fan-out and delivery job (docs/webhooks.md)
