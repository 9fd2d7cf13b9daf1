"""The caller's own card, read or locked; any other card is "not found".

Below the use cases (`issuing`, `controls`, `authorization`), which all start from it.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.models import User
from app.cards.errors import CardNotFound
from app.cards.models import Card


def get_card(session: Session, *, user: User, card_id: uuid.UUID) -> Card:
    """One of the caller's cards; any other card is "not found"."""
    card = session.scalar(sa.select(Card).where(Card.public_id == card_id, Card.user_id == user.id))
    if card is None:
        raise CardNotFound()
    return card


def lock_own_card(session: Session, *, user: User, card_id: uuid.UUID) -> Card:
    """The caller's card, locked for update and read fresh."""
    card = session.scalar(
        sa.select(Card)
        .where(Card.public_id == card_id, Card.user_id == user.id)
        .with_for_update(of=Card, key_share=True)
        .execution_options(populate_existing=True)
    )
    if card is None:
        raise CardNotFound()
    return card
