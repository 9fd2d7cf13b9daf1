"""Decisions on a movement already written: an officer's review of a held one, and the
reversal of a completed one."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.core import audit
from app.core.db import for_update, utcnow
from app.core.errors import Conflict, Forbidden
from app.ledger import hooks
from app.ledger import posting as ledger
from app.ledger.accounts import AccountStatus
from app.ledger.errors import AccountFrozen, AlreadyReversed
from app.ledger.execution import admit, context_for, finish, new_transaction, summary
from app.ledger.holds import release
from app.ledger.models import Hold, HoldStatus, JournalTransaction, TxnStatus, TxnType
from app.ledger.movement import Movement, TransactionNotFound


def _lock_transaction(session: Session, transaction_id: int | uuid.UUID) -> JournalTransaction:
    column = (
        JournalTransaction.public_id
        if isinstance(transaction_id, uuid.UUID)
        else JournalTransaction.id
    )
    txn = session.scalars(
        for_update(
            sa.select(JournalTransaction).where(column == transaction_id), of=JournalTransaction
        )
    ).one_or_none()
    if txn is None:
        raise TransactionNotFound()
    return txn


def decide_review(
    session: Session,
    transaction_id: int | uuid.UUID,
    *,
    approve: bool,
    officer_id: int,
    notes: str | None = None,
) -> JournalTransaction:
    """Approve or reject a movement held for review.

    Approved, it posts (or, for a movement that was a hold to begin with, stays held as
    `pending`); rejected, the held funds are released. Nobody decides their own movement.
    """
    txn = _lock_transaction(session, transaction_id)
    if txn.status != TxnStatus.PENDING_REVIEW:
        raise Conflict(f"The transaction is {txn.status}, not pending_review.")
    if txn.initiated_by_id == officer_id:
        raise Forbidden("You may not decide a transaction you initiated.")
    held = session.scalars(
        for_update(
            sa.select(Hold).where(
                Hold.transaction_id == txn.id, Hold.status == HoldStatus.ACTIVE.value
            )
        )
    ).one_or_none()  # None for money arriving from outside (nothing to reserve)
    ctx = context_for(session, txn, officer_id, notes=notes)
    if not approve:
        if held is not None:
            release(session, held, ctx, HoldStatus.RELEASED)
        txn.status = TxnStatus.REJECTED.value
        txn.failure_reason = "rejected by compliance"
    elif (txn.attributes or {}).get("hold"):
        if held is None:  # a two-phase movement always holds its customer's funds
            raise RuntimeError(f"transaction {txn.id} was held for review without its hold")
        held.reason = txn.type[:32]
        txn.status = TxnStatus.PENDING.value
    else:
        if not ctx.debit.is_system and ctx.debit.status != AccountStatus.ACTIVE:
            raise AccountFrozen("The paying account is no longer active; reject the transfer.")
        if not ctx.credit.is_system and ctx.credit.status == AccountStatus.CLOSED:
            raise AccountFrozen("The receiving account is closed; reject the transfer.")
        if held is not None:
            release(session, held, ctx, HoldStatus.CAPTURED)
            held.captured_amount = held.amount
        ledger.post(session, txn, [(ctx.debit, -txn.amount), (ctx.credit, txn.amount)])
        txn.status = TxnStatus.COMPLETED.value
    hooks.observe(ctx, txn, "approved" if approve else "rejected")
    action = "transaction.review_approved" if approve else "transaction.review_rejected"
    finish(session, action, txn, notes=notes)
    return txn


# --- reversal ------------------------------------------------------------------------------------


def reverse(
    session: Session,
    transaction_id: int | uuid.UUID,
    *,
    reason: str,
    initiator_id: int | None,
) -> JournalTransaction:
    """Undo a completed movement with a linked reversal that mirrors its entries.

    Returns the reversal; the original becomes `reversed`. A second reversal → 409
    `already_reversed`; a reversal the account cannot pay → 422 `insufficient_funds`.
    """
    txn = _lock_transaction(session, transaction_id)
    if txn.status == TxnStatus.REVERSED or txn.type == TxnType.REVERSAL:
        raise AlreadyReversed()
    if txn.status != TxnStatus.COMPLETED:
        raise Conflict(f"The transaction is {txn.status}; only a completed one can be reversed.")
    debit_leg = next(e for e in txn.entries if e.amount < 0)
    credit_leg = next(e for e in txn.entries if e.amount > 0)
    movement = Movement(
        kind=TxnType.REVERSAL.value,
        debit_account_id=credit_leg.account_id,
        credit_account_id=debit_leg.account_id,
        amount=txn.amount,
        currency=txn.currency,
        initiator_id=initiator_id,
        metadata={"description": f"Reversal: {reason}", "reason": reason},
    )
    now = utcnow()
    ctx, _, _ = admit(
        session,
        movement,
        "transaction.reversed",
        lambda: {"transaction_id": str(txn.public_id), "reason": reason},
        now=now,
        reversal=True,
    )
    reversal = new_transaction(movement, ctx, now)
    reversal.status = TxnStatus.COMPLETED.value
    reversal.reversal_of_id = txn.id
    session.add(reversal)
    ledger.post(session, reversal, [(ctx.debit, -txn.amount), (ctx.credit, txn.amount)])
    txn.status = TxnStatus.REVERSED.value
    txn.failure_reason = reason[:255]
    hooks.observe(ctx, reversal, "completed")
    hooks.observe(ctx, txn, "reversed")
    audit.record(
        session,
        "transaction.reversed",
        resource_type="transaction",
        resource=txn,
        changes=summary(txn, reason=reason),
    )
    session.flush()
    finish(session, "transaction.reversal", reversal, reversal_of=str(txn.public_id))
    return reversal
