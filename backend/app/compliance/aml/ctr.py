"""Currency transaction report lines: the customers whose cash deposits of one business day
(UTC) exceeded `AML_CASH_THRESHOLD`, read from the monitoring feed."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.compliance.aml.rules import IN, configured_minor
from app.compliance.models import MonitoredPosting


@dataclass(frozen=True)
class CtrLine:
    user_id: int
    business_day: date
    currency: str
    total: int
    deposits: int
    transaction_ids: tuple[int, ...]


def ctr_lines(session: Session, *, start: date, end: date) -> list[CtrLine]:
    """Customers whose cash deposits of a business day exceeded the threshold, [start, end]."""
    begin = datetime.combine(start, datetime.min.time()).replace(tzinfo=UTC)
    stop = datetime.combine(end + timedelta(days=1), datetime.min.time()).replace(tzinfo=UTC)
    rows = session.execute(
        sa.select(
            MonitoredPosting.user_id,
            MonitoredPosting.currency,
            MonitoredPosting.occurred_at,
            MonitoredPosting.amount,
            MonitoredPosting.transaction_id,
        )
        .where(
            MonitoredPosting.channel == "cash",
            MonitoredPosting.direction == IN,
            MonitoredPosting.occurred_at >= begin,
            MonitoredPosting.occurred_at < stop,
        )
        .order_by(MonitoredPosting.user_id, MonitoredPosting.occurred_at)
    ).all()
    groups: dict[tuple[int, date, str], list[sa.Row[int, str, datetime, int, int]]] = defaultdict(
        list
    )
    for row in rows:
        groups[(row.user_id, row.occurred_at.date(), row.currency)].append(row)
    spec = current_app.config["AML_CASH_THRESHOLD"]
    lines = []
    for (user_id, day, currency), items in sorted(groups.items()):
        total = sum(r.amount for r in items)
        if total > configured_minor(spec, currency):
            lines.append(
                CtrLine(
                    user_id,
                    day,
                    currency,
                    total,
                    len(items),
                    tuple(r.transaction_id for r in items),
                )
            )
    return lines
