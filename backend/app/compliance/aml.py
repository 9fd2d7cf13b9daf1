"""AML transaction monitoring: rules over each posting and over a period.

Each posting a customer makes or receives becomes a `Posting` (money in or out of one of
their accounts, with its channel and country). `observe` stores it in the monitoring feed
(`aml_postings`) and runs every rule over a bounded window of the customer's recent feed,
read through the `(user_id, occurred_at)` index and capped at `AML_WINDOW_MAX_ROWS` rows, so
a posting costs the same however long the customer's history is. `aml_batch.run_period` runs
the same rules over a period of the journal (the RQ batch). A hit becomes an alert through
`alerts.raise_alert`: repeated hits of a rule for a customer join that customer's open case.

Rules (type, default):

- `cash_threshold`: cash deposits of one business day (UTC) above `AML_CASH_THRESHOLD`
  (10,000 in the account currency), aggregated per customer; the day is a CTR line
  (`ctr_lines`).
- `structuring`: within `AML_STRUCTURING_DAYS` (7) days, two or more cash deposits just under
  the threshold (at least `AML_STRUCTURING_NEAR` = 80% of it) together above it, or three or
  more smaller cash deposits on several days, together above it, none of the days above it.
- `rapid_movement`: money in, and at least `AML_RAPID_RATIO` (80%) of it out again within
  `AML_RAPID_HOURS` (24) hours; only when the money in reaches `AML_RAPID_MIN_AMOUNT` (5,000).
- `velocity`: `AML_VELOCITY_MAX_COUNT` (10) or more payments out, or in, within
  `AML_VELOCITY_HOURS` (24) hours.
- `round_amounts`: `AML_ROUND_MIN_COUNT` (3) or more postings in `AML_ROUND_DAYS` (7) days that
  are whole multiples of `AML_ROUND_UNIT` (1,000).
- `high_risk_country`: money to or from a country in `AML_HIGH_RISK_COUNTRIES`.
- `dormant_account`: the first posting on an account after `AML_DORMANT_DAYS` (180) days
  without any (or since it was opened).

Transfers between two accounts of the same customer are neither money in nor money out for
these rules.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.compliance.alerts import raise_alert
from app.compliance.models import ComplianceAlert, MonitoredPosting, Severity
from app.core import uow
from app.core.money import configured_amount, format_amount

_P = MonitoredPosting.__table__

IN, OUT = "in", "out"
OWN = "own"  # counterparty of a transfer between a customer's own accounts


@dataclass(frozen=True)
class Posting:
    """A customer's money in or out of one account, as the AML rules see it."""

    transaction_id: int
    user_id: int
    account_id: int
    kind: str
    direction: str
    amount: int
    currency: str
    at: datetime
    channel: str | None = None
    country: str | None = None
    counterparty: str | None = None

    @property
    def cash(self) -> bool:
        return self.channel == "cash"

    @property
    def external(self) -> bool:
        return self.counterparty != OWN


@dataclass(frozen=True)
class Hit:
    rule: str
    severity: str
    explanation: str
    transaction_ids: tuple[int, ...]
    facts: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    cash_threshold: str = "10000"
    structuring_days: int = 7
    structuring_near: float = 0.8
    structuring_min_count: int = 3
    rapid_hours: int = 24
    rapid_ratio: float = 0.8
    rapid_min_amount: str = "5000"
    velocity_hours: int = 24
    velocity_max_count: int = 10
    round_unit: str = "1000"
    round_days: int = 7
    round_min_count: int = 3
    high_risk_countries: frozenset[str] = frozenset({"IR", "KP", "MM"})
    dormant_days: int = 180

    @classmethod
    def from_config(cls) -> Settings:
        c = current_app.config
        return cls(
            cash_threshold=c["AML_CASH_THRESHOLD"],
            structuring_days=c["AML_STRUCTURING_DAYS"],
            structuring_near=c["AML_STRUCTURING_NEAR"],
            structuring_min_count=c["AML_STRUCTURING_MIN_COUNT"],
            rapid_hours=c["AML_RAPID_HOURS"],
            rapid_ratio=c["AML_RAPID_RATIO"],
            rapid_min_amount=c["AML_RAPID_MIN_AMOUNT"],
            velocity_hours=c["AML_VELOCITY_HOURS"],
            velocity_max_count=c["AML_VELOCITY_MAX_COUNT"],
            round_unit=c["AML_ROUND_UNIT"],
            round_days=c["AML_ROUND_DAYS"],
            round_min_count=c["AML_ROUND_MIN_COUNT"],
            high_risk_countries=frozenset(c["AML_HIGH_RISK_COUNTRIES"]),
            dormant_days=c["AML_DORMANT_DAYS"],
        )

    @property
    def window(self) -> timedelta:
        """The longest look-back any rule needs."""
        return timedelta(
            days=max(self.structuring_days, self.round_days),
            hours=max(self.rapid_hours, self.velocity_hours),
        )


def _amount(spec: str, currency: str) -> int:
    value = configured_amount(spec, currency)
    return value if value is not None else 0


def _money(minor: int, currency: str) -> str:
    return f"{format_amount(minor, currency)} {currency}"


# --- the rules (pure: the posting, the window of history before it, the settings) ---------------

Rule = Callable[[Posting, Sequence[Posting], Settings, "datetime | None"], "Hit | None"]
RULES: list[tuple[str, Rule]] = []


def rule(name: str) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        RULES.append((name, fn))
        return fn

    return register


def _since(history: Sequence[Posting], start: datetime) -> list[Posting]:
    return [p for p in history if p.at >= start]


@rule("cash_threshold")
def cash_threshold(
    p: Posting, history: Sequence[Posting], s: Settings, _last: datetime | None
) -> Hit | None:
    if not (p.cash and p.direction == IN):
        return None
    threshold = _amount(s.cash_threshold, p.currency)
    day = p.at.date()
    today = [
        h
        for h in history
        if h.cash and h.direction == IN and h.currency == p.currency and h.at.date() == day
    ] + [p]
    total = sum(h.amount for h in today)
    if total <= threshold:
        return None
    return Hit(
        "cash_threshold",
        Severity.MEDIUM.value,
        f"Cash deposits of {_money(total, p.currency)} on {day.isoformat()} "
        f"({len(today)} deposits) exceed the {_money(threshold, p.currency)} daily threshold; "
        "a currency transaction report is due.",
        tuple(h.transaction_id for h in today),
        {
            "business_day": day.isoformat(),
            "total": format_amount(total, p.currency),
            "currency": p.currency,
            "deposits": len(today),
        },
    )


@rule("structuring")
def structuring(
    p: Posting, history: Sequence[Posting], s: Settings, _last: datetime | None
) -> Hit | None:
    if not (p.cash and p.direction == IN):
        return None
    threshold = _amount(s.cash_threshold, p.currency)
    if p.amount > threshold:
        return None
    start = p.at - timedelta(days=s.structuring_days)
    cash = [
        h
        for h in _since(history, start)
        if h.cash and h.direction == IN and h.currency == p.currency and h.amount <= threshold
    ] + [p]
    by_day: dict[date, int] = defaultdict(int)
    for h in cash:
        by_day[h.at.date()] += h.amount
    total = sum(h.amount for h in cash)
    if total <= threshold:
        return None
    near = [h for h in cash if h.amount >= threshold * s.structuring_near]
    spread = len(by_day) >= 2 and max(by_day.values()) <= threshold
    if len(near) >= 2 and p in near:
        chosen = near
        how = f"{len(near)} cash deposits just under the {_money(threshold, p.currency)} threshold"
    elif len(cash) >= s.structuring_min_count and spread:
        chosen = cash
        how = f"{len(cash)} cash deposits below the {_money(threshold, p.currency)} threshold"
    else:
        return None
    return Hit(
        "structuring",
        Severity.HIGH.value,
        f"{how} on {len(by_day)} days within {s.structuring_days} days, together "
        f"{_money(sum(h.amount for h in chosen), p.currency)}: "
        "possible structuring to avoid a report.",
        tuple(h.transaction_id for h in chosen),
        {
            "deposits": len(chosen),
            "days": len(by_day),
            "total": format_amount(sum(h.amount for h in chosen), p.currency),
            "currency": p.currency,
        },
    )


@rule("rapid_movement")
def rapid_movement(
    p: Posting, history: Sequence[Posting], s: Settings, _last: datetime | None
) -> Hit | None:
    if p.direction != OUT or not p.external:
        return None
    start = p.at - timedelta(hours=s.rapid_hours)
    window = [h for h in _since(history, start) if h.external and h.currency == p.currency]
    incoming = [h for h in window if h.direction == IN]
    if not incoming:
        return None
    first_in = min(h.at for h in incoming)
    outgoing = [h for h in window if h.direction == OUT and h.at >= first_in] + [p]
    money_in = sum(h.amount for h in incoming)
    money_out = sum(h.amount for h in outgoing)
    if money_in < _amount(s.rapid_min_amount, p.currency) or money_out < money_in * s.rapid_ratio:
        return None
    return Hit(
        "rapid_movement",
        Severity.HIGH.value,
        f"{_money(money_in, p.currency)} came in and {_money(money_out, p.currency)} "
        f"({money_out * 100 // money_in}%) went out again within {s.rapid_hours} hours: "
        "possible pass-through (layering).",
        tuple(h.transaction_id for h in [*incoming, *outgoing]),
        {
            "in": format_amount(money_in, p.currency),
            "out": format_amount(money_out, p.currency),
            "currency": p.currency,
            "hours": s.rapid_hours,
        },
    )


@rule("velocity")
def velocity(
    p: Posting, history: Sequence[Posting], s: Settings, _last: datetime | None
) -> Hit | None:
    if not p.external:
        return None
    start = p.at - timedelta(hours=s.velocity_hours)
    same = [h for h in _since(history, start) if h.external and h.direction == p.direction] + [p]
    if len(same) < s.velocity_max_count:
        return None
    word = "payments out" if p.direction == OUT else "payments in"
    return Hit(
        "velocity",
        Severity.MEDIUM.value,
        f"{len(same)} {word} within {s.velocity_hours} hours (the line is {s.velocity_max_count}).",
        tuple(h.transaction_id for h in same),
        {"count": len(same), "direction": p.direction, "hours": s.velocity_hours},
    )


def _is_round(p: Posting, unit_spec: str) -> bool:
    unit = _amount(unit_spec, p.currency)
    return unit > 0 and p.amount >= unit and p.amount % unit == 0


@rule("round_amounts")
def round_amounts(
    p: Posting, history: Sequence[Posting], s: Settings, _last: datetime | None
) -> Hit | None:
    if not p.external or not _is_round(p, s.round_unit):
        return None
    start = p.at - timedelta(days=s.round_days)
    rounds = [h for h in _since(history, start) if h.external and _is_round(h, s.round_unit)] + [p]
    if len(rounds) < s.round_min_count:
        return None
    total = sum(h.amount for h in rounds if h.currency == p.currency)
    unit = _amount(s.round_unit, p.currency)
    return Hit(
        "round_amounts",
        Severity.MEDIUM.value,
        f"{len(rounds)} round amounts (multiples of {_money(unit, p.currency)}) "
        f"within {s.round_days} days, {_money(total, p.currency)} in all.",
        tuple(h.transaction_id for h in rounds),
        {"count": len(rounds), "days": s.round_days},
    )


@rule("high_risk_country")
def high_risk_country(
    p: Posting, _history: Sequence[Posting], s: Settings, _last: datetime | None
) -> Hit | None:
    if not p.country or p.country.upper() not in s.high_risk_countries:
        return None
    word = "to" if p.direction == OUT else "from"
    return Hit(
        "high_risk_country",
        Severity.HIGH.value,
        f"{_money(p.amount, p.currency)} {word} {p.country.upper()}, a high-risk country.",
        (p.transaction_id,),
        {"country": p.country.upper(), "direction": p.direction},
    )


@rule("dormant_account")
def dormant_account(
    p: Posting, _history: Sequence[Posting], s: Settings, last: datetime | None
) -> Hit | None:
    if last is None or not p.external:
        return None
    idle = p.at - last
    if idle < timedelta(days=s.dormant_days):
        return None
    return Hit(
        "dormant_account",
        Severity.MEDIUM.value,
        f"{_money(p.amount, p.currency)} {'out of' if p.direction == OUT else 'into'} an account "
        f"idle for {idle.days} days.",
        (p.transaction_id,),
        {"idle_days": idle.days},
    )


def evaluate(
    posting: Posting, history: Sequence[Posting], settings: Settings, last_activity: datetime | None
) -> list[Hit]:
    """Every rule over one posting and the customer's history before it."""
    hits = []
    for _name, fn in RULES:
        hit = fn(posting, history, settings, last_activity)
        if hit is not None:
            hits.append(hit)
    return hits


# --- per posting --------------------------------------------------------------------------------


# Posting's fields, in order, and the feed's columns they come from.
_POSTING_COLUMNS = (
    "transaction_id",
    "user_id",
    "account_id",
    "kind",
    "direction",
    "amount",
    "currency",
    "occurred_at",
    "channel",
    "country",
    "counterparty",
)


def _param(name: str, column: sa.Column | None = None) -> sa.BindParameter:
    return sa.bindparam(name, type_=column.type if column is not None else None)


def _build_window(n: str = "") -> sa.Subquery:
    """One customer's feed in [since, before]: its latest `cap` rows (statement built once;
    `n` suffixes the parameter names, so that several windows can share a statement)."""
    return (
        sa.select(_P)
        .where(
            _P.c.user_id == _param(f"w_user{n}", _P.c.user_id),
            _P.c.occurred_at >= _param(f"w_since{n}", _P.c.occurred_at),
            _P.c.occurred_at <= _param(f"w_before{n}", _P.c.occurred_at),
        )
        .order_by(_P.c.occurred_at.desc(), _P.c.id.desc())
        .limit(sa.bindparam(f"w_cap{n}", type_=sa.Integer))
        .subquery()
    )


def _build_facts(n: str) -> sa.Select:
    w = _build_window(n)
    mine = w.c.transaction_id != _param(f"f_txn{n}", _P.c.transaction_id)
    external = w.c.counterparty.is_distinct_from(OWN)
    rapid = sa.and_(
        external,
        w.c.currency == _param(f"f_currency{n}", _P.c.currency),
        w.c.occurred_at >= _param(f"f_rapid_since{n}", _P.c.occurred_at),
    )

    def total(condition: sa.ColumnElement, value: sa.ColumnElement | int) -> sa.ColumnElement:
        return sa.func.coalesce(sa.func.sum(sa.case((sa.and_(mine, condition), value))), 0)

    return sa.select(
        total(
            sa.and_(
                external,
                w.c.direction == _param(f"f_direction{n}", _P.c.direction),
                w.c.occurred_at >= _param(f"f_velocity_since{n}", _P.c.occurred_at),
            ),
            1,
        ),
        total(sa.and_(rapid, w.c.direction == IN), w.c.amount),
        total(sa.and_(rapid, w.c.direction == OUT), w.c.amount),
        sa.func.max(
            sa.case(
                (
                    sa.and_(mine, w.c.account_id == _param(f"f_account{n}", _P.c.account_id)),
                    w.c.occurred_at,
                )
            ),
            type_=_P.c.occurred_at.type,
        ),
    )


def _build_sides_facts(sides: int) -> sa.Select:
    """The facts of `sides` sides in one row, four columns a side."""
    parts = [_build_facts(str(i)).subquery(f"side{i}") for i in range(sides)]
    joined = parts[0]
    for part in parts[1:]:
        joined = joined.join(part, sa.true())
    return sa.select(
        *(
            column.label(f"s{i}_{j}")
            for i, part in enumerate(parts)
            for j, column in enumerate(part.c)
        )
    ).select_from(joined)


# The facts of a movement's sides in one row: one side, or two (an internal transfer).
_FACTS = {1: _build_facts("0"), 2: _build_sides_facts(2)}


def _window_params(user_id: int, before: datetime, since: datetime, n: str = "") -> dict:
    cap = current_app.config["AML_WINDOW_MAX_ROWS"]
    return {f"w_user{n}": user_id, f"w_since{n}": since, f"w_before{n}": before, f"w_cap{n}": cap}


def recent_history(
    session: Session, *, user_id: int, before: datetime, since: datetime
) -> list[Posting]:
    """The customer's feed in [since, before], newest rows first up to the cap, oldest first."""
    return recent_histories(session, [(user_id, before, since)])[0]


def _build_histories(sides: int) -> sa.Select:
    """The windows of `sides` postings in one statement, each row tagged with its side."""
    parts = []
    for i in range(sides):
        w = _build_window(str(i))
        columns = (w.c[name] for name in _POSTING_COLUMNS)
        side = sa.literal(i, sa.Integer).label("side")
        parts.append(sa.select(side, w.c.id.label("row_id"), *columns))
    union = sa.union_all(*parts).subquery()
    return sa.select(union).order_by(union.c.side, union.c.occurred_at, union.c.row_id)


_HISTORIES = {n: _build_histories(n) for n in (1, 2)}


def recent_histories(
    session: Session, windows: Sequence[tuple[int, datetime, datetime]]
) -> list[list[Posting]]:
    """`recent_history` of each (user id, before, since), in one statement."""
    params: dict = {}
    for i, (user_id, before, since) in enumerate(windows):
        params.update(_window_params(user_id, before, since, str(i)))
    found: list[list[Posting]] = [[] for _ in windows]
    for side, _, *row in session.connection().execute(_HISTORIES[len(windows)], params):
        found[side].append(Posting(*row))
    return found


@dataclass(frozen=True)
class WindowFacts:
    """What decides, for one side of a movement, whether any history rule can fire.

    Counted over the same capped window the rules would read, without the movement itself.
    """

    same_direction_external: int  # payments the same way, within AML_VELOCITY_HOURS
    external_in: int  # money in, in the posting's currency, within AML_RAPID_HOURS
    external_out: int  # money out, likewise
    last_on_account: datetime | None  # the account's latest posting in the window


def window_facts(
    session: Session, postings: Sequence[Posting], settings: Settings
) -> list[WindowFacts]:
    """Four aggregates over each posting's capped customer window, one statement for both
    sides of a movement (no rows loaded)."""
    statement, params = window_facts_read(postings, settings)
    return parse_window_facts(session.connection().execute(statement, params).one())


def parse_window_facts(row: Sequence[Any]) -> list[WindowFacts]:
    """The `WindowFacts` of each side from the one row `window_facts_read` returns."""
    return [
        WindowFacts(int(row[i]), int(row[i + 1]), int(row[i + 2]), row[i + 3])
        for i in range(0, len(row), 4)
    ]


def window_facts_read(
    postings: Sequence[Posting], settings: Settings
) -> tuple[sa.Select, dict[str, Any]]:
    """The one-row statement (built once per number of sides) and its parameters."""
    params: dict = {}
    for i, p in enumerate(postings):
        n = str(i)
        params.update(
            _window_params(p.user_id, p.at, p.at - settings.window, n),
            **{
                f"f_txn{n}": p.transaction_id,
                f"f_direction{n}": p.direction,
                f"f_velocity_since{n}": p.at - timedelta(hours=settings.velocity_hours),
                f"f_currency{n}": p.currency,
                f"f_rapid_since{n}": p.at - timedelta(hours=settings.rapid_hours),
                f"f_account{n}": p.account_id,
            },
        )
    return _FACTS[len(postings)], params


def needs_history(posting: Posting, facts: WindowFacts, s: Settings) -> bool:
    """Whether a rule that reads history can fire for this posting.

    Each clause is a necessary condition of one rule's hit, so that a posting for which this is
    False gets from the rules exactly what it would get with its whole window: the history
    rules stay silent and only `high_risk_country` and `dormant_account` (which read no
    history) can fire.
    """
    if posting.cash and posting.direction == IN:  # cash_threshold, structuring
        return True
    if not posting.external:
        return False
    if facts.same_direction_external + 1 >= s.velocity_max_count:  # velocity
        return True
    if (  # rapid_movement: enough in, and (at most) all the money out since reaching its share
        posting.direction == OUT
        and facts.external_in >= _amount(s.rapid_min_amount, posting.currency)
        and facts.external_out + posting.amount >= facts.external_in * s.rapid_ratio
    ):
        return True
    return _is_round(posting, s.round_unit)  # round_amounts


def last_activity(
    session: Session, *, account_id: int, before: datetime, opened_at: datetime | None
) -> datetime | None:
    """When the account last moved money before `before` (its opening when it never did)."""
    last = session.scalar(
        sa.select(MonitoredPosting.occurred_at)
        .where(MonitoredPosting.account_id == account_id, MonitoredPosting.occurred_at < before)
        .order_by(MonitoredPosting.occurred_at.desc())
        .limit(1)
    )
    return last or opened_at


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
    settings = settings or Settings.from_config()
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


def already_observed(session: Session, p: Posting) -> bool:
    """Whether this side of this movement is in the feed already (seen when it was held)."""
    return (
        session.scalar(
            sa.select(MonitoredPosting.id).where(
                MonitoredPosting.transaction_id == p.transaction_id,
                MonitoredPosting.account_id == p.account_id,
                MonitoredPosting.direction == p.direction,
            )
        )
        is not None
    )


def _row(p: Posting) -> dict:
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


def _write_feed(session: Session, rows: list[dict]) -> None:
    """Insert the staged feed rows (the unit of work calls it, with the movement)."""
    session.connection().execute(sa.insert(_P), rows)


@uow.composes(_write_feed)
def _compose_feed(session: Session, rows: list[dict]) -> list[uow.Part]:
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


# --- currency transaction report lines ------------------------------------------------------------


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
    groups: dict[tuple[int, date, str], list] = defaultdict(list)
    for row in rows:
        groups[(row.user_id, row.occurred_at.date(), row.currency)].append(row)
    spec = current_app.config["AML_CASH_THRESHOLD"]
    lines = []
    for (user_id, day, currency), items in sorted(groups.items()):
        total = sum(r.amount for r in items)
        if total > _amount(spec, currency):
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
