"""Two-phase movements: capture a hold (once), void it, expire the ones past their time."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.core import audit, uow
from app.core.db import for_update, utcnow
from app.core.errors import NotFound, ValidationError
from app.core.money import format_amount
from app.ledger import hooks
from app.ledger import posting as ledger
from app.ledger.errors import HoldNotActive
from app.ledger.execution import context_for, finish, summary
from app.ledger.models import Hold, HoldStatus, JournalTransaction, TxnStatus
from app.ledger.movement import PolicyContext


def transaction_of(hold: Hold) -> JournalTransaction:
    """The movement a hold reserves for (every hold the engine places has one)."""
    if hold.transaction is None:
        raise RuntimeError(f"hold {hold.id} belongs to no transaction")
    return hold.transaction


def _lock_hold(session: Session, hold_id: int | uuid.UUID) -> Hold:
    column = Hold.public_id if isinstance(hold_id, uuid.UUID) else Hold.id
    found = session.scalars(
        for_update(sa.select(Hold).where(column == hold_id), of=Hold)
    ).one_or_none()
    if found is None:
        raise NotFound("The hold was not found.")
    if found.status != HoldStatus.ACTIVE:
        raise HoldNotActive(f"The hold is {found.status}.")
    return found


def release(session: Session, hold: Hold, ctx: PolicyContext, status: HoldStatus) -> None:
    hold.status = status.value
    hold.released_at = ctx.now
    ctx.debit.held -= hold.amount


def capture(
    session: Session,
    hold_id: int | uuid.UUID,
    amount: int | None = None,
    *,
    initiator_id: int | None,
    audit_action: str = "transaction.captured",
) -> JournalTransaction:
    """Post `amount` (≤ held; all of it when None) of a hold; the rest is released. Once."""
    held = _lock_hold(session, hold_id)
    amount = held.amount if amount is None else amount
    if not 0 < amount <= held.amount:
        raise ValidationError(
            "The capture must be positive and at most the held amount.",
            details={"amount": [f"At most {format_amount(held.amount, held.currency)}."]},
            code="capture_exceeds_hold",
        )
    txn = transaction_of(held)
    ctx = context_for(session, txn, initiator_id)
    ctx.shared["held_amount"] = held.amount
    release(session, held, ctx, HoldStatus.CAPTURED)
    held.captured_amount = amount
    txn.amount = amount
    ledger.post(session, txn, [(ctx.debit, -amount), (ctx.credit, amount)])
    txn.status = TxnStatus.COMPLETED.value
    hooks.observe(ctx, txn, "captured")
    finish(session, audit_action, txn, held=format_amount(held.amount, held.currency))
    return txn


def void(
    session: Session,
    hold_id: int | uuid.UUID,
    *,
    initiator_id: int | None,
    reason: str = "voided",
    audit_action: str = "transaction.voided",
) -> JournalTransaction:
    """Release a hold without posting; its transaction becomes `rejected`."""
    held = _lock_hold(session, hold_id)
    txn = _release_hold(session, held, initiator_id, reason)
    finish(session, audit_action, txn, reason=reason)
    return txn


def _release_hold(
    session: Session, held: Hold, initiator_id: int | None, reason: str
) -> JournalTransaction:
    txn = transaction_of(held)
    ctx = context_for(session, txn, initiator_id)
    release(session, held, ctx, HoldStatus.RELEASED)
    txn.status = TxnStatus.REJECTED.value
    txn.failure_reason = reason[:255]
    hooks.observe(ctx, txn, "released")
    return txn


def expire_holds(session: Session, now: datetime | None = None, *, batch: int = 500) -> int:
    """Release the active holds past their expiry; returns how many. Safe to run twice.

    Holds being captured or voided right now are skipped (`SKIP LOCKED`) and left to them.
    """
    now = now or utcnow()
    due = session.scalars(
        for_update(
            sa.select(Hold)
            .where(Hold.status == HoldStatus.ACTIVE.value, Hold.expires_at <= now)
            .order_by(Hold.id)
            .limit(batch),
            skip_locked=True,
        )
    ).all()
    for held in due:
        txn = _release_hold(session, held, None, "expired")
        audit.record(
            session,
            "transaction.hold_expired",
            resource_type="transaction",
            resource=txn,
            changes=summary(txn),
        )
    uow.commit(session)
    return len(due)
