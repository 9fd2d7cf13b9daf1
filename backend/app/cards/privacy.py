"""The cards domain's part in the personal data export and in erasure.

Cards are exported with the PAN masked (brand, last four, expiry, cardholder name, controls);
erasure cancels the person's cards and pseudonymizes the cardholder name. Authorizations still
holding funds are a legal hold.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from app.auth.models import User
from app.cards.models import AuthorizationStatus, CancelReason, Card, CardAuthorization, CardStatus
from app.core.db import utcnow
from app.core.personal_data import Section, personal_data, time_text


def register(app: Flask) -> None:
    """Add the section to the app's personal-data registry."""
    personal_data(app).add(
        Section("cards", 700, export=_cards_export, erase=_cards_erase, hold=_cards_hold)
    )


def _cards_export(session: Session, user: User) -> list[dict[str, Any]]:
    cards = session.scalars(sa.select(Card).where(Card.user_id == user.id).order_by(Card.id))
    return [
        {
            "id": str(card.public_id),
            "card_type": card.card_type,
            "brand": card.brand,
            "pan": f"**** **** **** {card.last4}",
            "expiry_month": card.expiry_month,
            "expiry_year": card.expiry_year,
            "cardholder_name": card.cardholder_name,
            "status": card.status,
            "created_at": time_text(card.created_at),
            "cancelled_at": time_text(card.cancelled_at),
        }
        for card in cards
    ]


def _cards_erase(session: Session, user: User, pseudonym: str) -> None:
    now = utcnow()
    for card in session.scalars(sa.select(Card).where(Card.user_id == user.id)):
        card.cardholder_name = "ERASED PERSON"
        if card.status not in (CardStatus.CANCELLED.value, CardStatus.EXPIRED.value):
            card.status = CardStatus.CANCELLED.value
            card.cancel_reason = CancelReason.CLOSED.value
            card.cancelled_at = now


def _cards_hold(session: Session, user: User) -> list[str]:
    count = session.scalar(
        sa.select(sa.func.count())
        .select_from(CardAuthorization)
        .join(Card, Card.id == CardAuthorization.card_id)
        .where(
            Card.user_id == user.id,
            CardAuthorization.status == AuthorizationStatus.AUTHORIZED.value,
        )
    )
    return [f"{count} card authorization(s) still hold funds"] if count else []
