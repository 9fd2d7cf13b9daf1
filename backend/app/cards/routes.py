"""HTTP routes of the cards domain (`/api/v1/cards`) and of the card network
(`/api/v1/card-network`)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app
from flask_limiter.util import get_remote_address

from app.auth.permissions import current_user, current_user_id, require
from app.cards import authorization, controls, issuing, lookup
from app.cards.issuing import RevealedCard
from app.cards.models import Card, CardAuthorization
from app.cards.schemas import (
    ActivateSchema,
    AuthorizationPageSchema,
    AuthorizationRequestSchema,
    AuthorizationSchema,
    CaptureSchema,
    CardCancelResultSchema,
    CardCancelSchema,
    CardIssueSchema,
    CardPageSchema,
    CardSchema,
    ControlsUpdateSchema,
    PinSchema,
    RevealedCardSchema,
)
from app.core.api import Blueprint
from app.core.extensions import db, limiter
from app.core.pagination import Page, PageArgsSchema
from app.edge.idempotency import idempotent

blp = Blueprint(
    "cards", __name__, url_prefix="/api/v1/cards", description="Payment cards and their controls."
)
network_blp = Blueprint(
    "card_network",
    __name__,
    url_prefix="/api/v1/card-network",
    description="Authorizations, captures and reversals for the card network.",
)

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _reveal_limit() -> str:
    limit: str = current_app.config["CARD_REVEAL_RATE_LIMIT"]
    return limit


def _user_key() -> str:
    user = current_user()
    return f"user:{user.public_id}" if user else (get_remote_address() or "")


@blp.route("", methods=["GET"])
@require("cards:read")
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, CardPageSchema)
def list_cards(args: dict[str, Any]) -> Page:
    """List your cards, newest first."""
    return issuing.list_cards(db.session(), user=current_user(), **args)


@blp.route("", methods=["POST"])
@require("cards:write")
@idempotent()
@blp.arguments(CardIssueSchema)
@blp.response(201, CardSchema)
def issue_card(data: dict[str, Any]) -> Card:
    """Issue a virtual or physical card on one of your accounts (needs an Idempotency-Key)."""
    return issuing.issue_card(db.session(), user=current_user(), **data)


@blp.route("/<uuid:card_id>", methods=["GET"])
@require("cards:read")
@blp.response(200, CardSchema)
def get_card(card_id: uuid.UUID) -> Card:
    """Get one of your cards (never its full number)."""
    return lookup.get_card(db.session(), user=current_user(), card_id=card_id)


@blp.route("/<uuid:card_id>/reveal", methods=["POST"])
@require("cards:read", fresh=True)
@limiter.limit(_reveal_limit, key_func=_user_key, scope="card-reveal")
@blp.response(200, RevealedCardSchema)
def reveal_card(card_id: uuid.UUID) -> tuple[RevealedCard, dict[str, str]]:
    """Show the full card number and CVV (fresh token only; rate limited; audited)."""
    return issuing.reveal_card(db.session(), user=current_user(), card_id=card_id), NO_STORE


@blp.route("/<uuid:card_id>/freeze", methods=["POST"])
@require("cards:write")
@blp.response(200, CardSchema)
def freeze_card(card_id: uuid.UUID) -> Card:
    """Freeze a card: its payments are declined until unfrozen."""
    return issuing.freeze_card(db.session(), user=current_user(), card_id=card_id)


@blp.route("/<uuid:card_id>/unfreeze", methods=["POST"])
@require("cards:write")
@blp.response(200, CardSchema)
def unfreeze_card(card_id: uuid.UUID) -> Card:
    """Unfreeze a frozen card."""
    return issuing.unfreeze_card(db.session(), user=current_user(), card_id=card_id)


@blp.route("/<uuid:card_id>/cancel", methods=["POST"])
@require("cards:write")
@idempotent(required=False)
@blp.arguments(CardCancelSchema)
@blp.response(200, CardCancelResultSchema)
def cancel_card(data: dict[str, Any], card_id: uuid.UUID) -> dict[str, Card | None]:
    """Cancel a card as lost, stolen or closed, optionally with a replacement."""
    card, replacement = issuing.cancel_card(
        db.session(), user=current_user(), card_id=card_id, **data
    )
    return {"card": card, "replacement": replacement}


@blp.route("/<uuid:card_id>/controls", methods=["PUT"])
@require("cards:write")
@blp.arguments(ControlsUpdateSchema)
@blp.response(200, CardSchema)
def set_controls(data: dict[str, Any], card_id: uuid.UUID) -> Card:
    """Replace a card's limits, blocked merchant categories, countries and switches."""
    return controls.set_controls(db.session(), user=current_user(), card_id=card_id, **data)


@blp.route("/<uuid:card_id>/pin", methods=["POST"])
@require("cards:write", fresh=True)
@blp.arguments(PinSchema)
@blp.response(204)
def set_pin(data: dict[str, Any], card_id: uuid.UUID) -> None:
    """Set the card's PIN (fresh token only; 4–6 digits, not trivial)."""
    issuing.set_pin(db.session(), user=current_user(), card_id=card_id, **data)


@blp.route("/<uuid:card_id>/activate", methods=["POST"])
@require("cards:write")
@blp.arguments(ActivateSchema)
@blp.response(200, CardSchema)
def activate_card(data: dict[str, Any], card_id: uuid.UUID) -> Card:
    """Activate a physical card with its last four digits and expiry."""
    return issuing.activate_card(db.session(), user=current_user(), card_id=card_id, **data)


@blp.route("/<uuid:card_id>/authorizations", methods=["GET"])
@require("cards:read")
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, AuthorizationPageSchema)
def list_authorizations(args: dict[str, Any], card_id: uuid.UUID) -> Page:
    """The card's payments as the network asked for them, approved and declined (with why)."""
    return authorization.list_authorizations(
        db.session(), user=current_user(), card_id=card_id, **args
    )


# --- card network ------------------------------------------------------------------------------


@network_blp.route("/authorizations", methods=["POST"])
@require("card_network")
@idempotent()
@network_blp.arguments(AuthorizationRequestSchema)
@network_blp.response(200, AuthorizationSchema)
def authorize(data: dict[str, Any]) -> CardAuthorization:
    """Authorize a card payment: approved with a hold, or declined with a stable reason."""
    # The processor's id is enough: its session (checked at the edge) says it is live.
    return authorization.authorize(db.session(), processor_id=current_user_id(), **data)


@network_blp.route("/authorizations/<uuid:authorization_id>/capture", methods=["POST"])
@require("card_network")
@idempotent()
@network_blp.arguments(CaptureSchema)
@network_blp.response(200, AuthorizationSchema)
def capture(data: dict[str, Any], authorization_id: uuid.UUID) -> CardAuthorization:
    """Capture an authorization once, up to the authorized amount; the rest is released."""
    return authorization.capture(
        db.session(), processor=current_user(), authorization_id=authorization_id, **data
    )


@network_blp.route("/authorizations/<uuid:authorization_id>/reverse", methods=["POST"])
@require("card_network")
@idempotent()
@network_blp.response(200, AuthorizationSchema)
def reverse(authorization_id: uuid.UUID) -> CardAuthorization:
    """Reverse an authorization that is still held: its hold is released."""
    return authorization.reverse(
        db.session(), processor=current_user(), authorization_id=authorization_id
    )
