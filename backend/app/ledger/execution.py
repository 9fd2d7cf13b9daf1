"""Executing a movement: lock, check, run the policies, post or hold, observe, audit, commit.

`execute` is the engine's one way in for a new movement; what the holds, the review and the
reversal share with it (the checks, the audit of a change or a refusal, the context of a
movement already written) is here too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, NoReturn

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.core import audit, uow
from app.core.db import utcnow
from app.core.errors import DomainError, ValidationError
from app.core.money import format_amount
from app.ledger import hooks, locks
from app.ledger import posting as ledger
from app.ledger.accounts import Account, AccountStatus, SystemAccount
from app.ledger.errors import AccountFrozen, CurrencyMismatch, InsufficientFunds
from app.ledger.models import Hold, JournalTransaction, TxnStatus
from app.ledger.movement import Movement, PolicyContext, Result, Review

_COLUMNS = {
    "description": "description",
    "reference": "reference",
    "counterparty_iban": "counterparty_iban",
    "beneficiary_name": "counterparty_name",
    "beneficiary_key": "beneficiary_key",
}


def system_account_id(session: Session, code: SystemAccount | str, currency: str) -> int:
    """The internal id of the bank's system account `code` in `currency`."""
    return ledger.system_account(session, code, currency).id


def default_hold_expiry(now: datetime | None = None) -> datetime:
    """When a hold placed now expires by default (`HOLD_EXPIRY_SECONDS`)."""
    return (now or utcnow()) + timedelta(seconds=current_app.config["HOLD_EXPIRY_SECONDS"])


# --- checks ---------------------------------------------------------------------------------------


def check(ctx: PolicyContext, *, reversal: bool = False) -> None:
    movement, debit, credit = ctx.movement, ctx.debit, ctx.credit
    if movement.amount <= 0:
        raise ValidationError("The amount must be positive.", details={"amount": ["Must be > 0."]})
    cap = current_app.config["MAX_MOVEMENT_MINOR_UNITS"]
    if movement.amount > cap:
        raise ValidationError(
            "The amount is above what one movement may carry.",
            details={"amount": [f"At most {format_amount(cap, movement.currency)}."]},
        )
    if debit.id == credit.id:
        raise ValidationError(
            "Source and destination are the same account.",
            details={"to_account_id": ["Must differ from the source account."]},
        )
    for account in (debit, credit):
        if account.currency != movement.currency:
            raise CurrencyMismatch(details={"currency": [f"The account is in {account.currency}."]})
    if not credit.is_system and credit.status == AccountStatus.CLOSED:
        raise AccountFrozen("The receiving account is closed.")
    if not debit.is_system:
        if debit.status != AccountStatus.ACTIVE and not (
            reversal and debit.status == AccountStatus.FROZEN
        ):
            raise AccountFrozen(f"The account is {debit.status}; it cannot be debited.")
        if debit.available_balance < movement.amount:
            raise InsufficientFunds()


def summary(txn: JournalTransaction, **extra: Any) -> dict[str, Any]:
    return {
        "type": txn.type,
        "status": txn.status,
        "amount": format_amount(txn.amount, txn.currency),
        "currency": txn.currency,
        "risk_score": txn.risk_score,
        "risk_rules": list(txn.risk_rules or []),
        **{k: v for k, v in extra.items() if v is not None},
    }


def finish(session: Session, action: str, txn: JournalTransaction, **extra: Any) -> None:
    """Audit the change and commit the unit of work once (keeping the written rows loaded)."""
    audit.record(
        session, action, resource_type="transaction", resource=txn, changes=summary(txn, **extra)
    )
    uow.commit(session, keep_loaded=True)


def refuse(session: Session, action: str, exc: DomainError, changes: dict[str, Any]) -> NoReturn:
    """Roll the movement back, keep the refusal's audit record, raise."""
    audit.refuse(
        session,
        exc,
        action,
        resource_type="transaction",
        changes={**changes, "reason": exc.code},
    )


# --- execute -------------------------------------------------------------------------------------


def admit(
    session: Session,
    movement: Movement,
    action: str,
    refused: Callable[[], dict[str, Any]],
    *,
    now: datetime,
    hold: bool = False,
    reversal: bool = False,
) -> tuple[PolicyContext, list[Review], int | None]:
    """Lock the movement's accounts and customer, check them, read the facts and run the
    policies: the context, the reviews asked for, and the id taken for a hold.

    A refusal is rolled back, audited as `action` with `refused()`'s changes, and raised.
    """
    try:
        locked = locks.lock(
            session, movement.debit_account_id, movement.credit_account_id, hold=hold
        )
        ctx = PolicyContext(
            session=session,
            movement=movement,
            debit=locked.accounts[movement.debit_account_id],
            credit=locked.accounts[movement.credit_account_id],
            customer=locked.customer,
            now=now,
            transaction_id=locked.transaction_id,
        )
        check(ctx, reversal=reversal)
        if hold and ctx.debit.is_system:
            raise RuntimeError("only a customer account can hold funds")
        return ctx, hooks.run_policies(ctx), locked.hold_id
    except DomainError as exc:
        refuse(session, action, exc, refused())


def execute(
    session: Session,
    movement: Movement,
    *,
    hold: bool = False,
    hold_expires_at: datetime | None = None,
    audit_action: str | None = None,
) -> Result:
    """Lock, check, run the policies, post or hold, observe, audit, spend the claim, commit."""
    action = audit_action or f"transaction.{movement.kind}"
    now = utcnow()
    ctx, reviews, hold_id = admit(
        session, movement, action, lambda: _refused_changes(session, movement), now=now, hold=hold
    )
    txn = new_transaction(movement, ctx, now)
    placed: Hold | None = None
    if reviews:
        placed, event = _hold_for_review(ctx, txn, hold), "review"
    elif hold:
        placed, event = _hold(ctx, txn, hold_expires_at, hold_id), "held"
    else:
        txn.status = TxnStatus.COMPLETED.value
        ledger.post_between(
            session,
            txn,
            ctx.debit,
            ctx.credit,
            movement.amount,
            now=now,
            transaction_id=ctx.transaction_id,
        )
        event = "completed"
    ctx.hold_id = placed.id if placed is not None else None
    hooks.observe(ctx, txn, event)
    finish(session, action, txn, to_iban=txn.counterparty_iban)
    return Result(txn, placed)


def _hold_for_review(ctx: PolicyContext, txn: JournalTransaction, hold: bool) -> Hold | None:
    """Keep the movement for an officer: its funds held (none for money arriving from
    outside, which waits without a hold) until the decision or `HOLD_EXPIRY_SECONDS`."""
    txn.status = TxnStatus.PENDING_REVIEW.value
    txn.attributes = {**txn.attributes, "hold": hold}
    ctx.session.add(txn)
    placed = None
    if not ctx.debit.is_system:
        placed = ledger.place_hold(
            ctx.session,
            ctx.debit,
            txn,
            ctx.movement.amount,
            "review",
            default_hold_expiry(ctx.now),
        )
    ctx.session.flush()
    return placed


def _hold(
    ctx: PolicyContext, txn: JournalTransaction, expires_at: datetime | None, hold_id: int | None
) -> Hold:
    """Reserve the amount (`pending`) until it is captured, voided or expires."""
    txn.status = TxnStatus.PENDING.value
    return ledger.hold_new(
        ctx.session,
        txn,
        ctx.debit,
        ctx.movement.amount,
        str(ctx.movement.metadata.get("hold_reason") or ctx.movement.kind)[:32],
        expires_at=expires_at or default_hold_expiry(ctx.now),
        now=ctx.now,
        transaction_id=ctx.transaction_id,
        hold_id=hold_id,
    )


def _refused_changes(session: Session, movement: Movement) -> dict[str, Any]:
    changes = {
        "kind": movement.kind,
        "amount": format_amount(movement.amount, movement.currency),
        "currency": movement.currency,
    }
    for side, account_id in (
        ("from", movement.debit_account_id),
        ("to", movement.credit_account_id),
    ):
        public_id = session.scalar(
            sa.select(Account.public_id).where(
                Account.id == account_id, Account.system_code.is_(None)
            )
        )
        if public_id is not None:
            changes[f"{side}_account_id"] = str(public_id)
    return changes


def new_transaction(movement: Movement, ctx: PolicyContext, now: datetime) -> JournalTransaction:
    meta = dict(movement.metadata)
    columns = {column: meta.pop(key, None) for key, column in _COLUMNS.items()}
    meta.pop("hold_reason", None)
    return JournalTransaction(
        public_id=uuid.uuid4(),
        type=movement.kind,
        amount=movement.amount,
        currency=movement.currency,
        from_account=ctx.debit,
        to_account=ctx.credit,
        initiated_by_id=movement.initiator_id,
        description=(columns.pop("description") or movement.kind.replace("_", " ").title())[:255],
        risk_score=ctx.risk_score,
        risk_rules=list(ctx.risk_rules),
        attributes={k: v for k, v in meta.items() if v is not None},
        created_at=now,
        updated_at=now,
        **columns,
    )


def context_for(
    session: Session, txn: JournalTransaction, initiator_id: int | None, **metadata: Any
) -> PolicyContext:
    """Lock a held transaction's accounts (and customer) and describe it for the observers."""
    # Rows from before the engine named no system account: settlement was the other side.
    debit_id, credit_id = txn.from_account_id, txn.to_account_id
    if debit_id is None or credit_id is None:
        settlement = system_account_id(session, SystemAccount.SETTLEMENT, txn.currency)
        debit_id, credit_id = debit_id or settlement, credit_id or settlement
    locked = locks.lock(session, debit_id, credit_id)
    accounts, customer = locked.accounts, locked.customer
    movement = Movement(
        kind=txn.type,
        debit_account_id=debit_id,
        credit_account_id=credit_id,
        amount=txn.amount,
        currency=txn.currency,
        initiator_id=initiator_id,
        metadata={**(txn.attributes or {}), **metadata},
    )
    return PolicyContext(
        session, movement, accounts[debit_id], accounts[credit_id], customer, utcnow()
    )
