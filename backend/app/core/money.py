"""Money: ISO 4217 currencies, integer minor units in storage, decimal strings on the wire.

Amounts never pass through a float. The exponent of a currency (2 for USD, 0 for JPY, 3 for BHD)
comes from the CLDR data shipped with Babel; the currency code itself is checked against
ISO 4217 with pycountry.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from functools import lru_cache

import pycountry
from babel.numbers import get_currency_precision


class MoneyError(ValueError):
    """An amount or currency that cannot be accepted; the message is user-facing."""


@lru_cache(maxsize=512)
def is_currency(code: str) -> bool:
    """True for an active ISO 4217 alphabetic code (upper case)."""
    return (
        isinstance(code, str)
        and len(code) == 3
        and code.isupper()
        and pycountry.currencies.get(alpha_3=code) is not None
    )


@lru_cache(maxsize=512)
def exponent(currency: str) -> int:
    """The number of minor-unit digits of `currency` (ISO 4217 exponent)."""
    if not is_currency(currency):
        raise MoneyError(f"{currency!r} is not an ISO 4217 currency code.")
    return int(get_currency_precision(currency))


def parse_amount(value: object, currency: str, *, allow_zero: bool = False) -> int:
    """A positive decimal string in `currency` → integer minor units.

    Refused: anything but a string (JSON numbers included, so no float ever sneaks in),
    NaN/Infinity, exponents, signs, zero (unless `allow_zero`), and more decimals than the
    currency has.
    """
    if not isinstance(value, str):
        raise MoneyError('Amounts are decimal strings, e.g. "10.50"; numbers are not accepted.')
    text = value.strip()
    if not text or any(ch not in "0123456789." for ch in text) or text.count(".") > 1:
        raise MoneyError("Not a positive decimal amount.")
    if text.startswith(".") or text.endswith("."):
        raise MoneyError("Not a positive decimal amount.")
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the character check above catches it
        raise MoneyError("Not a decimal amount.") from exc
    digits = exponent(currency)
    _, _, fraction = text.partition(".")
    if len(fraction) > digits:
        raise MoneyError(f"{currency} amounts have at most {digits} decimal places.")
    minor = int(amount.scaleb(digits))
    if minor == 0 and not allow_zero:
        raise MoneyError("The amount must be greater than zero.")
    if minor > 10**15:
        raise MoneyError("The amount is too large.")
    return minor


def parse_bound(value: Decimal, currency: str, *, upper: bool) -> int:
    """A decimal filter bound → minor units (rounded inwards so no amount is wrongly included)."""
    scaled = value.scaleb(exponent(currency))
    return int(scaled.to_integral_value(rounding=ROUND_FLOOR if upper else ROUND_CEILING))


def to_minor(value: Decimal, currency: str) -> int:
    """A decimal in major units (configuration values) → integer minor units, rounded down."""
    return int(value.scaleb(exponent(currency)).to_integral_value(rounding=ROUND_FLOOR))


def format_amount(minor: int, currency: str) -> str:
    """Integer minor units → the wire form: `"10.50"`, `"1000"`, `"-3.000"`."""
    digits = exponent(currency)
    sign = "-" if minor < 0 else ""
    whole, fraction = divmod(abs(minor), 10**digits)
    if digits == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{fraction:0{digits}d}"


def parse_currency_amounts(text: str | None, default: str | None = None) -> dict[str, Decimal]:
    """Configuration of amounts per currency: `"1000"` or `"1000,JPY=150000"` (`*` = default)."""
    result: dict[str, Decimal] = {}
    for part in (text or default or "").split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, amount = part.partition("=")
        if not sep:
            key, amount = "*", key
        result[key.strip().upper()] = Decimal(amount.strip())
    return result


def amount_for(amounts: dict[str, Decimal], currency: str) -> int | None:
    """The configured amount for `currency` in minor units (None when nothing is configured)."""
    value = amounts.get(currency, amounts.get("*"))
    return None if value is None else to_minor(value, currency)


@lru_cache(maxsize=256)
def configured_amount(text: str | None, currency: str) -> int | None:
    """A configured amount ("1000,JPY=150000") for `currency` in minor units, or None.

    Memoized: each configuration value is parsed once per process, not on every request.
    """
    return amount_for(parse_currency_amounts(text), currency)
