"""Money parsing and formatting: decimal strings in, integer minor units stored."""

from decimal import Decimal

import pytest

from app.core.money import (
    MoneyError,
    exponent,
    format_amount,
    parse_amount,
    parse_bound,
    parse_currency_amounts,
)


def test_exponents_come_from_iso_4217():
    assert (exponent("USD"), exponent("JPY"), exponent("BHD")) == (2, 0, 3)
    with pytest.raises(MoneyError):
        exponent("ZZZ")


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("10.50", "USD", 1050),
        ("10.5", "USD", 1050),
        ("10", "USD", 1000),
        ("1000", "JPY", 1000),
        ("0.001", "BHD", 1),
        ("0.01", "USD", 1),
    ],
)
def test_decimal_strings_become_minor_units(text, currency, minor):
    assert parse_amount(text, currency) == minor


@pytest.mark.parametrize(
    ("value", "currency"),
    [
        (10.5, "USD"),
        (10, "USD"),
        ("NaN", "USD"),
        ("Infinity", "USD"),
        ("-5", "USD"),
        ("0", "USD"),
        ("0.00", "USD"),
        ("10.123", "USD"),
        ("10.5", "JPY"),
        ("1e3", "USD"),
        ("", "USD"),
        (" ", "USD"),
        ("1.", "USD"),
        (".5", "USD"),
        ("1,000", "USD"),
        (None, "USD"),
        ("+5", "USD"),
        ("10000000000000000", "USD"),
    ],
)
def test_refused_amounts(value, currency):
    with pytest.raises(MoneyError):
        parse_amount(value, currency)


def test_format_and_bounds():
    assert format_amount(1050, "USD") == "10.50"
    assert format_amount(-5, "USD") == "-0.05"
    assert format_amount(1000, "JPY") == "1000"
    assert parse_bound(Decimal("10.005"), "USD", upper=False) == 1001
    assert parse_bound(Decimal("10.005"), "USD", upper=True) == 1000
    assert parse_currency_amounts("1000,JPY=150000") == {
        "*": Decimal("1000"),
        "JPY": Decimal("150000"),
    }
