"""Compliance use cases other domains call: alerts on movements held for review, the screening
of a new name, and the read of one alert (for reports such as a SAR draft)."""

from __future__ import annotations

from app.compliance.alerts import (  # noqa: F401
    get_alert,
    raise_alert,
    raise_transaction_alert,
    resolve_transaction_alerts,
)
from app.compliance.kyc import check_name_change  # noqa: F401
from app.ledger.engine import PolicyContext


def observe_reviews(ctx: PolicyContext, txn) -> None:
    """An engine observer: alert on a movement held for review; close it when decided."""
    if ctx.event == "review":
        raise_transaction_alert(
            ctx.session,
            user_id=ctx.customer.id if ctx.customer else None,
            transaction=txn,
            score=txn.risk_score,
            rules=list(txn.risk_rules or []),
        )
    elif ctx.event in ("approved", "rejected"):
        resolve_transaction_alerts(
            ctx.session,
            transaction_id=txn.id,
            resolution=ctx.event,
            officer_id=ctx.movement.initiator_id,
            notes=ctx.movement.metadata.get("notes"),
        )
