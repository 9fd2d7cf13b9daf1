"""Customer risk rating: the factors, their weights and the level (pure functions).

Each factor adds points (its `weight`) from the customer's facts; the score is their sum and
the level is the highest cut-off the score reaches (`RISK_LEVEL_CUTOFFS`, `medium=30,high=60`
by default). The weights are `RISK_WEIGHTS` (docs/compliance.md, "Customer risk rating"):

- nationality and residence: `country_high` for a country of `AML_HIGH_RISK_COUNTRIES`,
  `country_medium` for one of `RISK_MEDIUM_RISK_COUNTRIES` (each counted once);
- KYC level: `kyc_none`, `kyc_basic` or `kyc_full`;
- products held: `product` for each product beyond the first, at most `products_max`;
- alerts raised over `RISK_HISTORY_DAYS`: `alert` each, at most `alerts_max`;
- cases (alerts resolved as escalated or SAR filed) over the same days: `case` each, at most
  `cases_max`;
- a self-declared politically exposed person: `pep` (alone enough for high by default);
- cash-like activity (postings on `RISK_CASH_CHANNELS` over `RISK_CASH_WINDOW_DAYS`):
  `cash_posting` each, at most `cash_max`.

Facts are read elsewhere (`rating.py`); this module only weighs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from app.compliance.risk_models import RiskLevel

LEVELS = [level.value for level in RiskLevel]  # lowest first


def parse_pairs(text: str) -> dict[str, int]:
    """`"medium=30,high=60"` → {"medium": 30, "high": 60}."""
    pairs = (item.split("=", 1) for item in text.split(",") if "=" in item)
    return {key.strip().lower(): int(value) for key, value in pairs}


@dataclass(frozen=True)
class Settings:
    weights: Mapping[str, int]
    cutoffs: Mapping[str, int]
    intervals: Mapping[str, int]
    high_countries: frozenset[str]
    medium_countries: frozenset[str]

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        return cls(
            weights=dict(config["RISK_WEIGHTS"]),
            cutoffs=parse_pairs(config["RISK_LEVEL_CUTOFFS"]),
            intervals=parse_pairs(config["RISK_REVIEW_INTERVAL_DAYS"]),
            high_countries=frozenset(config["AML_HIGH_RISK_COUNTRIES"]),
            medium_countries=frozenset(config["RISK_MEDIUM_RISK_COUNTRIES"]),
        )


@dataclass(frozen=True)
class Facts:
    """What the rating weighs about one customer."""

    nationality: str | None = None
    residence: str | None = None
    kyc_level: str = "none"
    politically_exposed: bool = False
    products: Mapping[str, int] = field(default_factory=dict)
    alerts: int = 0
    cases: int = 0
    cash_postings: int = 0


@dataclass(frozen=True)
class Rating:
    level: str
    score: int
    factors: list[dict[str, Any]]


def _country_weight(code: str | None, settings: Settings) -> int:
    if code in settings.high_countries:
        return settings.weights["country_high"]
    if code in settings.medium_countries:
        return settings.weights["country_medium"]
    return 0


def _capped(count: int, each: str, most: str, weights: Mapping[str, int]) -> int:
    return min(max(count, 0) * weights[each], weights[most])


def factors_of(facts: Facts, settings: Settings) -> list[dict[str, Any]]:
    """Each factor with its value and weight, in a fixed order."""
    w = settings.weights
    products = sum(facts.products.values())
    return [
        {"factor": "nationality", "value": facts.nationality,
         "weight": _country_weight(facts.nationality, settings)},
        {"factor": "residence", "value": facts.residence,
         "weight": _country_weight(facts.residence, settings)},
        {"factor": "kyc_level", "value": facts.kyc_level,
         "weight": w.get(f"kyc_{facts.kyc_level}", w["kyc_none"])},
        {"factor": "products", "value": products,
         "weight": _capped(products - 1, "product", "products_max", w)},
        {"factor": "alerts", "value": facts.alerts,
         "weight": _capped(facts.alerts, "alert", "alerts_max", w)},
        {"factor": "cases", "value": facts.cases,
         "weight": _capped(facts.cases, "case", "cases_max", w)},
        {"factor": "politically_exposed", "value": facts.politically_exposed,
         "weight": w["pep"] if facts.politically_exposed else 0},
        {"factor": "cash_activity", "value": facts.cash_postings,
         "weight": _capped(facts.cash_postings, "cash_posting", "cash_max", w)},
    ]  # fmt: skip


def level_of(score: int, settings: Settings) -> str:
    """The highest level whose cut-off the score reaches (low below every cut-off)."""
    level = RiskLevel.LOW.value
    for name in LEVELS[1:]:
        if name in settings.cutoffs and score >= settings.cutoffs[name]:
            level = name
    return level


def rate(facts: Facts, settings: Settings) -> Rating:
    """The customer's rating: the level, the score and the factors behind it."""
    factors = factors_of(facts, settings)
    score = sum(int(f["weight"]) for f in factors)
    return Rating(level=level_of(score, settings), score=score, factors=factors)


def next_review(reviewed_on: date, level: str, settings: Settings) -> date:
    """The date the next periodic review falls due (RISK_REVIEW_INTERVAL_DAYS by level)."""
    return reviewed_on + timedelta(days=settings.intervals.get(level, 365))
