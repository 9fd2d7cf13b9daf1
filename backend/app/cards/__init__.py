"""Payment cards and their controls; the card network's authorizations on engine holds."""

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from app.cards import holds, privacy
from app.cards.cli import cards_cli
from app.cards.models import Card, CardStatus
from app.cards.routes import network_blp
from app.core import audit
from app.core.products import products
from app.core.schedule import Entry, schedule_of

LIVE = (CardStatus.INACTIVE.value, CardStatus.ACTIVE.value, CardStatus.FROZEN.value)


def live_cards(session: Session, user_id: int) -> int:
    """How many cards the customer holds that are not cancelled or expired (risk rating)."""
    return (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(Card)
            .where(Card.user_id == user_id, Card.status.in_(LIVE))
        )
        or 0
    )


def init_app(app: Flask) -> None:
    """The card policies and observer of the movement engine, the card network's blueprint,
    `flask cards …` (`/api/v1/cards` is registered with the other domains' blueprints), the
    count of a customer's cards (products held), the cards' personal-data section, their daily
    expiry job, and the card's secrets and names for the audit log's masks."""
    holds.register(app)
    app.extensions["flowlet_api"].register_blueprint(network_blp)
    app.cli.add_command(cards_cli)
    privacy.register(app)
    products(app).add("cards", live_cards)
    schedule_of(app).add(
        Entry("card-expiry", "app.cards.tasks.expire_cards", "maintenance", cron="10 0 * * *")
    )
    masks = audit.masks(app)
    masks.secret("pan", "cvv", "pin")
    masks.personal("cardholder_name", "beneficiary_name")
