"""The AML rules: pure functions over a posting, the customer's history before it and the
settings (no database, no application context).

Each posting a customer makes or receives becomes a `Posting` (money in or out of one of
their accounts, with its channel and country). `evaluate` runs every rule over it and the
customer's history before it: per posting, the bounded window of the monitoring feed that
`facts` reads (`monitor.observe_movement`); over a period, the journal (`batch.run_period`).
A `Hit` becomes an alert in `monitor.raise_hit`.

Rules (type, default; the defaults are each rule's version 1, `versions.current_settings`):

- `cash_threshold`: cash deposits of one business day (UTC) above `AML_CASH_THRESHOLD`
  (10,000 in the account currency), aggregated per customer; the day is a CTR line
  (`ctr.ctr_lines`).
- `structuring`: within `AML_STRUCTURING_DAYS` (7) days, two or more cash deposits just under
  the threshold (at least `AML_STRUCTURING_NEAR` = 80% of it) together above it, or three or
  more smaller cash deposits on several days, together above it, none of the days above it;
  the threshold is the cash threshold unless the rule's own version sets one.
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from app.compliance.models import Severity
from app.core.money import configured_amount, format_amount

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
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    cash_threshold: str = "10000"
    structuring_days: int = 7
    structuring_near: float = 0.8
    structuring_min_count: int = 3
    structuring_threshold: str | None = None  # None: the cash threshold
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
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """The settings from the application's configuration (`current_app.config`)."""
        c = config
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


def configured_minor(spec: str, currency: str) -> int:
    """A configured amount ("10000", "10000,JPY=1500000") in `currency` minor units; 0 if none."""
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
    threshold = configured_minor(s.cash_threshold, p.currency)
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
    threshold = configured_minor(s.structuring_threshold or s.cash_threshold, p.currency)
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
    if (
        money_in < configured_minor(s.rapid_min_amount, p.currency)
        or money_out < money_in * s.rapid_ratio
    ):
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
    unit = configured_minor(unit_spec, p.currency)
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
    unit = configured_minor(s.round_unit, p.currency)
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


# --- the window aggregates: whether a rule that reads history can fire -----------------------


@dataclass(frozen=True)
class WindowFacts:
    """What decides, for one side of a movement, whether any history rule can fire.

    Counted over the same capped window the rules would read, without the movement itself.
    """

    same_direction_external: int  # payments the same way, within AML_VELOCITY_HOURS
    external_in: int  # money in, in the posting's currency, within AML_RAPID_HOURS
    external_out: int  # money out, likewise
    last_on_account: datetime | None  # the account's latest posting in the window


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
        and facts.external_in >= configured_minor(s.rapid_min_amount, posting.currency)
        and facts.external_out + posting.amount >= facts.external_in * s.rapid_ratio
    ):
        return True
    return _is_round(posting, s.round_unit)  # round_amounts
