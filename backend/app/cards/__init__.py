"""Payment cards and their controls; the card network's authorizations on engine holds."""

from flask import Flask

from app.cards import holds, privacy
from app.cards.cli import cards_cli
from app.cards.routes import network_blp
from app.core import audit
from app.core.schedule import Entry, schedule_of


def init_app(app: Flask) -> None:
    """The card policies and observer of the movement engine, the card network's blueprint,
    `flask cards …` (`/api/v1/cards` is registered with the other domains' blueprints), the
    cards' personal-data section, their daily expiry job, and the card's secrets and names for
    the audit log's masks."""
    holds.register(app)
    app.extensions["flowlet_api"].register_blueprint(network_blp)
    app.cli.add_command(cards_cli)
    privacy.register(app)
    schedule_of(app).add(
        Entry("card-expiry", "app.cards.tasks.expire_cards", "maintenance", cron="10 0 * * *")
    )
    masks = audit.masks(app)
    masks.secret("pan", "cvv", "pin")
    masks.personal("cardholder_name", "beneficiary_name")
