"""The one place where card authorizations touch the ledger: hold, capture, void.

Its three functions have the shape of the movement engine's `execute(..., hold=True)`,
`capture` and `void`, so that the authorization service does not change when they are routed
through the engine. Today they use the ledger's hold and posting functions directly. Each only
flushes; the calling use case commits.

- `hold`: a `card_authorization` journal transaction (`pending`, no entries) and an active hold
  on the customer's account for the authorized amount; refused with `insufficient_funds` or
  `account_frozen`.
- `capture`: the hold is marked captured (the whole authorized amount leaves the hold, so the
  rest of a partial capture is released) and a `card_capture` transaction posts customer
  account → card clearing for the captured amount.
- `void`: the hold is released; the authorization transaction is `reversed`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.accounts.models import AccountStatus, SystemAccount
from app.ledger import services as ledger
from app.ledger.errors import AccountFrozen
from app.ledger.models import Hold, HoldStatus, JournalTransaction, TxnStatus, TxnType


@dataclass(frozen=True)
class Held:
    transaction: JournalTransaction
    hold: Hold


def _description(metadata: Mapping[str, Any]) -> str:
    return f"Card: {metadata.get('merchant_name') or 'payment'}"[:255]


def hold(
    session: Session,
    *,
    account_id: int,
    amount: int,
    currency: str,
    initiator_id: int | None,
    metadata: Mapping[str, Any],
) -> Held:
    """Reserve `amount` on the customer's account for a card authorization."""
    account = ledger.lock_accounts(session, [account_id])[account_id]
    if account.status != AccountStatus.ACTIVE:
        raise AccountFrozen(f"The account is {account.status}; it cannot be debited.")
    ledger.ensure_can_debit(account, amount)
    clearing = ledger.system_account(session, SystemAccount.CARD_CLEARING, currency)
    txn = JournalTransaction(
        type=TxnType.CARD_AUTHORIZATION.value,
        status=TxnStatus.PENDING.value,
        amount=amount,
        currency=currency,
        from_account=account,
        to_account=clearing,
        initiated_by_id=initiator_id,
        description=_description(metadata),
        reference=metadata.get("reference"),
        counterparty_name=metadata.get("merchant_name"),
        risk_rules=[],
    )
    session.add(txn)
    held = ledger.place_hold(session, account, txn, amount, "card_authorization")
    session.flush()
    return Held(txn, held)


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
    """A declined authorization in the history: `rejected`, no entries, no hold."""
    txn = JournalTransaction(
        type=TxnType.CARD_AUTHORIZATION.value,
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


def _lock_hold(session: Session, hold_id: int) -> Hold:
    return session.scalar(
        sa.select(Hold)
        .where(Hold.id == hold_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def capture(
    session: Session, *, hold_id: int, amount: int, initiator_id: int | None
) -> JournalTransaction:
    """Post `amount` (≤ the hold) to card clearing and close the hold; once per hold."""
    held = _lock_hold(session, hold_id)
    if held is None or held.status != HoldStatus.ACTIVE or amount > held.amount:
        raise RuntimeError("capture needs an active hold of at least the amount")
    auth_txn = held.transaction
    locked = ledger.lock_accounts(session, [held.account_id])
    account = locked[held.account_id]
    ledger.release_holds(session, auth_txn, locked, status=HoldStatus.CAPTURED)
    clearing = ledger.system_account(session, SystemAccount.CARD_CLEARING, held.currency)
    txn = JournalTransaction(
        type=TxnType.CARD_CAPTURE.value,
        status=TxnStatus.COMPLETED.value,
        amount=amount,
        currency=held.currency,
        from_account=account,
        to_account=clearing,
        initiated_by_id=initiator_id,
        description=auth_txn.description,
        reference=auth_txn.reference,
        counterparty_name=auth_txn.counterparty_name,
        risk_rules=[],
    )
    session.add(txn)
    # The hold covered at least `amount`, so the funds floor cannot break here.
    ledger.post(session, txn, [(account, -amount), (clearing, amount)])
    auth_txn.status = TxnStatus.COMPLETED.value
    session.flush()
    return txn


def void(session: Session, *, hold_id: int, initiator_id: int | None, reason: str) -> bool:
    """Release an active hold; False when it is no longer active (nothing to do)."""
    held = _lock_hold(session, hold_id)
    if held is None or held.status != HoldStatus.ACTIVE:
        return False
    auth_txn = held.transaction
    locked = ledger.lock_accounts(session, [held.account_id])
    ledger.release_holds(session, auth_txn, locked, status=HoldStatus.RELEASED)
    auth_txn.status = TxnStatus.REVERSED.value
    auth_txn.failure_reason = reason[:255]
    session.flush()
    return True
