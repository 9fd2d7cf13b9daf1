"""Settlement of external (IBAN) transfers: the held amount is captured to the settlement
account and handed to the outbound rail; a transfer the rail refuses is reversed.

The job that runs it, and the engine observer that queues the job once a transfer is `pending`,
are in `tasks.py`."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.ledger import engine
from app.ledger.errors import HoldNotActive
from app.ledger.models import Hold, HoldStatus, JournalTransaction, TxnStatus


class SettlementRejected(Exception):
    """The outbound payment rail refused a transfer."""


def submit_to_rail(txn: JournalTransaction) -> None:
    """Hand a posted transfer to the outbound payment rail; raise SettlementRejected if refused.

    The rail of this deployment refuses the IBAN countries in SETTLEMENT_REJECTED_COUNTRIES.
    """
    country = (txn.counterparty_iban or "")[:2]
    if country in current_app.config["SETTLEMENT_REJECTED_COUNTRIES"]:
        raise SettlementRejected(f"payments to {country} are not served by the rail")


def settle_external_transfer(session: Session, *, transaction_id: int) -> JournalTransaction | None:
    """Post a pending external transfer to the settlement account; reverse it if the rail refuses.

    Safe to run twice: a transaction that is no longer `pending` is left alone.
    """
    hold_id = session.scalar(
        sa.select(Hold.id)
        .join(JournalTransaction, JournalTransaction.id == Hold.transaction_id)
        .where(
            Hold.transaction_id == transaction_id,
            Hold.status == HoldStatus.ACTIVE.value,
            JournalTransaction.status == TxnStatus.PENDING.value,
        )
    )
    if hold_id is None:
        return session.get(JournalTransaction, transaction_id)
    try:
        txn = engine.capture(
            session, hold_id, initiator_id=None, audit_action="transaction.settled"
        )
    except HoldNotActive:
        session.rollback()
        return session.get(JournalTransaction, transaction_id)
    try:
        submit_to_rail(txn)
    except SettlementRejected as exc:
        engine.reverse(session, txn.id, reason=str(exc), initiator_id=None)
        session.refresh(txn)
    return txn
