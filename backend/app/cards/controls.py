"""Card controls: the holder's limits and switches, and their check on an authorization.

The checks run in the order of the decline reasons (docs/cards.md): limits, then the merchant
category, then the country, then the channel. Daily and monthly limits count the card's
approved authorizations (`CardAuthorization.counted_amount`), summed under the card's row lock
so that concurrent authorizations are counted in turn.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

import pycountry
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.auth.models import User
from app.cards.errors import CardStateConflict
from app.cards.lookup import lock_own_card
from app.cards.models import Card, CardAuthorization, CardStatus, Channel
from app.core import audit, uow
from app.core.errors import ValidationError
from app.core.money import MoneyError, configured_amount, format_amount, parse_amount

LIMIT_FIELDS = ("per_transaction_limit", "daily_limit", "monthly_limit")
SWITCHES = ("online_enabled", "atm_enabled", "contactless_enabled", "international_enabled")


def apply_defaults(card: Card, currency: str) -> None:
    """The controls of a new card: configured daily and monthly limits, every switch on."""
    config = current_app.config
    card.per_transaction_limit = None
    card.daily_limit = configured_amount(config["CARD_DEFAULT_DAILY_LIMIT"], currency)
    card.monthly_limit = configured_amount(config["CARD_DEFAULT_MONTHLY_LIMIT"], currency)
    card.blocked_mccs = []
    card.allowed_countries = []
    for name in SWITCHES:
        setattr(card, name, True)


def copy_controls(source: Card, target: Card) -> None:
    """A replacement card keeps the controls of the card it replaces."""
    for name in (*LIMIT_FIELDS, *SWITCHES):
        setattr(target, name, getattr(source, name))
    target.blocked_mccs = list(source.blocked_mccs or [])
    target.allowed_countries = list(source.allowed_countries or [])


def snapshot(card: Card) -> dict[str, Any]:
    """The controls as the API shows them (amounts as decimal strings)."""
    currency = card.account.currency
    out: dict[str, Any] = {
        name: (
            format_amount(value, currency) if (value := getattr(card, name)) is not None else None
        )
        for name in LIMIT_FIELDS
    }
    out["blocked_mccs"] = list(card.blocked_mccs or [])
    out["allowed_countries"] = list(card.allowed_countries or [])
    for name in SWITCHES:
        out[name] = bool(getattr(card, name))
    return out


def _country(code: str) -> str:
    code = code.upper()
    if pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(code)
    return code


def set_controls(
    session: Session,
    *,
    user: User,
    card_id: uuid.UUID,
    blocked_mccs: list[str],
    allowed_countries: list[str],
    online_enabled: bool,
    atm_enabled: bool,
    contactless_enabled: bool,
    international_enabled: bool,
    per_transaction_limit: str | None = None,
    daily_limit: str | None = None,
    monthly_limit: str | None = None,
) -> Card:
    """Replace a card's controls (a limit left out or null means no limit)."""
    card = lock_own_card(session, user=user, card_id=card_id)
    if card.current_status() in (CardStatus.CANCELLED, CardStatus.EXPIRED):
        raise CardStateConflict(f"The card is {card.current_status()}; its controls are final.")
    currency = card.account.currency
    limits: dict[str, int | None] = {}
    errors: dict[str, list[str]] = {}
    for name, value in zip(
        LIMIT_FIELDS, (per_transaction_limit, daily_limit, monthly_limit), strict=True
    ):
        try:
            limits[name] = parse_amount(value, currency) if value is not None else None
        except MoneyError as exc:
            errors[name] = [str(exc)]
    try:
        countries = sorted({_country(c) for c in allowed_countries})
    except ValueError:
        errors["allowed_countries"] = ["ISO 3166-1 alpha-2 country codes only."]
    if errors:
        raise ValidationError("The controls are not valid.", details=errors)
    before = snapshot(card)
    for name, limit in limits.items():
        setattr(card, name, limit)
    card.blocked_mccs = sorted(set(blocked_mccs))
    card.allowed_countries = countries
    for name, enabled in zip(
        SWITCHES,
        (online_enabled, atm_enabled, contactless_enabled, international_enabled),
        strict=True,
    ):
        setattr(card, name, enabled)
    after = snapshot(card)
    audit.record(
        session,
        "card.controls_changed",
        resource_type="card",
        resource=card,
        changes={k: {"old": before[k], "new": after[k]} for k in after if before[k] != after[k]},
    )
    uow.commit(session)
    return card


# --- evaluation on an authorization ---------------------------------------------------------


@dataclass(frozen=True)
class Purchase:
    amount: int
    mcc: str
    country: str
    channel: str


def _period_starts(now: datetime) -> tuple[datetime, datetime]:
    day = datetime.combine(now.astimezone(UTC).date(), time.min, tzinfo=UTC)
    return day, day.replace(day=1)


_SPENT = sa.select(
    sa.func.coalesce(
        sa.func.sum(
            sa.case(
                (
                    CardAuthorization.created_at >= sa.bindparam("day_start"),
                    CardAuthorization.counted_amount,
                ),
                else_=0,
            )
        ),
        0,
    ),
    sa.func.coalesce(sa.func.sum(CardAuthorization.counted_amount), 0),
).where(
    CardAuthorization.card_id == sa.bindparam("card_id"),
    CardAuthorization.created_at >= sa.bindparam("month_start"),
)


def decline_reason(session: Session, card: Card, purchase: Purchase, now: datetime) -> str | None:
    """The first control the purchase breaks, as a decline reason; None when all pass.

    Call it with the card's row locked (the daily and monthly sums are read in turn).
    """
    if card.per_transaction_limit is not None and purchase.amount > card.per_transaction_limit:
        return "limit_exceeded"
    if card.daily_limit is not None or card.monthly_limit is not None:
        day_start, month_start = _period_starts(now)
        today, month = session.execute(
            _SPENT, {"card_id": card.id, "day_start": day_start, "month_start": month_start}
        ).one()
        if card.daily_limit is not None and today + purchase.amount > card.daily_limit:
            return "limit_exceeded"
        if card.monthly_limit is not None and month + purchase.amount > card.monthly_limit:
            return "limit_exceeded"
    if purchase.mcc in (card.blocked_mccs or []):
        return "mcc_blocked"
    if card.allowed_countries and purchase.country not in card.allowed_countries:
        return "country_blocked"
    home = current_app.config["CARD_HOME_COUNTRY"]
    if not card.international_enabled and purchase.country != home:
        return "country_blocked"
    switch = {
        Channel.ONLINE: card.online_enabled,
        Channel.ATM: card.atm_enabled,
        Channel.CONTACTLESS: card.contactless_enabled,
        Channel.POS: True,
    }[Channel(purchase.channel)]
    if not switch:
        return "channel_disabled"
    return None
