"""Card use cases for the holder: issue, look up, reveal, freeze, cancel, replace, activate, PIN.

Every use case is one unit of work: it locks the card row it changes, checks, audits and commits
once. A card of another customer is "not found". The PAN leaves this module only in the answer
to `reveal_card`; audit records name the card by id and last four digits.
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import CursorResult
from sqlalchemy.orm import Session

from app.auth.models import KycStatus, User
from app.cards import controls, vault
from app.cards.errors import CardStateConflict, KycRequired
from app.cards.lookup import get_card, lock_own_card
from app.cards.models import CancelReason, Card, CardStatus, CardType
from app.core import audit, uow
from app.core.db import table_of, utcnow
from app.core.errors import Conflict, ValidationError
from app.core.pagination import Page, paginate
from app.ledger.accounts import Account, AccountStatus
from app.ledger.errors import AccountFrozen
from app.ledger.queries import get_own_account

LIVE = (CardStatus.INACTIVE.value, CardStatus.ACTIVE.value, CardStatus.FROZEN.value)


def _summary(card: Card) -> dict[str, str]:
    """What an audit record says about a card: never more than the last four digits."""
    return {
        "card_type": card.card_type,
        "brand": card.brand,
        "last4": card.last4,
        "status": card.status,
    }


def _expiry(now: datetime) -> tuple[int, int]:
    return now.month, now.year + current_app.config["CARD_VALIDITY_YEARS"]


def _new_card(
    session: Session, *, user_id: int, account: Account, card_type: str, cardholder_name: str
) -> Card:
    """A new card with a fresh PAN (sealed, fingerprinted) on `account`; added, not committed."""
    bin_ = vault.card_bin()
    while True:
        pan = vault.generate_pan(bin_)
        digest = vault.fingerprint(pan)
        if session.scalar(sa.select(Card.id).where(Card.pan_fingerprint == digest)) is None:
            break
    now = utcnow()
    month, year = _expiry(now)
    public_id = uuid.uuid4()
    card = Card(
        public_id=public_id,
        user_id=user_id,
        account_id=account.id,
        account=account,
        card_type=card_type,
        brand=vault.brand_for(bin_),
        bin=pan[:6],
        last4=pan[-4:],
        pan_length=len(pan),
        pan_ciphertext=vault.seal_pan(pan, card_public_id=public_id),
        pan_fingerprint=digest,
        expiry_month=month,
        expiry_year=year,
        cardholder_name=cardholder_name,
        status=(CardStatus.INACTIVE if card_type == CardType.PHYSICAL else CardStatus.ACTIVE).value,
        activated_at=None if card_type == CardType.PHYSICAL else now,
        created_at=now,
        updated_at=now,
    )
    session.add(card)
    return card


def issue_card(
    session: Session,
    *,
    user: User,
    account_id: uuid.UUID,
    card_type: str,
    cardholder_name: str | None = None,
) -> Card:
    """Issue a virtual (active at once) or physical (inactive until activated) card."""
    account = get_own_account(session, user=user, account_id=account_id)
    if account.status != AccountStatus.ACTIVE:
        raise AccountFrozen(f"The account is {account.status}; no card can be issued on it.")
    if current_app.config["CARD_REQUIRE_KYC"] and user.kyc_status != KycStatus.APPROVED:
        raise KycRequired()
    live = session.scalar(
        sa.select(sa.func.count())
        .select_from(Card)
        .where(Card.user_id == user.id, Card.status.in_(LIVE))
    )
    if live >= current_app.config["CARD_MAX_ACTIVE_PER_USER"]:
        raise Conflict("You hold the most cards allowed; cancel one first.")
    name = (cardholder_name or f"{user.first_name} {user.last_name}").upper()[:26].strip()
    card = _new_card(
        session, user_id=user.id, account=account, card_type=card_type, cardholder_name=name
    )
    controls.apply_defaults(card, account.currency)
    session.flush()
    audit.record(
        session,
        "card.issued",
        resource_type="card",
        resource=card,
        changes={**_summary(card), "account_id": str(account.public_id)},
    )
    uow.commit(session)
    return card


def list_cards(session: Session, *, user: User, limit: int, cursor: str | None = None) -> Page:
    """The caller's cards, newest first."""
    stmt = sa.select(Card).where(Card.user_id == user.id)
    return paginate(session, stmt, model=Card, limit=limit, cursor=cursor)


@dataclass(frozen=True)
class RevealedCard:
    pan: str
    cvv: str
    expiry_month: int
    expiry_year: int

    def __repr__(self) -> str:  # never in a traceback or a log line
        return f"RevealedCard(pan='****', cvv='***', expiry={self.expiry_month}/{self.expiry_year})"


def reveal_card(session: Session, *, user: User, card_id: uuid.UUID) -> RevealedCard:
    """The full PAN and the CVV of a live card, for its holder (audited, never stored)."""
    card = get_card(session, user=user, card_id=card_id)
    if card.current_status() not in LIVE:
        raise CardStateConflict(f"The card is {card.current_status()}; it cannot be revealed.")
    pan = vault.open_pan(card.pan_ciphertext, card_public_id=card.public_id)
    revealed = RevealedCard(
        pan=pan,
        cvv=vault.cvv(pan, card.expiry_month, card.expiry_year),
        expiry_month=card.expiry_month,
        expiry_year=card.expiry_year,
    )
    audit.record(
        session, "card.revealed", resource_type="card", resource=card, changes=_summary(card)
    )
    uow.commit(session)
    return revealed


def _transition(session: Session, card: Card, action: str, **changes: str) -> Card:
    audit.record(
        session,
        action,
        resource_type="card",
        resource=card,
        changes={**_summary(card), **changes},
    )
    uow.commit(session)
    return card


def freeze_card(session: Session, *, user: User, card_id: uuid.UUID) -> Card:
    """Freeze an active card: every authorization is declined until it is unfrozen."""
    card = lock_own_card(session, user=user, card_id=card_id)
    status = card.current_status()
    if status == CardStatus.FROZEN:
        return card
    if status != CardStatus.ACTIVE:
        raise CardStateConflict(f"Only an active card can be frozen; this one is {status}.")
    card.status = CardStatus.FROZEN.value
    return _transition(session, card, "card.frozen")


def unfreeze_card(session: Session, *, user: User, card_id: uuid.UUID) -> Card:
    """Make a frozen card active again."""
    card = lock_own_card(session, user=user, card_id=card_id)
    status = card.current_status()
    if status == CardStatus.ACTIVE:
        return card
    if status != CardStatus.FROZEN:
        raise CardStateConflict(f"Only a frozen card can be unfrozen; this one is {status}.")
    card.status = CardStatus.ACTIVE.value
    return _transition(session, card, "card.unfrozen")


def cancel_card(
    session: Session, *, user: User, card_id: uuid.UUID, reason: str, replace: bool = False
) -> tuple[Card, Card | None]:
    """Cancel a card for good (lost, stolen, closed); a replacement gets a new PAN and the
    same controls. Authorizations already approved stay capturable until they expire."""
    card = lock_own_card(session, user=user, card_id=card_id)
    if card.status == CardStatus.CANCELLED:
        raise CardStateConflict("The card is already cancelled.")
    reason = CancelReason(reason).value
    card.status = CardStatus.CANCELLED.value
    card.cancel_reason = reason
    card.cancelled_at = utcnow()
    replacement = None
    if replace:
        account = session.get(Account, card.account_id)
        if account is None:  # accounts are closed, never deleted
            raise RuntimeError(f"card {card.id}: account {card.account_id} is gone")
        if account.status != AccountStatus.ACTIVE:
            raise AccountFrozen(f"The account is {account.status}; no card can be issued on it.")
        replacement = _new_card(
            session,
            user_id=user.id,
            account=account,
            card_type=card.card_type,
            cardholder_name=card.cardholder_name,
        )
        replacement.replaces_id = card.id
        controls.copy_controls(card, replacement)
        session.flush()
        audit.record(
            session,
            "card.issued",
            resource_type="card",
            resource=replacement,
            changes={**_summary(replacement), "replaces": str(card.public_id)},
        )
    audit.record(
        session,
        "card.cancelled",
        resource_type="card",
        resource=card,
        changes={
            **_summary(card),
            "reason": reason,
            "replacement": str(replacement.public_id) if replacement else None,
        },
    )
    uow.commit(session)
    return card, replacement


def activate_card(
    session: Session,
    *,
    user: User,
    card_id: uuid.UUID,
    last4: str,
    expiry_month: int,
    expiry_year: int,
) -> Card:
    """Activate a physical card with the last four digits and the expiry printed on it."""
    card = lock_own_card(session, user=user, card_id=card_id)
    status = card.current_status()
    if status != CardStatus.INACTIVE:
        raise CardStateConflict(
            f"Only an inactive physical card is activated; this one is {status}."
        )
    matches = hmac.compare_digest(last4, card.last4) and (expiry_month, expiry_year) == (
        card.expiry_month,
        card.expiry_year,
    )
    if not matches:
        audit.refuse(
            session,
            ValidationError(
                "The details do not match the card.",
                details={"last4": ["The last four digits and the expiry must match the card."]},
            ),
            "card.activation_failed",
            resource_type="card",
            resource_id=str(card_id),
        )
    card.status = CardStatus.ACTIVE.value
    card.activated_at = utcnow()
    return _transition(session, card, "card.activated")


def set_pin(session: Session, *, user: User, card_id: uuid.UUID, pin: str) -> None:
    """Set or change a live card's PIN (4–6 digits, not trivial), stored as an Argon2 hash."""
    problem = vault.pin_problem(pin)
    if problem:
        raise ValidationError("The PIN is not allowed.", details={"pin": [problem]})
    card = lock_own_card(session, user=user, card_id=card_id)
    if card.current_status() not in LIVE:
        raise CardStateConflict(f"The card is {card.current_status()}; its PIN cannot change.")
    changed = card.pin_hash is not None
    card.pin_hash = vault.hash_pin(pin)
    card.pin_set_at = utcnow()
    _transition(session, card, "card.pin_changed" if changed else "card.pin_set")


def expire_cards(session: Session, *, now: datetime | None = None) -> int:
    """Mark live cards past their expiry month `expired`; returns how many (safe to rerun)."""
    now = now or utcnow()
    cards = session.scalars(
        sa.select(Card)
        .where(Card.status.in_(LIVE))
        .order_by(Card.id)
        .with_for_update(of=Card, key_share=True, skip_locked=True)
    ).all()
    count = 0
    for card in cards:
        if card.current_status(now) == CardStatus.EXPIRED:
            card.status = CardStatus.EXPIRED.value
            audit.record(
                session, "card.expired", resource_type="card", resource=card, changes=_summary(card)
            )
            count += 1
    uow.commit(session)
    return count


def rotate_keys(session: Session, *, batch_size: int = 500) -> int:
    """Re-seal every PAN not sealed with the newest card key; returns how many.

    One transaction per batch, each with its audit record; safe to interrupt and run again.
    """
    primary = vault.primary_key_id()
    table = table_of(Card)
    done = 0
    last_id = 0
    while True:
        rows = session.execute(
            sa.select(table.c.id, table.c.public_id, table.c.pan_ciphertext)
            .where(table.c.id > last_id)
            .order_by(table.c.id)
            .limit(batch_size)
        ).all()
        if not rows:
            break
        last_id = rows[-1].id
        resealed = 0
        for row in rows:
            if vault.key_id(row.pan_ciphertext) == primary:
                continue
            pan = vault.open_pan(row.pan_ciphertext, card_public_id=row.public_id)
            # Compare-and-set: a row changed meanwhile is left for the next run.
            # An UPDATE without RETURNING gives a CursorResult; Session.execute says Result.
            resealed += cast(
                CursorResult[Any],
                session.execute(
                    sa.update(table)
                    .where(table.c.id == row.id, table.c.pan_ciphertext == row.pan_ciphertext)
                    .values(pan_ciphertext=vault.seal_pan(pan, card_public_id=row.public_id))
                ),
            ).rowcount
        if resealed:
            audit.record(
                session,
                "card.keys_rotated",
                resource_type="card_key",
                resource_id=primary,
                changes={"cards_resealed": resealed},
            )
        uow.commit(session)
        done += resealed
    return done
