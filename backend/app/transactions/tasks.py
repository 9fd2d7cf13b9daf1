"""Background jobs of the transactions domain (ids only; each calls one service)."""

from __future__ import annotations

import logging

from app.core import idempotency
from app.core.queue import task

log = logging.getLogger("flowlet.transactions")


@task
def settle_external_transfer(transaction_id: int) -> str | None:
    """Post a pending external transfer to the settlement account (reversed if refused)."""
    from app.extensions import db
    from app.transactions.services import settle_external_transfer as settle

    try:
        txn = settle(db.session, transaction_id=transaction_id)
        return txn.status if txn is not None else None
    finally:
        db.session.remove()


@task
def purge_idempotency_keys() -> int:
    """Delete idempotency keys older than their retention (24 h by default)."""
    from app.extensions import db

    try:
        count = idempotency.purge_expired(db.session)
        db.session.commit()
        log.info("purged %d expired idempotency keys", count)
        return count
    finally:
        db.session.remove()
