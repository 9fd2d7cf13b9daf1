"""The AML rules as pure functions: a posting, the history before it and the settings in, a hit
or none out. No database, no application: these tests take no fixture."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

from app.compliance.aml.rules import (
    IN,
    OUT,
    OWN,
    RULES,
    Posting,
    Settings,
    WindowFacts,
    cash_threshold,
    dormant_account,
    evaluate,
    high_risk_country,
    needs_history,
    rapid_movement,
    round_amounts,
    structuring,
    velocity,
)

START = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)  # a Monday
S = Settings()
_ids = itertools.count(1)


def posting(direction, amount, at=START, *, channel=None, country=None, counterparty="ext"):
    """A USD posting of `amount` (major units, as written) on account 1 of customer 1."""
    return Posting(
        transaction_id=next(_ids),
        user_id=1,
        account_id=1,
        kind="deposit" if direction == IN else "transfer",
        direction=direction,
        amount=round(float(amount) * 100),
        currency="USD",
        at=at,
        channel=channel,
        country=country,
        counterparty=counterparty,
    )


def cash(amount, at=START):
    return posting(IN, amount, at, channel="cash")


def test_the_rules_are_registered_once_in_their_order():
    assert [name for name, _ in RULES] == [
        "cash_threshold",
        "structuring",
        "rapid_movement",
        "velocity",
        "round_amounts",
        "high_risk_country",
        "dormant_account",
    ]


def test_settings_from_a_configuration_mapping():
    config = {
        "AML_CASH_THRESHOLD": "5000",
        "AML_STRUCTURING_DAYS": 3,
        "AML_STRUCTURING_NEAR": 0.9,
        "AML_STRUCTURING_MIN_COUNT": 4,
        "AML_RAPID_HOURS": 12,
        "AML_RAPID_RATIO": 0.7,
        "AML_RAPID_MIN_AMOUNT": "1000",
        "AML_VELOCITY_HOURS": 48,
        "AML_VELOCITY_MAX_COUNT": 5,
        "AML_ROUND_UNIT": "500",
        "AML_ROUND_DAYS": 2,
        "AML_ROUND_MIN_COUNT": 2,
        "AML_HIGH_RISK_COUNTRIES": ["KP"],
        "AML_DORMANT_DAYS": 90,
    }
    settings = Settings.from_config(config)
    assert settings.cash_threshold == "5000" and settings.high_risk_countries == {"KP"}
    # The look-back is the longest of the day windows plus the longest of the hour windows.
    assert settings.window == timedelta(days=3, hours=48)
    assert S.window == timedelta(days=7, hours=24)


def test_cash_threshold_sums_one_day_of_cash_deposits():
    morning = cash("6000.00")
    afternoon = cash("4500.00", START + timedelta(hours=5))
    assert cash_threshold(morning, [], S, None) is None
    hit = cash_threshold(afternoon, [morning], S, None)
    assert hit is not None and hit.rule == "cash_threshold" and hit.severity == "medium"
    assert hit.transaction_ids == (morning.transaction_id, afternoon.transaction_id)
    assert hit.facts == {
        "business_day": "2026-10-05",
        "total": "10500.00",
        "currency": "USD",
        "deposits": 2,
    }
    assert "10500.00 USD on 2026-10-05 (2 deposits)" in hit.explanation


def test_cash_threshold_ignores_other_days_and_money_that_is_not_cash():
    yesterday = cash("6000.00", START - timedelta(days=1))
    wired = posting(IN, "6000.00", START - timedelta(hours=1))
    assert cash_threshold(cash("4500.00"), [yesterday, wired], S, None) is None
    assert cash_threshold(posting(IN, "20000.00"), [], S, None) is None


def test_structuring_just_under_the_threshold():
    first = cash("9500.00")
    second = cash("9800.00", START + timedelta(days=1))
    hit = structuring(second, [first], S, None)
    assert hit is not None and hit.severity == "high"
    assert hit.facts["deposits"] == 2 and hit.facts["days"] == 2
    assert "just under" in hit.explanation
    # One deposit near the line is not a pattern, nor one over it (that is a CTR).
    assert structuring(first, [], S, None) is None
    assert structuring(cash("10500.00"), [first], S, None) is None


def test_structuring_many_small_deposits_over_several_days():
    days = [cash("3500.00", START + timedelta(days=d)) for d in range(3)]
    hit = structuring(days[2], days[:2], S, None)
    assert hit is not None and hit.facts["deposits"] == 3
    assert "below the" in hit.explanation
    # The same three on one day: no day under the line is spread, it is a cash_threshold.
    same_day = [cash("3500.00", START + timedelta(hours=h)) for h in range(3)]
    assert structuring(same_day[2], same_day[:2], S, None) is None


def test_structuring_looks_back_only_its_window():
    old = cash("9500.00", START - timedelta(days=S.structuring_days + 1))
    assert structuring(cash("9800.00"), [old], S, None) is None


def test_rapid_movement_in_and_out_within_the_window():
    money_in = posting(IN, "20000.00")
    part = posting(OUT, "9000.00", START + timedelta(hours=3))
    rest = posting(OUT, "9500.00", START + timedelta(hours=7))
    assert rapid_movement(part, [money_in], S, None) is None  # 45% out
    hit = rapid_movement(rest, [money_in, part], S, None)
    assert hit is not None and hit.facts == {
        "in": "20000.00",
        "out": "18500.00",
        "currency": "USD",
        "hours": 24,
    }
    assert "(92%)" in hit.explanation


def test_rapid_movement_needs_enough_money_in_and_outside_counterparties():
    small_in = posting(IN, "1000.00")
    assert rapid_movement(posting(OUT, "1000.00"), [small_in], S, None) is None
    own_in = posting(IN, "20000.00", counterparty=OWN)
    assert rapid_movement(posting(OUT, "19000.00"), [own_in], S, None) is None
    big_in = posting(IN, "20000.00")
    to_self = posting(OUT, "19000.00", counterparty=OWN)
    assert rapid_movement(to_self, [big_in], S, None) is None


def test_velocity_counts_payments_the_same_way():
    payments = [posting(OUT, "20.00", START + timedelta(minutes=10 * i)) for i in range(10)]
    assert velocity(payments[8], payments[:8], S, None) is None
    hit = velocity(payments[9], payments[:9], S, None)
    assert hit is not None and hit.facts == {"count": 10, "direction": OUT, "hours": 24}
    incoming = [posting(IN, "20.00", START - timedelta(minutes=i)) for i in range(9)]
    assert velocity(posting(OUT, "20.00"), incoming, S, None) is None


def test_round_amounts():
    first = posting(OUT, "2000.00")
    second = posting(OUT, "3000.00", START + timedelta(days=2))
    third = posting(OUT, "2000.00", START + timedelta(days=4))
    assert round_amounts(second, [first], S, None) is None
    hit = round_amounts(third, [first, second], S, None)
    assert hit is not None and hit.facts == {"count": 3, "days": 7}
    assert "7000.00 USD in all" in hit.explanation
    # Not a multiple of the unit, or below it: not round.
    assert round_amounts(posting(OUT, "2500.00"), [first, second], S, None) is None
    assert round_amounts(posting(OUT, "500.00"), [first, second], S, None) is None


def test_high_risk_country_either_way():
    hit = high_risk_country(posting(OUT, "120.00", country="ir"), [], S, None)
    assert hit is not None and hit.facts == {"country": "IR", "direction": OUT}
    assert "to IR" in hit.explanation
    hit = high_risk_country(posting(IN, "120.00", country="KP"), [], S, None)
    assert hit is not None and "from KP" in hit.explanation
    assert high_risk_country(posting(OUT, "120.00", country="DE"), [], S, None) is None
    assert high_risk_country(posting(OUT, "120.00"), [], S, None) is None


def test_dormant_account():
    p = posting(OUT, "250.00")
    hit = dormant_account(p, [], S, START - timedelta(days=400))
    assert hit is not None and hit.facts == {"idle_days": 400}
    assert dormant_account(p, [], S, START - timedelta(days=179)) is None
    assert dormant_account(p, [], S, None) is None
    own = posting(OUT, "250.00", counterparty=OWN)
    assert dormant_account(own, [], S, START - timedelta(days=400)) is None


def test_evaluate_runs_every_rule():
    p = posting(OUT, "3000.00", country="MM")
    history = [posting(OUT, "1000.00", START - timedelta(days=1)) for _ in range(2)]
    hits = evaluate(p, history, S, START - timedelta(days=365))
    assert [h.rule for h in hits] == ["round_amounts", "high_risk_country", "dormant_account"]


def _facts(p, history):
    """The aggregates `facts.window_facts` would count over `history` for `p`."""
    velocity_since = p.at - timedelta(hours=S.velocity_hours)
    rapid_since = p.at - timedelta(hours=S.rapid_hours)
    rapid = [h for h in history if h.external and h.currency == p.currency and h.at >= rapid_since]
    return WindowFacts(
        same_direction_external=sum(
            1
            for h in history
            if h.external and h.direction == p.direction and h.at >= velocity_since
        ),
        external_in=sum(h.amount for h in rapid if h.direction == IN),
        external_out=sum(h.amount for h in rapid if h.direction == OUT),
        last_on_account=max((h.at for h in history), default=None),
    )


def test_needs_history_is_a_necessary_condition_of_every_history_rule():
    """Over random months: whenever `needs_history` says no, the rules over the whole window
    give what they give over no history at all."""
    rng = random.Random(3)
    for _ in range(20):
        seen: list[Posting] = []
        at = START
        for _ in range(60):
            at += timedelta(minutes=rng.choice([3, 3, 20, 90, 600, 2000]))
            direction = rng.choice([IN, IN, OUT])
            p = posting(
                direction,
                rng.choice(["25.00", "990.00", "1000.00", "3000.00", "8500.00", "9900.00"]),
                at,
                channel="cash" if direction == IN and rng.random() < 0.3 else None,
                counterparty=OWN if rng.random() < 0.15 else "ext",
            )
            window = [h for h in seen if p.at - S.window <= h.at <= p.at]
            if not needs_history(p, _facts(p, window), S):
                assert [h.rule for h in evaluate(p, window, S, None)] == [
                    h.rule for h in evaluate(p, [], S, None)
                ]
            seen.append(p)
