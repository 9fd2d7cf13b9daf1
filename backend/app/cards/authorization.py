"""The card network's side: authorize, capture, reverse, and the expiry of unused holds.

An authorization checks, in this order, and answers with the first reason that applies:

1. the card's status (`card_frozen`, `card_inactive`, `card_cancelled`),
2. the expiry (`expired_card`: past the expiry month, or not the card's expiry),
3. the CVV when given (`invalid_cvv`),
4. the controls (`limit_exceeded`, `mcc_blocked`, `country_blocked`, `channel_disabled`),
5. the account's available balance (`insufficient_funds`; a frozen account: `account_frozen`).

Locking: the card row first (`FOR UPDATE`), so that one card's authorizations are checked
against its daily and monthly limits one after the other, then the account (in `holds`).
Capture, reverse and expiry lock the authorization row first, then its hold and account.

A decline is an answer, not an error: it is recorded (the authorization row, a `rejected`
`card_authorization` in the holder's history, an audit record naming the processor and the
reason) and returned as `approved: false`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from prometheus_client import Counter
from sqlalchemy.orm import Session

from app.auth.models import User
from app.cards import controls, holds, vault
from app.cards.errors import (
    AuthorizationNotFound,
    AuthorizationStateConflict,
    CaptureExceedsAuthorization,
    CardNotFound,
)
from app.cards.lookup import get_card
from app.cards.models import AuthorizationStatus, Card, CardAuthorization, CardStatus
from app.core import audit, events, uow
from app.core.db import utcnow
from app.core.errors import DomainError, ValidationError
from app.core.money import MoneyError, format_amount, parse_amount
from app.core.pagination import Page, paginate
from app.ledger.errors import CurrencyMismatch, HoldNotActive
from app.ledger.models import JournalTransaction

log = logging.getLogger("flowlet.cards")

AUTHORIZATIONS = Counter(
    "flowlet_card_authorizations_total",
    "Card authorizations by outcome (approved, or the decline reason)",
    ["outcome"],
)

STATUS_DECLINES = {
    CardStatus.FROZEN.value: "card_frozen",
    CardStatus.INACTIVE.value: "card_inactive",
    CardStatus.CANCELLED.value: "card_cancelled",
    CardStatus.EXPIRED.value: "expired_card",
}


def _card_decline(
    card: Card, *, pan: str, expiry_month: int, expiry_year: int, cvv: str | None, now: datetime
) -> str | None:
    """Checks 1–3: status, expiry, CVV."""
    reason = STATUS_DECLINES.get(card.status)
    if reason:
        return reason
    if card.current_status(now) == CardStatus.EXPIRED:
        return "expired_card"
    if (expiry_month, expiry_year) != (card.expiry_month, card.expiry_year):
        return "expired_card"
    if cvv is not None and not vault.cvv_matches(cvv, pan, card.expiry_month, card.expiry_year):
        return "invalid_cvv"
    return None


def _audit(session: Session, auth: CardAuthorization, card: Card, action: str) -> None:
    """The authorization's audit record and, for the network's answer, the holder's event."""
    changes = {
        "card_id": str(card.public_id),
        "last4": card.last4,
        "amount": format_amount(auth.amount, auth.currency),
        "currency": auth.currency,
        "captured_amount": (
            format_amount(auth.captured_amount, auth.currency) if auth.captured_amount else None
        ),
        "merchant_name": auth.merchant_name,
        "mcc": auth.mcc,
        "country": auth.country,
        "channel": auth.channel,
        "status": auth.status,
        "decline_reason": auth.decline_reason,
    }
    audit.record(
        session,
        action,
        resource_type="card_authorization",
        resource=auth,
        outcome="success" if auth.approved else "failure",
        changes=changes,
    )
    if action == "card.authorization":
        events.emit(
            session,
            "card.authorized" if auth.approved else "card.declined",
            {"authorization_id": str(auth.public_id)} | changes,
            user_id=card.user_id,
            account_id=auth.account_id,
        )


_FIND_CARD = (
    sa.select(Card)
    .where(Card.pan_fingerprint == sa.bindparam("fingerprint"))
    .with_for_update(of=Card, key_share=True)
    .execution_options(populate_existing=True)
)


def authorize(
    session: Session,
    *,
    processor_id: int,
    pan: str,
    expiry_month: int,
    expiry_year: int,
    amount: int,
    currency: str,
    merchant_name: str,
    mcc: str,
    country: str,
    channel: str,
    cvv: str | None = None,
) -> CardAuthorization:
    """Approve (and hold the funds) or decline a card payment; either way it is recorded."""
    now = utcnow()
    card = _find_card(session, pan, currency)
    account = card.account
    auth = CardAuthorization(
        public_id=uuid.uuid4(),
        card=card,
        card_id=card.id,
        account_id=account.id,
        processor_id=processor_id,
        amount=amount,
        currency=currency,
        merchant_name=merchant_name,
        mcc=mcc,
        country=country,
        channel=channel,
        created_at=now,
    )
    metadata = _movement_metadata(auth, card)
    reason = _card_decline(
        card, pan=pan, expiry_month=expiry_month, expiry_year=expiry_year, cvv=cvv, now=now
    ) or controls.decline_reason(
        session,
        card,
        controls.Purchase(amount=amount, mcc=mcc, country=country, channel=channel),
        now,
    )
    if reason is None:
        card, reason = _approve(session, auth, card, metadata, now)
    if reason is not None:
        _record_decline(session, auth, card, reason, metadata)
    _count(auth, card)
    return auth


def _find_card(session: Session, pan: str, currency: str) -> Card:
    """Our card with this number (by its fingerprint), paying in `currency`."""
    card = session.scalar(_FIND_CARD, {"fingerprint": vault.fingerprint(pan)})
    if card is None:
        AUTHORIZATIONS.labels("unknown_card").inc()
        raise CardNotFound("No card of ours has this number.")
    if currency != card.account.currency:
        raise CurrencyMismatch(details={"currency": [f"The card pays in {card.account.currency}."]})
    return card


def _count(auth: CardAuthorization, card: Card) -> None:
    """Count the answer, and log a decline (by the card's last four digits only)."""
    AUTHORIZATIONS.labels(auth.decline_reason or "approved").inc()
    if not auth.approved:
        log.info(
            "card authorization declined",
            extra={
                "authorization_id": str(auth.public_id),
                "reason": auth.decline_reason,
                "last4": card.last4,
            },
        )


def _movement_metadata(auth: CardAuthorization, card: Card) -> dict[str, Any]:
    """What the engine's rules and the journal know of the payment."""
    return {
        "channel": "card",
        "card_channel": auth.channel,
        "mcc": auth.mcc,
        "country": auth.country,
        "merchant_name": auth.merchant_name,
        "reference": f"card-auth:{auth.public_id}",
        "card_id": str(card.public_id),
    }


def _approve(
    session: Session,
    auth: CardAuthorization,
    card: Card,
    metadata: dict[str, Any],
    now: datetime,
) -> tuple[Card, str | None]:
    """Hold the amount through the engine; the card (reloaded after a refusal, which rolled
    its lock back) and the engine's refusal code, or None when approved."""
    auth.approved = True
    auth.status = AuthorizationStatus.AUTHORIZED.value
    auth.counted_amount = auth.amount
    auth.expires_at = now + timedelta(seconds=holds.hold_seconds())
    _audit(session, auth, card, "card.authorization")
    try:
        # A decline here (held for review) is recorded already.
        holds.hold(
            session,
            auth,
            amount=auth.amount,
            currency=auth.currency,
            initiator_id=card.user_id,
            expires_at=auth.expires_at,
            metadata=metadata,
        )
    except DomainError as exc:
        if exc.status >= 500:
            raise
        # The engine rolled the movement back (the card lock with it) and audited it.
        reloaded = session.get(Card, auth.card_id)
        if reloaded is None:  # cards are never deleted
            raise RuntimeError(f"card {auth.card_id} is gone") from exc
        card = auth.card = reloaded
        return card, exc.code
    return card, None


def _record_decline(
    session: Session,
    auth: CardAuthorization,
    card: Card,
    reason: str,
    metadata: dict[str, Any],
) -> None:
    """A decline: the authorization row, a `rejected` history entry, an audit record; commit."""
    auth.approved = False
    auth.status = AuthorizationStatus.DECLINED.value
    auth.decline_reason = reason
    auth.counted_amount = 0
    auth.expires_at = auth.hold_id = None
    declined = holds.record_declined(
        session,
        account_id=auth.account_id,
        amount=auth.amount,
        currency=auth.currency,
        initiator_id=card.user_id,
        reason=reason,
        metadata=metadata,
    )
    auth.transaction_id = declined.id
    session.add(auth)
    session.flush()
    _audit(session, auth, card, "card.authorization")
    if reason == "invalid_cvv":
        _freeze_after_cvv_failures(session, card, auth.created_at)
    uow.commit(session, keep_loaded=True)  # keeps the answer's objects loaded


_CVV_FAILURES = (
    sa.select(sa.func.count())
    .select_from(CardAuthorization)
    .where(
        CardAuthorization.card_id == sa.bindparam("card_id"),
        CardAuthorization.decline_reason == "invalid_cvv",
        CardAuthorization.created_at >= sa.bindparam("since"),
    )
)


def _freeze_after_cvv_failures(session: Session, card: Card, now: datetime) -> None:
    """Freeze a card after `CARD_CVV_FAILURES_BEFORE_FREEZE` wrong CVVs in a day: someone is
    guessing it (1,000 values). Runs under the card's lock; the holder can unfreeze it."""
    limit = int(current_app.config["CARD_CVV_FAILURES_BEFORE_FREEZE"])
    if limit <= 0 or card.status != CardStatus.ACTIVE:
        return
    since = now - timedelta(days=1)
    failures = session.execute(_CVV_FAILURES, {"card_id": card.id, "since": since}).scalar_one()
    if failures < limit:
        return
    card.status = CardStatus.FROZEN.value
    audit.record(
        session,
        "card.frozen",
        resource_type="card",
        resource=card,
        changes={"last4": card.last4, "status": card.status, "reason": "invalid_cvv_attempts"},
    )


_LOCK_AUTH = (
    sa.select(CardAuthorization)
    .where(CardAuthorization.public_id == sa.bindparam("public_id"))
    .with_for_update(of=CardAuthorization, key_share=True)
    .execution_options(populate_existing=True)
)


def _lock_authorization(session: Session, authorization_id: uuid.UUID) -> CardAuthorization:
    auth = session.scalar(_LOCK_AUTH, {"public_id": authorization_id})
    if auth is None:
        raise AuthorizationNotFound()
    return auth


def _still_held(auth: CardAuthorization, action: str) -> None:
    if auth.status == AuthorizationStatus.AUTHORIZED:
        return
    if auth.status == AuthorizationStatus.CAPTURED:
        raise AuthorizationStateConflict(f"The authorization is already captured; no {action}.")
    raise AuthorizationStateConflict(f"The authorization is {auth.status}; no {action}.")


def capture(
    session: Session, *, processor: User, authorization_id: uuid.UUID, amount: str
) -> CardAuthorization:
    """Capture an authorization once, in full or in part; the rest of the hold is released."""
    auth = _lock_authorization(session, authorization_id)
    try:
        minor = parse_amount(amount, auth.currency)
    except MoneyError as exc:
        raise ValidationError("The amount is not valid.", details={"amount": [str(exc)]}) from exc
    _still_held(auth, "capture")
    if minor > auth.amount:
        raise CaptureExceedsAuthorization(
            details={"amount": [f"At most {format_amount(auth.amount, auth.currency)}."]}
        )
    auth.status = AuthorizationStatus.CAPTURED.value
    auth.captured_amount = minor
    auth.counted_amount = minor
    auth.capture_transaction_id = auth.transaction_id  # the held movement is the one posted
    auth.captured_at = utcnow()
    _audit(session, auth, auth.card, "card.capture")
    _through_engine(session, auth, holds.capture, amount=minor)
    return auth


def reverse(session: Session, *, processor: User, authorization_id: uuid.UUID) -> CardAuthorization:
    """Reverse an authorization that is still held: the hold is released."""
    auth = _lock_authorization(session, authorization_id)
    _still_held(auth, "reversal")
    auth.status = AuthorizationStatus.REVERSED.value
    auth.counted_amount = 0
    auth.released_at = utcnow()
    _audit(session, auth, auth.card, "card.reversal")
    _through_engine(session, auth, holds.void, reason="reversed by the card network")
    return auth


def _through_engine(
    session: Session,
    auth: CardAuthorization,
    step: Callable[..., JournalTransaction],
    **kwargs: int | str,
) -> None:
    """Capture or void `auth`'s hold through the engine (which commits). A hold the engine
    released meanwhile (it expired) marks the authorization expired and refuses the request."""
    public_id = auth.public_id
    try:
        step(session, auth, initiator_id=auth.card.user_id, **kwargs)
    except HoldNotActive:
        session.rollback()
        auth = _lock_authorization(session, public_id)
        if auth.status == AuthorizationStatus.AUTHORIZED:
            holds.mark_expired(session, auth)
        uow.commit(session)
        raise AuthorizationStateConflict(f"The authorization is {auth.status}.") from None


def list_authorizations(
    session: Session, *, user: User, card_id: uuid.UUID, limit: int, cursor: str | None = None
) -> Page:
    """The authorizations of one of the caller's cards, approved and declined, newest first."""
    card = get_card(session, user=user, card_id=card_id)
    stmt = sa.select(CardAuthorization).where(CardAuthorization.card_id == card.id)
    return paginate(session, stmt, model=CardAuthorization, limit=limit, cursor=cursor)
