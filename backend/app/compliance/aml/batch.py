"""The AML rules over a period of the journal (the RQ batch `tasks.run_aml_batch`).

The per-posting rules (`monitor.observe_movement`) run in each movement's own transaction; this
batch runs the same rules (`rules.evaluate`) again over what the journal recorded for a period,
read through `journal.ledger_postings`, and raises only hits that are not already behind an
alert.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.compliance.aml.journal import ledger_customers, ledger_last_activity, ledger_postings
from app.compliance.aml.monitor import raise_hit
from app.compliance.aml.rules import Hit, Posting, Settings, evaluate
from app.compliance.aml.versions import current_settings
from app.compliance.models import AlertTransaction, ComplianceAlert
from app.core import uow


def run_period(
    session: Session, *, start: datetime, end: datetime, settings: Settings | None = None
) -> int:
    """Run every rule over the ledger's movements of [start, end); returns the new hits.

    The movements are read from the journal (`journal.ledger_postings`), one customer at a
    time in time order, with the look-back window before `start`; one commit per customer. A
    hit whose transactions are all already behind an alert of the same rule is not raised
    again, so the batch can run twice over the same period and after the per-posting rules.
    """
    settings = settings or current_settings(session)
    raised = 0
    for user_id in ledger_customers(session, start=start, end=end):
        rows = ledger_postings(session, user_id=user_id, start=start - settings.window, end=end)
        for hit, at in _hits(session, rows, start=start, settings=settings):
            if _already_alerted(session, user_id, hit):
                continue
            raise_hit(session, user_id, hit, at)
            raised += 1
        uow.commit(session)
    return raised


def _hits(
    session: Session, rows: Sequence[Posting], *, start: datetime, settings: Settings
) -> list[tuple[Hit, datetime]]:
    """The hits of one customer's postings from `start` on (those before it are history)."""
    hits: list[tuple[Hit, datetime]] = []
    last_seen: dict[int, datetime] = {}
    for i, posting in enumerate(rows):
        previous = last_seen.get(posting.account_id)
        last_seen[posting.account_id] = posting.at
        if posting.at < start:
            continue
        if previous is None:
            previous = ledger_last_activity(
                session, account_id=posting.account_id, before=posting.at
            )
        history = [h for h in rows[:i] if h.at >= posting.at - settings.window]
        hits += [(hit, posting.at) for hit in evaluate(posting, history, settings, previous)]
    return hits


def _already_alerted(session: Session, user_id: int, hit: Hit) -> bool:
    linked = set(
        session.scalars(
            sa.select(AlertTransaction.transaction_id)
            .join(ComplianceAlert, ComplianceAlert.id == AlertTransaction.alert_id)
            .where(
                ComplianceAlert.user_id == user_id,
                ComplianceAlert.alert_type == hit.rule,
                AlertTransaction.transaction_id.in_(hit.transaction_ids),
            )
        )
    )
    return set(hit.transaction_ids) <= linked
