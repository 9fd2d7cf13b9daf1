"""Where card authorizations meet the movement engine: hold, capture, void, and the observer
that keeps each authorization in step with its hold.

- `hold`: `engine.execute(Movement(card_authorization, customer account → card clearing),
  hold=True)`: locks, checks the funds, runs the policies registered for card authorizations
  (the fraud rules), places the hold, audits and commits — together with the authorization row,
  which `observe` links to the transaction and the hold (their ids are taken with the
  customer's lock) and stages for the movement's one write. A refusal raises the engine's
  `DomainError` after the engine rolled back and audited it.
- `capture`: `engine.capture`: posts the captured amount (≤ held, once) and releases the rest.
  The posted transaction becomes a `card_capture`; until then the holder's history shows the
  `card_authorization`, pending.
- `void`: `engine.void`: releases the hold; the transaction becomes `rejected`.
- Expiry is the engine's: `engine.expire_holds` (the RQ job `app.ledger.tasks.expire_holds`)
  releases the hold, and `observe` marks its authorization `expired` in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.orm import Session

from app.cards.models import AuthorizationStatus, CardAuthorization
from app.core import audit, uow
from app.core.db import table_of, utcnow
from app.ledger import engine
from app.ledger.accounts import SystemAccount
from app.ledger.errors import SuspectedFraud
from app.ledger.models import JournalTransaction, TxnStatus, TxnType

KIND = TxnType.CARD_AUTHORIZATION.value
IN_HAND = "card_authorization"  # the unit of work's subject: the authorization being answered


def _clearing_id(session: Session, currency: str) -> int:
    """The card clearing account's id (system accounts never change: read once per process)."""
    known: dict[str, int] = current_app.extensions.setdefault("flowlet_card_clearing", {})
    if currency not in known:
        known[currency] = engine.system_account_id(session, SystemAccount.CARD_CLEARING, currency)
    return known[currency]


def _description(metadata: Mapping[str, Any]) -> str:
    return f"Card: {metadata.get('merchant_name') or 'payment'}"[:255]


def hold(
    session: Session,
    auth: CardAuthorization,
    *,
    amount: int,
    currency: str,
    initiator_id: int | None,
    expires_at: datetime,
    metadata: Mapping[str, Any],
) -> str | None:
    """Hold `amount` for `auth` (not yet in the session) and commit both; None when held, or
    the decline reason when a policy held the movement for review instead.

    A card network cannot wait for a compliance officer: a movement held for review is declined
    (`suspected_fraud`) and its hold released at once; the review's alert stays for the officers.

    `auth` is written only from `observe`, once the engine holds the account's lock (staged for
    the movement's one write; added to the session when held for review): its insert checks its
    foreign keys (a `FOR KEY SHARE` lock on the account), and taking that before the engine's
    `FOR UPDATE` would let two authorizations on one account deadlock.
    """
    clearing = _clearing_id(session, currency)
    movement = engine.Movement(
        kind=KIND,
        debit_account_id=auth.account_id,
        credit_account_id=clearing,
        amount=amount,
        currency=currency,
        initiator_id=initiator_id,
        metadata={
            **metadata,
            "description": _description(metadata),
            "beneficiary_name": metadata.get("merchant_name"),
        },
    )
    uow.of(session).subject[IN_HAND] = auth  # ends with the unit of work
    result = engine.execute(session, movement, hold=True, hold_expires_at=expires_at)
    if result.transaction.status != TxnStatus.PENDING_REVIEW:
        return None
    return _decline_for_review(session, auth, result.transaction, initiator_id)


def _decline_for_review(
    session: Session, auth: CardAuthorization, txn: JournalTransaction, initiator_id: int | None
) -> str:
    """Decline a payment a policy held for review (`suspected_fraud`) and release its hold at
    once; the review's alert stays for the officers."""
    hold_id = auth.hold_id
    if hold_id is None:  # `observe` links the hold as the engine places it
        raise RuntimeError(f"authorization {auth.public_id} was held for review without its hold")
    auth.approved = False
    auth.status = AuthorizationStatus.DECLINED.value
    auth.decline_reason = SuspectedFraud.code
    auth.counted_amount = 0
    auth.hold_id = auth.expires_at = None
    audit.record(
        session,
        "card.authorization_declined_for_review",
        resource_type="card_authorization",
        resource=auth,
        outcome="failure",
        changes={
            "decline_reason": auth.decline_reason,
            "risk_rules": txn.risk_rules,
        },
    )
    uow.of(session).subject[IN_HAND] = auth  # the hold's own release, not an expiry
    with session.no_autoflush:
        engine.void(session, hold_id, initiator_id=initiator_id, reason="held for review")
    return auth.decline_reason


def record_declined(
    session: Session,
    *,
    account_id: int,
    amount: int,
    currency: str,
    initiator_id: int | None,
    reason: str,
    metadata: Mapping[str, Any],
) -> JournalTransaction:
    """A declined authorization in the holder's history: `rejected`, no entries, no hold.

    Nothing moves, so this is no movement for the engine: a record the caller commits.
    """
    txn = JournalTransaction(
        type=KIND,
        status=TxnStatus.REJECTED.value,
        amount=amount,
        currency=currency,
        from_account_id=account_id,
        initiated_by_id=initiator_id,
        description=_description(metadata),
        reference=metadata.get("reference"),
        counterparty_name=metadata.get("merchant_name"),
        failure_reason=reason,
        risk_rules=[],
    )
    session.add(txn)
    session.flush()
    return txn


def _hold_of(auth: CardAuthorization) -> int:
    if auth.hold_id is None:  # every authorized authorization has its hold
        raise RuntimeError(f"authorization {auth.public_id} has no hold")
    return auth.hold_id


def capture(
    session: Session, auth: CardAuthorization, *, amount: int, initiator_id: int | None
) -> JournalTransaction:
    """Post `amount` of `auth`'s hold and commit (with `auth`'s changes, flushed only once the
    engine holds its locks)."""
    hold_id = _hold_of(auth)
    uow.of(session).subject[IN_HAND] = auth
    with session.no_autoflush:
        return engine.capture(session, hold_id, amount, initiator_id=initiator_id)


def void(
    session: Session, auth: CardAuthorization, *, initiator_id: int | None, reason: str
) -> JournalTransaction:
    """Release `auth`'s hold and commit (with `auth`'s changes)."""
    hold_id = _hold_of(auth)
    uow.of(session).subject[IN_HAND] = auth
    with session.no_autoflush:
        return engine.void(session, hold_id, initiator_id=initiator_id, reason=reason)


_AUTHORIZATION_COLUMNS = (
    "public_id",
    "card_id",
    "account_id",
    "processor_id",
    "amount",
    "currency",
    "merchant_name",
    "mcc",
    "country",
    "channel",
    "approved",
    "decline_reason",
    "status",
    "counted_amount",
    "hold_id",
    "transaction_id",
    "created_at",
    "expires_at",
)


def _write_authorizations(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert the staged authorization rows (the unit of work calls it, with the movement)."""
    session.connection().execute(sa.insert(table_of(CardAuthorization)), rows)


@uow.composes(_write_authorizations)
def _compose_authorizations(session: Session, rows: list[dict[str, Any]]) -> list[uow.Part]:
    return [uow.insert_rows(table_of(CardAuthorization), rows)]


def _stage(session: Session, auth: CardAuthorization) -> None:
    """Write `auth` (approved and held) with the movement's one write; it stays out of the
    session, as the engine's transaction and hold do."""
    row = {c: getattr(auth, c) for c in _AUTHORIZATION_COLUMNS}
    uow.of(session).stage(_write_authorizations, row)


def observe(ctx: engine.PolicyContext, txn: JournalTransaction) -> None:
    """Keep the authorization of a card hold in step with it (in the movement's transaction)."""
    session = ctx.session
    in_hand: CardAuthorization | None = uow.of(session).subject.get(IN_HAND)
    if ctx.event == "held" and in_hand is not None:
        in_hand.transaction_id = txn.id
        in_hand.hold_id = ctx.hold_id
        _stage(session, in_hand)
        return
    if ctx.event == "review" and in_hand is not None:  # declined and voided in this request
        in_hand.transaction_id = txn.id
        in_hand.hold_id = ctx.hold_id
        session.add(in_hand)
        return
    if ctx.event == "captured":
        txn.type = TxnType.CARD_CAPTURE.value
        return
    if ctx.event != "released" or in_hand is not None:
        return  # a capture or reversal answered by the card service, which keeps its row
    # A hold released by the engine on its own: expiry. An authorization locked by a capture
    # or reversal right now is skipped; that one finds the hold gone and marks it itself.
    auth = session.scalars(
        sa.select(CardAuthorization)
        .where(CardAuthorization.transaction_id == txn.id)
        .with_for_update(of=CardAuthorization, key_share=True, skip_locked=True)
    ).one_or_none()
    if auth is None or auth.status != AuthorizationStatus.AUTHORIZED:
        return
    mark_expired(session, auth)


def mark_expired(session: Session, auth: CardAuthorization) -> None:
    auth.status = AuthorizationStatus.EXPIRED.value
    auth.counted_amount = 0
    auth.released_at = utcnow()
    audit.record(
        session,
        "card.authorization_expired",
        resource_type="card_authorization",
        resource=auth,
        changes={"status": auth.status},
    )


def hold_seconds() -> int:
    return int(current_app.config["CARD_AUTHORIZATION_HOLD_SECONDS"])


def register(app: Flask) -> None:
    """Plug the card observer into the engine (at app creation). The fraud rules that decline a
    card payment are the transactions domain's (`transactions.fraud.decline`)."""
    engine.register_observer(app, "card_authorizations", observe, kinds=(KIND,))
