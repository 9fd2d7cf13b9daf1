"""The movement engine: the whole life of every movement of money, in one place.

A `Movement` names its kind, the account money leaves (debit), the account it arrives in
(credit), the amount in minor units, the currency, who asked and what else the rules need
(`metadata`: channel, mcc, country, beneficiary, description, reference …). `execute` carries it
through one unit of work:

1. lock the customer accounts in ascending id order, then the customer's user row
   (`FOR NO KEY UPDATE`: one customer's movements are checked in turn);
2. check the accounts (open, same currency, funds) and run the policies registered for the
   kind: a policy raises a `DomainError` to refuse, or returns a `Review` to hold for review;
3. post the balanced entries (each with the account's running balance), or place a hold;
4. run the observers registered for the kind (counters, AML rules, alerts, jobs);
5. audit, spend the request's idempotency claim, and commit once.

A refusal rolls the movement back and is audited as a failure in a commit of its own.

Two-phase movements: `execute(..., hold=True)` reserves the amount (`pending`); `capture` posts
at most the held amount, once; `void` and `expire_holds` release it. A movement held for review
is decided by `decide_review`. `reverse` books a linked reversal and marks the original.

Lock order, everywhere: a transaction or hold row first (capture, void, review, reversal), then
the customer accounts by id, then the customer. System accounts are never locked nor cached.
The ledger imports no domain: the customer's model is registered with it (`owners`), and domains
call `register_facts`, `register_policy` and `register_observer` when the app is created.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NoReturn

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.core import audit, uow
from app.core.db import for_update, utcnow
from app.core.errors import Conflict, DomainError, Forbidden, NotFound, ValidationError
from app.core.money import format_amount
from app.ledger import locks, owners
from app.ledger import services as ledger
from app.ledger.accounts import Account, AccountStatus, SystemAccount
from app.ledger.errors import (
    AccountFrozen,
    AlreadyReversed,
    CurrencyMismatch,
    HoldNotActive,
    InsufficientFunds,
)
from app.ledger.models import Hold, HoldStatus, JournalTransaction, TxnStatus, TxnType

# Metadata keys stored in their own columns; the rest is kept in `attributes`.
_COLUMNS = {
    "description": "description",
    "reference": "reference",
    "counterparty_iban": "counterparty_iban",
    "beneficiary_name": "counterparty_name",
    "beneficiary_key": "beneficiary_key",
}


class TransactionNotFound(NotFound):
    message = "The transaction was not found."


@dataclass(frozen=True)
class Movement:
    kind: str
    debit_account_id: int
    credit_account_id: int
    amount: int
    currency: str
    initiator_id: int | None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Review:
    """A policy's request to hold the movement for a compliance officer."""

    rule: str
    score: int
    reason: str = ""


@dataclass
class PolicyContext:
    session: Session
    movement: Movement
    debit: Account
    credit: Account
    customer: owners.Customer | None
    now: datetime
    # What happened, for observers: completed, held, review, captured, released, approved,
    # rejected, reversed.
    event: str = ""
    risk_score: int = 0
    risk_rules: list[str] = field(default_factory=list)
    # The id the movement's transaction takes (taken with the customer's lock), when known.
    transaction_id: int | None = None
    # The id of the hold the movement placed (held or in review), once placed.
    hold_id: int | None = None
    # Scratch space the policies and observers of one movement share (e.g. counters read once).
    shared: dict[str, Any] = field(default_factory=dict)

    def flag(self, rule: str, score: int) -> None:
        """Record a risk rule that fired (stored on the transaction, held or not)."""
        if rule not in self.risk_rules:
            self.risk_rules.append(rule)
            self.risk_score += score


@dataclass
class Result:
    transaction: JournalTransaction
    hold: Hold | None = None


Policy = Callable[[PolicyContext], "Review | None"]
Observer = Callable[[PolicyContext, JournalTransaction], None]


@dataclass(frozen=True)
class _Registered:
    fn: Callable
    kinds: frozenset[str] | None

    def applies(self, kind: str) -> bool:
        return self.kinds is None or kind in self.kinds


@dataclass(frozen=True)
class Facts:
    """A one-row read that a policy or observer needs once the locks are held.

    The engine composes every reader's `Facts` of a movement into one statement (cross-joined
    one-row subqueries, built once per combination of `shape`s, so psycopg prepares it) and
    hands each reader its columns through `take`. Bind parameter names must not collide with
    other readers' (prefix them).
    """

    shape: Any  # hashable: names what `build` makes
    build: Callable[[], sa.Select]  # a SELECT that returns exactly one row
    params: Mapping[str, Any]
    take: Callable[[Sequence[Any]], None]


FactsReader = Callable[["PolicyContext"], "Facts | None"]

_policies: dict[str, _Registered] = {}
_observers: dict[str, _Registered] = {}
_fact_readers: dict[str, _Registered] = {}
_composed_facts: dict[tuple, tuple[sa.Select, tuple[int, ...]]] = {}


def register_policy(name: str, fn: Policy, *, kinds: Iterable[str] | None = None) -> None:
    """Check every movement of `kinds` (all when None) before it posts; same name replaces."""
    _policies[name] = _Registered(fn, frozenset(kinds) if kinds is not None else None)


def register_observer(name: str, fn: Observer, *, kinds: Iterable[str] | None = None) -> None:
    """Call `fn(ctx, txn)` after each change of a movement of `kinds`, in its transaction."""
    _observers[name] = _Registered(fn, frozenset(kinds) if kinds is not None else None)


def register_facts(name: str, fn: FactsReader, *, kinds: Iterable[str] | None = None) -> None:
    """Call `fn(ctx)` once the locks of a movement of `kinds` are held; the `Facts` it returns
    (or None: nothing to read) is read with every other reader's in one statement, before the
    policies run. Same name replaces."""
    _fact_readers[name] = _Registered(fn, frozenset(kinds) if kinds is not None else None)


def _compose_facts(parts: Sequence[Facts]) -> tuple[sa.Select, tuple[int, ...]]:
    key = tuple(part.shape for part in parts)
    found = _composed_facts.get(key)
    if found is None:
        reads = [part.build() for part in parts]
        subqueries = [read.subquery(f"facts{i}") for i, read in enumerate(reads)]
        joined = subqueries[0]
        for subquery in subqueries[1:]:
            joined = joined.join(subquery, sa.true())
        columns = [
            column.label(f"f{i}_{j}")
            for i, subquery in enumerate(subqueries)
            for j, column in enumerate(subquery.c)
        ]
        widths = tuple(len(read.selected_columns) for read in reads)
        found = _composed_facts[key] = (sa.select(*columns).select_from(joined), widths)
    return found


def _read_facts(ctx: PolicyContext) -> None:
    """One statement for every fact the movement's readers need (read after the locks: a
    statement that waited for a lock still reads with the snapshot it started with)."""
    parts = [
        part
        for item in list(_fact_readers.values())
        if item.applies(ctx.movement.kind) and (part := item.fn(ctx)) is not None
    ]
    if not parts:
        return
    params: dict[str, Any] = {}
    for part in parts:
        if params.keys() & part.params.keys():
            raise RuntimeError(f"facts {part.shape!r} reuse a bind parameter name")
        params.update(part.params)
    statement, widths = _compose_facts(parts)
    row = ctx.session.connection().execute(statement, params).one()
    start = 0
    for part, width in zip(parts, widths, strict=True):
        part.take(row[start : start + width])
        start += width


def _observe(ctx: PolicyContext, txn: JournalTransaction, event: str) -> None:
    ctx.event = event
    for item in _observers.values():
        if item.applies(txn.type):
            item.fn(ctx, txn)


def system_account_id(session: Session, code: SystemAccount | str, currency: str) -> int:
    """The internal id of the bank's system account `code` in `currency`."""
    return ledger.system_account(session, code, currency).id


def default_hold_expiry(now: datetime | None = None) -> datetime:
    """When a hold placed now expires by default (`HOLD_EXPIRY_SECONDS`)."""
    return (now or utcnow()) + timedelta(seconds=current_app.config["HOLD_EXPIRY_SECONDS"])


# --- checks ---------------------------------------------------------------------------------------


def _check(ctx: PolicyContext, *, reversal: bool = False) -> None:
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


def _run_policies(ctx: PolicyContext) -> list[Review]:
    _read_facts(ctx)
    reviews = []
    for item in list(_policies.values()):
        if item.applies(ctx.movement.kind):
            review = item.fn(ctx)
            if review is not None:
                ctx.flag(review.rule, review.score)
                reviews.append(review)
    return reviews


def _summary(txn: JournalTransaction, **extra: Any) -> dict:
    return {
        "type": txn.type,
        "status": txn.status,
        "amount": format_amount(txn.amount, txn.currency),
        "currency": txn.currency,
        "risk_score": txn.risk_score,
        "risk_rules": list(txn.risk_rules or []),
        **{k: v for k, v in extra.items() if v is not None},
    }


def _finish(session: Session, action: str, txn: JournalTransaction, **extra: Any) -> None:
    """Audit the change and commit the unit of work once (keeping the written rows loaded)."""
    audit.record(
        session, action, resource_type="transaction", resource=txn, changes=_summary(txn, **extra)
    )
    uow.commit(session, keep_loaded=True)


def _refuse(session: Session, action: str, exc: DomainError, changes: dict) -> NoReturn:
    """Roll the movement back, keep the refusal's audit record, raise."""
    audit.refuse(
        session,
        exc,
        action,
        resource_type="transaction",
        changes={**changes, "reason": exc.code},
    )


# --- execute -------------------------------------------------------------------------------------


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
        _check(ctx)
        if hold and ctx.debit.is_system:
            raise RuntimeError("only a customer account can hold funds")
        reviews = _run_policies(ctx)
    except DomainError as exc:
        _refuse(session, action, exc, _refused_changes(session, movement))
    txn = _new_transaction(movement, ctx, now)
    placed = None
    if reviews:
        txn.status = TxnStatus.PENDING_REVIEW.value
        txn.attributes = {**txn.attributes, "hold": hold}
        session.add(txn)
        if not ctx.debit.is_system:  # money arriving from outside waits without a hold
            placed = ledger.place_hold(
                session, ctx.debit, txn, movement.amount, "review", default_hold_expiry(now)
            )
        session.flush()
        event = "review"
    elif hold:
        txn.status = TxnStatus.PENDING.value
        placed = ledger.hold_new(
            session,
            txn,
            ctx.debit,
            movement.amount,
            str(movement.metadata.get("hold_reason") or movement.kind)[:32],
            expires_at=hold_expires_at or default_hold_expiry(now),
            now=now,
            transaction_id=ctx.transaction_id,
            hold_id=locked.hold_id,
        )
        event = "held"
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
    _observe(ctx, txn, event)
    _finish(session, action, txn, to_iban=txn.counterparty_iban)
    return Result(txn, placed)


def _refused_changes(session: Session, movement: Movement) -> dict:
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


def _new_transaction(movement: Movement, ctx: PolicyContext, now: datetime) -> JournalTransaction:
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


# --- two-phase holds -----------------------------------------------------------------------------


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


def _context_for(
    session: Session, txn: JournalTransaction, initiator_id: int | None, **metadata: Any
) -> PolicyContext:
    """Lock a held transaction's accounts (and customer) and describe it for the observers."""
    # Rows from before the engine named no system account: settlement was the other side.
    settlement = None
    if txn.from_account_id is None or txn.to_account_id is None:
        settlement = system_account_id(session, SystemAccount.SETTLEMENT, txn.currency)
    debit_id = txn.from_account_id or settlement
    credit_id = txn.to_account_id or settlement
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


def _release(session: Session, hold: Hold, ctx: PolicyContext, status: HoldStatus) -> None:
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
    txn = held.transaction
    ctx = _context_for(session, txn, initiator_id)
    ctx.shared["held_amount"] = held.amount
    _release(session, held, ctx, HoldStatus.CAPTURED)
    held.captured_amount = amount
    txn.amount = amount
    ledger.post(session, txn, [(ctx.debit, -amount), (ctx.credit, amount)])
    txn.status = TxnStatus.COMPLETED.value
    _observe(ctx, txn, "captured")
    _finish(session, audit_action, txn, held=format_amount(held.amount, held.currency))
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
    _finish(session, audit_action, txn, reason=reason)
    return txn


def _release_hold(
    session: Session, held: Hold, initiator_id: int | None, reason: str
) -> JournalTransaction:
    txn = held.transaction
    ctx = _context_for(session, txn, initiator_id)
    _release(session, held, ctx, HoldStatus.RELEASED)
    txn.status = TxnStatus.REJECTED.value
    txn.failure_reason = reason[:255]
    _observe(ctx, txn, "released")
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
            changes=_summary(txn),
        )
    uow.commit(session)
    return len(due)


# --- review --------------------------------------------------------------------------------------


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
    ctx = _context_for(session, txn, officer_id, notes=notes)
    if not approve:
        if held is not None:
            _release(session, held, ctx, HoldStatus.RELEASED)
        txn.status = TxnStatus.REJECTED.value
        txn.failure_reason = "rejected by compliance"
    elif (txn.attributes or {}).get("hold"):
        held.reason = txn.type[:32]
        txn.status = TxnStatus.PENDING.value
    else:
        if not ctx.debit.is_system and ctx.debit.status != AccountStatus.ACTIVE:
            raise AccountFrozen("The paying account is no longer active; reject the transfer.")
        if not ctx.credit.is_system and ctx.credit.status == AccountStatus.CLOSED:
            raise AccountFrozen("The receiving account is closed; reject the transfer.")
        if held is not None:
            _release(session, held, ctx, HoldStatus.CAPTURED)
            held.captured_amount = held.amount
        ledger.post(session, txn, [(ctx.debit, -txn.amount), (ctx.credit, txn.amount)])
        txn.status = TxnStatus.COMPLETED.value
    _observe(ctx, txn, "approved" if approve else "rejected")
    action = "transaction.review_approved" if approve else "transaction.review_rejected"
    _finish(session, action, txn, notes=notes)
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
    try:
        locked = locks.lock(session, movement.debit_account_id, movement.credit_account_id)
        ctx = PolicyContext(
            session,
            movement,
            locked.accounts[movement.debit_account_id],
            locked.accounts[movement.credit_account_id],
            locked.customer,
            now,
            transaction_id=locked.transaction_id,
        )
        _check(ctx, reversal=True)
        _run_policies(ctx)
    except DomainError as exc:
        _refuse(
            session,
            "transaction.reversed",
            exc,
            {"transaction_id": str(txn.public_id), "reason": reason},
        )
    reversal = _new_transaction(movement, ctx, now)
    reversal.status = TxnStatus.COMPLETED.value
    reversal.reversal_of_id = txn.id
    session.add(reversal)
    ledger.post(session, reversal, [(ctx.debit, -txn.amount), (ctx.credit, txn.amount)])
    txn.status = TxnStatus.REVERSED.value
    txn.failure_reason = reason[:255]
    _observe(ctx, reversal, "completed")
    _observe(ctx, txn, "reversed")
    audit.record(
        session,
        "transaction.reversed",
        resource_type="transaction",
        resource=txn,
        changes=_summary(txn, reason=reason),
    )
    session.flush()
    _finish(session, "transaction.reversal", reversal, reversal_of=str(txn.public_id))
    return reversal
