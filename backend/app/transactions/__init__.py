"""Money movements customers ask for: deposits, withdrawals, transfers, and their history."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Plug the limits, the fraud rules, the counters and settlement into the movement engine;
    the transactions take part in the personal-data export and legal hold."""
    from app.ledger import engine
    from app.ledger.models import TxnType
    from app.transactions import activity, fraud, limits, privacy, tasks

    engine.register_facts("activity", activity.facts, kinds=limits.KINDS)
    engine.register_policy("limits", limits.check, kinds=limits.KINDS)
    engine.register_policy("fraud", fraud.assess, kinds=fraud.KINDS)
    engine.register_observer("activity", activity.observe, kinds=limits.KINDS)
    engine.register_observer(
        "settlement", tasks.enqueue_when_pending, kinds=(TxnType.TRANSFER.value,)
    )
    privacy.register(app)
