"""Each AML rule's parameters as an officer tunes them: their names, types and sane ranges,
their validation, and the mapping onto the rules' `Settings` (pure: no database).

A rule's parameters are a JSON object. Money is a decimal string in the environment's format,
an amount in the account currency with optional per-currency amounts (`"10000"`,
`"10000,JPY=1500000"`); ratios are numbers in (0, 1]; windows and counts are integers;
countries a list of ISO 3166-1 alpha-2 codes.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.compliance.aml.rules import Settings
from app.core.errors import ValidationError

MONEY, INT, RATIO, COUNTRIES = "money", "int", "ratio", "countries"
_DECIMAL = re.compile(r"^\d{1,13}(\.\d{1,4})?$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True)
class Param:
    """One parameter: the `Settings` field it sets, its kind and its bounds (inclusive)."""

    field: str
    kind: str
    low: float = 0
    high: float = 0
    description: str = ""


RULE_PARAMS: dict[str, dict[str, Param]] = {
    "cash_threshold": {
        "threshold": Param("cash_threshold", MONEY, description="Daily cash deposits above it"),
    },
    "structuring": {
        "threshold": Param("structuring_threshold", MONEY, description="The threshold avoided"),
        "days": Param("structuring_days", INT, 1, 90, "Window, days"),
        "near": Param("structuring_near", RATIO, 0.5, 1, "Share of the threshold: just under"),
        "min_count": Param("structuring_min_count", INT, 2, 100, "Smaller deposits, at least"),
    },
    "rapid_movement": {
        "hours": Param("rapid_hours", INT, 1, 720, "Window, hours"),
        "ratio": Param("rapid_ratio", RATIO, 0.01, 1, "Share of the money in that goes out"),
        "min_amount": Param("rapid_min_amount", MONEY, description="Money in, at least"),
    },
    "velocity": {
        "hours": Param("velocity_hours", INT, 1, 720, "Window, hours"),
        "max_count": Param("velocity_max_count", INT, 2, 10_000, "Payments one way, at least"),
    },
    "round_amounts": {
        "unit": Param("round_unit", MONEY, description="Whole multiples of"),
        "days": Param("round_days", INT, 1, 90, "Window, days"),
        "min_count": Param("round_min_count", INT, 2, 100, "Round amounts, at least"),
    },
    "high_risk_country": {
        "countries": Param("high_risk_countries", COUNTRIES, 0, 250, "High-risk countries"),
    },
    "dormant_account": {
        "days": Param("dormant_days", INT, 1, 3650, "Idle days before a posting"),
    },
}
RULE_NAMES = tuple(RULE_PARAMS)


def params_of(settings: Settings, rule: str) -> dict[str, Any]:
    """A rule's parameters as JSON values, read from `settings`."""
    params: dict[str, Any] = {}
    for name, spec in RULE_PARAMS[rule].items():
        value = getattr(settings, spec.field)
        if spec.field == "structuring_threshold" and value is None:
            value = settings.cash_threshold
        params[name] = sorted(value) if spec.kind == COUNTRIES else value
    return params


def apply(settings: Settings, rule: str, params: Mapping[str, Any]) -> Settings:
    """`settings` with a rule's (already valid) parameters put in."""
    changes: dict[str, Any] = {}
    for name, spec in RULE_PARAMS[rule].items():
        if name in params:
            value = params[name]
            changes[spec.field] = frozenset(value) if spec.kind == COUNTRIES else value
    return dataclasses.replace(settings, **changes)


def validate(rule: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters, normalized; a 422 naming each bad one (unknown, wrong type, out of
    range)."""
    specs = RULE_PARAMS[rule]
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    if not params:
        errors["params"] = ["Name at least one parameter."]
    for name, value in params.items():
        spec = specs.get(name)
        if spec is None:
            errors[f"params.{name}"] = [f"Unknown parameter; {rule} takes {', '.join(specs)}."]
            continue
        try:
            clean[name] = _check(spec, value)
        except ValueError as exc:
            errors[f"params.{name}"] = [str(exc)]
    if errors:
        raise ValidationError("The rule's parameters are not valid.", details=errors)
    return clean


def _check(spec: Param, value: Any) -> Any:
    if spec.kind == MONEY:
        return _money(value)
    if spec.kind == COUNTRIES:
        return _countries(value, int(spec.high))
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("A number.")
    if spec.kind == INT and not isinstance(value, int):
        raise ValueError("A whole number.")
    if not math.isfinite(value) or not spec.low <= value <= spec.high:
        raise ValueError(f"Between {spec.low:g} and {spec.high:g}.")
    return int(value) if spec.kind == INT else float(value)


def _money(value: Any) -> str:
    """An amount spec: a default decimal string, then optional `CUR=amount` parts."""
    message = 'A decimal string, with amounts per currency after it: "10000,JPY=1500000".'
    if not isinstance(value, str) or not value.strip():
        raise ValueError(message)
    normalized: list[str] = []
    seen: set[str] = set()
    for i, part in enumerate(value.split(",")):
        key, sep, amount = part.partition("=")
        key, amount = (key.strip().upper(), amount.strip()) if sep else ("*", key.strip())
        if (i == 0) != (key == "*") or key in seen:
            raise ValueError(message)
        if key != "*" and not _CURRENCY.match(key):
            raise ValueError(f"{key!r} is not a currency code.")
        if not _DECIMAL.match(amount) or not Decimal(amount) > 0:
            raise ValueError(f"{amount!r} is not a positive decimal amount.")
        seen.add(key)
        normalized.append(amount if key == "*" else f"{key}={amount}")
    return ",".join(normalized)


def _countries(value: Any, most: int) -> list[str]:
    if not isinstance(value, list) or len(value) > most:
        raise ValueError(f"A list of at most {most} country codes.")
    codes = []
    for code in value:
        if not isinstance(code, str) or not _COUNTRY.match(code.strip().upper()):
            raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code.")
        codes.append(code.strip().upper())
    return sorted(set(codes))
