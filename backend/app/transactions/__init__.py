"""Money movements customers ask for: deposits, withdrawals, transfers, and their history."""

from __future__ import annotations

from flask import Flask

from app.core import audit
from app.core.seeds import seeders
from app.ledger import engine
from app.ledger.models import TxnType
from app.transactions import activity, fraud, limits, privacy, tasks
from app.transactions.seeds import seed_demo_accounts


def init_app(app: Flask) -> None:
    """Plug the limits, the fraud rules, the counters and settlement into the movement engine;
    the transactions' part in the personal-data export and legal hold; the counterparty of a
    transfer for the audit log's masks."""
    engine.register_facts(app, "activity", activity.facts, kinds=limits.KINDS)
    engine.register_policy(app, "limits", limits.check, kinds=limits.KINDS)
    engine.register_policy(app, "fraud", fraud.assess, kinds=fraud.KINDS)
    # Card payments: the same rules over the same counters, declining instead of holding.
    card = (TxnType.CARD_AUTHORIZATION.value,)
    engine.register_facts(app, "card_activity", activity.facts, kinds=card)
    engine.register_policy(app, "card_fraud", fraud.decline, kinds=card)
    engine.register_observer(app, "activity", activity.observe, kinds=limits.KINDS)
    engine.register_observer(
        app, "settlement", tasks.enqueue_when_pending, kinds=(TxnType.TRANSFER.value,)
    )
    masks = audit.masks(app)
    masks.personal("to_iban", "counterparty_iban", hint=audit.last_four)
    masks.personal("beneficiary_name", "counterparty_name")
    privacy.register(app)
    seeders(app).add(demo=seed_demo_accounts)  # after auth's demo users, whose accounts they are
