"""The AML rules per posting: each customer side of a movement goes into the monitoring feed
and through the rules in the movement's own transaction (the engine observer in
`compliance.engine_hooks` calls `observe_movement`); each hit becomes an alert that joins the
customer's open case of that rule (`alerts.raise_alert`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.compliance.alerts import raise_alert
from app.compliance.aml.facts import last_activity, recent_histories, window_facts
from app.compliance.aml.rules import Hit, Posting, Settings, WindowFacts, evaluate, needs_history
from app.compliance.aml.versions import current_settings
from app.compliance.models import ComplianceAlert, MonitoredPosting
from app.core import uow
from app.core.db import table_of

_P = table_of(MonitoredPosting)


def observe(
    session: Session,
    posting: Posting,
    *,
    account_opened_at: datetime | None = None,
    settings: Settings | None = None,
) -> list[ComplianceAlert]:
    """Record a posting in the feed and raise alerts for the rules it hits (flushes only)."""
    return observe_movement(session, [(posting, account_opened_at)], settings=settings)


def observe_movement(
    session: Session,
    sides: Sequence[tuple[Posting, datetime | None]],
    *,
    settings: Settings | None = None,
    facts: Sequence[WindowFacts] | None = None,
) -> list[ComplianceAlert]:
    """Record the customer sides of one movement and run the rules over each (flushes only).

    One statement of four aggregates per side over the capped window (`window_facts`, both
    sides in it) says whether a rule that reads history can fire; only then is that side's
    window read as rows. An ordinary payment costs that statement and one insert for all sides.
    `facts`: those aggregates when they were read already, with the movement's other facts.
    """
    if not sides:
        return []
    settings = settings or current_settings(session)
    if facts is None:
        facts = window_facts(session, [p for p, _ in sides], settings)
    wanted = [
        i
        for i, ((posting, _), side_facts) in enumerate(zip(sides, facts, strict=True))
        if needs_history(posting, side_facts, settings)
    ]
    windows = [
        (sides[i][0].user_id, sides[i][0].at, sides[i][0].at - settings.window) for i in wanted
    ]
    # The windows that a rule may need, both sides in one statement.
    read = dict(zip(wanted, recent_histories(session, windows) if windows else [], strict=True))
    judged = []
    for i, ((posting, opened_at), side_facts) in enumerate(zip(sides, facts, strict=True)):
        history = [h for h in read.get(i, []) if h.transaction_id != posting.transaction_id]
        previous = side_facts.last_on_account or last_activity(
            session, account_id=posting.account_id, before=posting.at, opened_at=opened_at
        )
        judged.append((posting, history, previous))
    for posting, _ in sides:
        uow.of(session).stage(_write_feed, _row(posting))
    hits = [
        (posting, hit)
        for posting, history, previous in judged
        for hit in evaluate(posting, history, settings, previous)
    ]
    # An open case is locked to take a hit. Two movements between the same customers, one
    # each way, would otherwise lock their cases in opposite orders and deadlock: cases are
    # taken by customer (then in the rules' one order), whichever side of the movement hit.
    hits.sort(key=lambda found: found[0].user_id)
    return [raise_hit(session, posting.user_id, hit, posting.at) for posting, hit in hits]


def _row(p: Posting) -> dict[str, Any]:
    return {
        "user_id": p.user_id,
        "account_id": p.account_id,
        "transaction_id": p.transaction_id,
        "kind": p.kind,
        "direction": p.direction,
        "amount": p.amount,
        "currency": p.currency,
        "channel": p.channel,
        "country": (p.country or "").upper()[:2] or None,
        "counterparty": (p.counterparty or "")[:64] or None,
        "occurred_at": p.at,
    }


def _write_feed(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert the staged feed rows (the unit of work calls it, with the movement)."""
    session.connection().execute(sa.insert(_P), rows)


@uow.composes(_write_feed)
def _compose_feed(session: Session, rows: list[dict[str, Any]]) -> list[uow.Part]:
    return [uow.insert_rows(_P, rows)]


def raise_hit(session: Session, user_id: int, hit: Hit, at: datetime) -> ComplianceAlert:
    """The alert for a rule's hit (joins the customer's open case of that rule)."""
    return raise_alert(
        session,
        user_id=user_id,
        alert_type=hit.rule,
        severity=hit.severity,
        explanation=hit.explanation,
        transaction_ids=hit.transaction_ids,
        details=hit.facts,
        now=at,
    )
