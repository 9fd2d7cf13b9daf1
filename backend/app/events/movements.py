"""`movement.*` events, written by an observer of the movement engine in the movement's
transaction: one event per customer account the change touches, for that account's owner.

| engine event | event type |
| --- | --- |
| completed, captured, approved (and posted) | `movement.completed` |
| held, review, approved (two-phase, still held) | `movement.held` |
| released, rejected | `movement.released` |
| reversed (the original) | `movement.reversed` |

A movement held for review also writes `movement.held` for the compliance queue.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from app.core import events
from app.core.money import format_amount
from app.ledger import hooks
from app.ledger.accounts import Account
from app.ledger.models import JournalTransaction, TxnStatus
from app.ledger.movement import PolicyContext

_TYPES = {
    "completed": "movement.completed",
    "captured": "movement.completed",
    "held": "movement.held",
    "review": "movement.held",
    "released": "movement.released",
    "rejected": "movement.released",
    "reversed": "movement.reversed",
}


def register(app: Flask) -> None:
    hooks.register_observer(app, "events", observe)


def _type_of(ctx: PolicyContext, txn: JournalTransaction) -> str | None:
    if ctx.event == "approved":
        return "movement.completed" if txn.status == TxnStatus.COMPLETED.value else "movement.held"
    return _TYPES.get(ctx.event)


def observe(ctx: PolicyContext, txn: JournalTransaction) -> None:
    """Write the change's events for the owners of the customer accounts it touches."""
    kind = _type_of(ctx, txn)
    if kind is None:
        return
    sides = ((ctx.debit, "debit"), (ctx.credit, "credit"))
    for account, direction in sides:
        if account.is_system or account.user_id is None:
            continue
        events.emit(
            ctx.session,
            kind,
            _payload(ctx, txn, account, direction),
            user_id=account.user_id,
            account_id=account.id,
        )
    if ctx.event == "review":
        events.emit(
            ctx.session,
            "movement.held",
            _payload(ctx, txn, None, None) | {"risk_rules": list(txn.risk_rules or [])},
            audience="compliance",
        )


def _payload(
    ctx: PolicyContext,
    txn: JournalTransaction,
    account: Account | None,
    direction: str | None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "transaction_id": str(txn.public_id),
        "transaction_type": txn.type,
        "status": txn.status,
        "amount": format_amount(txn.amount, txn.currency),
        "currency": txn.currency,
    }
    if account is not None:
        data["account_id"] = str(account.public_id)
        data["direction"] = direction
    return data
