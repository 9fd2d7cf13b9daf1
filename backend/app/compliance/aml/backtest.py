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

import itertools
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
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
RULES_BY_NAME = dict(RULES)
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

    def seen(self, posting: Posting) -> Posting:
        self.postings += 1
        return posting

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
    """Backtest one rule over [start, end): proposed and current settings, and the actual.

    Customer by customer: the rule's actual hits of the customer are read first (the two
    streams are in customer order), then each posting's hits are counted against them as they
    come, so that no customer's simulated alerts are held, only what it actually raised.
    """
    tally = Tally(listed)
    look_back = max(proposed.window, current.window)
    replay = _Replay(
        RULES_BY_NAME[rule],
        (proposed, current),
        look_back,
        current_app.config["AML_WINDOW_MAX_ROWS"],
        start,
    )
    actual = _actual(session, rule, start, end)
    pending = next(actual, None)
    postings = map(tally.seen, _stream(session, start - look_back, end))
    for user_id, mine in itertools.groupby(postings, key=lambda p: p.user_id):
        while pending is not None and pending[0] < user_id:
            _judge(tally, pending[1], ())
            pending = next(actual, None)
        raised: list[Found] = []
        if pending is not None and pending[0] == user_id:
            raised, pending = pending[1], next(actual, None)
        _judge(tally, raised, _replay(session, replay, user_id, mine))
    while pending is not None:
        _judge(tally, pending[1], ())
        pending = next(actual, None)
    return tally


def _judge(
    tally: Tally, raised: list[Found], simulated: Iterable[tuple[Found | None, Found | None]]
) -> None:
    """Count one customer's simulated hits (proposed, current) against what it raised."""
    tally.add("actual", raised)
    left = {name: Counter(found.key for found in raised) for name in ("proposed", "current")}
    for pair in simulated:
        for name, found in zip(("proposed", "current"), pair, strict=True):
            if found is None:
                continue
            tally.add(name, (found,))
            if left[name][found.key] > 0:
                left[name][found.key] -= 1
            elif name == "proposed":
                tally.add("added", (found,))
            else:
                tally.counts["current_differs"] += 1
    for found in raised:
        if left["proposed"][found.key] > 0:
            left["proposed"][found.key] -= 1
            tally.add("removed", (found,))
    tally.counts["current_differs"] += sum(left["current"].values())


# --- the simulation ------------------------------------------------------------------------------


def _stream(session: Session, since: datetime, end: datetime) -> Iterator[Posting]:
    """The feed in [since, end), by customer then time, fetched `_BATCH` rows at a time."""
    stmt = (
        sa.select(*(_P.c[name] for name in POSTING_COLUMNS))
        .where(_P.c.occurred_at >= since, _P.c.occurred_at < end)
        .order_by(_P.c.user_id, _P.c.occurred_at, _P.c.id)
    )
    result = session.connection().execute(stmt.execution_options(yield_per=_BATCH))
    for row in result:
        yield Posting(*row)


@dataclass(frozen=True)
class _Replay:
    fn: Rule
    settings: tuple[Settings, Settings]
    look_back: timedelta
    cap: int
    start: datetime


def _replay(
    session: Session, r: _Replay, user_id: int, postings: Iterable[Posting]
) -> Iterator[tuple[Found | None, Found | None]]:
    """The (proposed, current) hits of one customer's postings from `start` on, as they come;
    the window kept is what the per-posting rules would read, at most the row cap."""
    window: deque[Posting] = deque(maxlen=r.cap + 1)  # + the other side of an own transfer
    last_seen: dict[int, datetime | None] = {}
    dormant = r.fn is RULES_BY_NAME["dormant_account"]  # the one rule that reads `last`
    for p in postings:
        while window and window[0].at < p.at - r.look_back:
            window.popleft()
        if dormant and p.account_id not in last_seen:
            last_seen[p.account_id] = _before(session, p.account_id, r.start - r.look_back)
        if p.at >= r.start:
            last = last_seen.get(p.account_id)
            hits = [r.fn(p, _history(window, p, s, r.cap), s, last) for s in r.settings]
            yield (
                Found(user_id, p.at, hits[0].transaction_ids) if hits[0] else None,
                Found(user_id, p.at, hits[1].transaction_ids) if hits[1] else None,
            )
        window.append(p)
        last_seen[p.account_id] = p.at


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
    rows = session.connection().execute(stmt.execution_options(yield_per=_BATCH))
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
