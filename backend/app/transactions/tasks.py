"""Background jobs of the transactions domain (ids only; each calls one service)."""

from __future__ import annotations

import logging

from rq import Retry

from app.core import idempotency_purge
from app.core.extensions import db
from app.core.queue import enqueue, task
from app.ledger import engine
from app.ledger.models import JournalTransaction, TxnStatus
from app.transactions.settlement import settle_external_transfer as settle

log = logging.getLogger("flowlet.transactions")


def enqueue_when_pending(ctx: engine.PolicyContext, txn: JournalTransaction) -> None:
    """An engine observer: an external transfer that is now `pending` goes to settlement."""
    if txn.status != TxnStatus.PENDING or txn.counterparty_iban is None:
        return
    if ctx.event not in ("held", "approved"):
        return
    ctx.session.flush()
    enqueue(
        ctx.session,
        settle_external_transfer,
        txn.id,
        queue="default",
        retry=Retry(max=3, interval=[10, 60, 300]),
        owner_id=txn.initiated_by_id,
    )


@task
def settle_external_transfer(transaction_id: int) -> str | None:
    """Post a pending external transfer to the settlement account (reversed if refused)."""
    try:
        txn = settle(db.session(), transaction_id=transaction_id)
        return txn.status if txn is not None else None
    finally:
        db.session.remove()


# old job path: jobs queued before this release (the purge is core's now).
purge_idempotency_keys = idempotency_purge.purge_idempotency_keys
