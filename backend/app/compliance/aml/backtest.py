"""A rule's backtest: what the rule would have raised over a period with proposed parameters,
next to what it raised (the alerts' hits) and what the current parameters raise.

The history is the monitoring feed (`aml_postings`), what the per-posting rules read, streamed
in one server-side cursor ordered by customer and time from `start` less the longest look-back:
each customer's postings pass through a window of at most `AML_WINDOW_MAX_ROWS` rows, as the
per-posting rules see them, so memory stays flat however long the period. The alerts actually
raised are the hits (`details.hits`) of the rule's alerts in [start, end), streamed by customer
beside it. An alert's identity is (customer, rule, the set of its transactions); `added` counts
what the proposed parameters raise and the rule did not, `removed` the reverse.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.compliance.aml.facts import POSTING_COLUMNS
from app.compliance.aml.rules import RULES, Posting, Rule, Settings
from app.compliance.models import ComplianceAlert, MonitoredPosting
from app.core.db import table_of
from app.ledger.accounts import Account

_P = table_of(MonitoredPosting)
_BATCH = 5000  # rows a fetch of the cursor brings


@dataclass(frozen=True)
class Found:
    """One alert (a hit): its customer, when, and the transactions behind it."""

    user_id: int
    at: datetime
    transaction_ids: tuple[int, ...]

    @property
    def key(self) -> frozenset[int]:
        return frozenset(self.transaction_ids)


@dataclass
class Tally:
    """The comparison, counted in full; the first `listed` alerts of each list kept."""

    listed: int
    counts: Counter[str] = field(default_factory=Counter)
    lists: dict[str, list[Found]] = field(default_factory=dict)
    postings: int = 0

    def add(self, name: str, found: Iterable[Found]) -> None:
        kept = self.lists.setdefault(name, [])
        for item in found:
            self.counts[name] += 1
            if len(kept) < self.listed:
                kept.append(item)


def run(
    session: Session,
    *,
    rule: str,
    proposed: Settings,
    current: Settings,
    start: datetime,
    end: datetime,
    listed: int,
) -> Tally:
    """Backtest one rule over [start, end): proposed and current settings, and the actual."""
    fn = dict(RULES)[rule]
    tally = Tally(listed)
    simulated = _simulate(session, fn, (proposed, current), start, end, tally)
    actual = _actual(session, rule, start, end)
    tagged = heapq.merge(
        ((user, 0, found) for user, found in simulated),
        ((user, 1, found) for user, found in actual),
        key=lambda item: (item[0], item[1]),
    )
    for _user, items in itertools.groupby(tagged, key=lambda item: item[0]):
        sides: dict[int, Any] = {tag: found for _, tag, found in items}
        (mine, now), raised = sides.get(0, ([], [])), sides.get(1, [])
        tally.add("proposed", mine)
        tally.add("current", now)
        tally.add("actual", raised)
        tally.add("added", _minus(mine, raised))
        tally.add("removed", _minus(raised, mine))
        tally.counts["current_differs"] += len(_minus(now, raised)) + len(_minus(raised, now))
    return tally


def _minus(a: Sequence[Found], b: Sequence[Found]) -> list[Found]:
    """The alerts of `a` that `b` does not have (as a multiset, by identity)."""
    left = Counter(found.key for found in b)
    out = []
    for found in a:
        if left[found.key] > 0:
            left[found.key] -= 1
        else:
            out.append(found)
    return out


# --- the simulation ------------------------------------------------------------------------------


def _stream(session: Session, since: datetime, end: datetime) -> Iterator[Posting]:
    """The feed in [since, end), by customer then time, fetched `_BATCH` rows at a time."""
    stmt = (
        sa.select(*(_P.c[name] for name in POSTING_COLUMNS))
        .where(_P.c.occurred_at >= since, _P.c.occurred_at < end)
        .order_by(_P.c.user_id, _P.c.occurred_at, _P.c.id)
    )
    result = session.connection().execution_options(yield_per=_BATCH).execute(stmt)
    for row in result:
        yield Posting(*row)


def _simulate(
    session: Session,
    fn: Rule,
    settings: tuple[Settings, Settings],
    start: datetime,
    end: datetime,
    tally: Tally,
) -> Iterator[tuple[int, tuple[list[Found], list[Found]]]]:
    """Each customer's alerts in [start, end) under each settings, customer by customer."""
    look_back = max(s.window for s in settings)
    cap = current_app.config["AML_WINDOW_MAX_ROWS"]
    postings = _stream(session, start - look_back, end)
    for user_id, mine in itertools.groupby(postings, key=lambda p: p.user_id):
        found: tuple[list[Found], list[Found]] = ([], [])
        window: deque[Posting] = deque(maxlen=cap + 1)  # + the other side of an own transfer
        last_seen: dict[int, datetime | None] = {}
        for p in mine:
            tally.postings += 1
            while window and window[0].at < p.at - look_back:
                window.popleft()
            if p.account_id not in last_seen:
                last_seen[p.account_id] = _before(session, p.account_id, start - look_back)
            if p.at >= start:
                for s, into in zip(settings, found, strict=True):
                    hit = fn(p, _history(window, p, s, cap), s, last_seen[p.account_id])
                    if hit is not None:
                        into.append(Found(user_id, p.at, hit.transaction_ids))
            window.append(p)
            last_seen[p.account_id] = p.at
        if found[0] or found[1]:
            yield user_id, found


def _history(window: deque[Posting], p: Posting, s: Settings, cap: int) -> list[Posting]:
    """What the per-posting rules read before `p`: the latest `cap` rows of its look-back
    (the other side of its own movement is written after it is judged)."""
    since = p.at - s.window
    return [h for h in window if h.at >= since and h.transaction_id != p.transaction_id][-cap:]


def _before(session: Session, account_id: int, before: datetime) -> datetime | None:
    """An account's last posting before the stream begins, else its opening."""
    last = (
        sa.select(sa.func.max(_P.c.occurred_at))
        .where(_P.c.account_id == account_id, _P.c.occurred_at < before)
        .scalar_subquery()
    )
    opened = sa.select(Account.created_at).where(Account.id == account_id).scalar_subquery()
    return session.scalar(sa.select(sa.func.coalesce(last, opened)))


# --- what the rule raised --------------------------------------------------------------------


def _actual(
    session: Session, rule: str, start: datetime, end: datetime
) -> Iterator[tuple[int, list[Found]]]:
    """The rule's hits in [start, end), customer by customer (from its alerts' hits)."""
    stmt = (
        sa.select(ComplianceAlert.user_id, ComplianceAlert.details)
        .where(
            ComplianceAlert.alert_type == rule,
            ComplianceAlert.user_id.is_not(None),
            ComplianceAlert.last_hit_at >= start,
        )
        .order_by(ComplianceAlert.user_id, ComplianceAlert.id)
    )
    rows = session.connection().execution_options(yield_per=_BATCH).execute(stmt)
    for user_id, alerts in itertools.groupby(rows, key=lambda row: row[0]):
        found = [hit for _, details in alerts for hit in _hits(user_id, details, start, end)]
        if found:
            yield user_id, found


def _hits(
    user_id: int, details: dict[str, Any] | None, start: datetime, end: datetime
) -> list[Found]:
    found = []
    for hit in (details or {}).get("hits", []):
        at = datetime.fromisoformat(hit["at"])
        if start <= at < end:
            found.append(Found(user_id, at, tuple(hit.get("transaction_ids") or ())))
    return found
