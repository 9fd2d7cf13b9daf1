"""Marshmallow fields shared by every domain."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, overload

import marshmallow as ma
import pycountry
from flask import current_app

from app.core.money import MoneyError, format_amount, is_currency, parse_amount


class UTCDateTime(ma.fields.DateTime):
    """ISO 8601 in UTC with a `Z`, e.g. `2026-11-21T10:15:00Z` (API.md, "time")."""

    def _serialize(
        self, value: datetime | None, attr: str | None, obj: Any, **kwargs: Any
    ) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        text = value.strftime("%Y-%m-%dT%H:%M:%S")
        if value.microsecond:
            text += f".{value.microsecond:06d}".rstrip("0")
        return text + "Z"

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> datetime:
        result = super()._deserialize(value, attr, data, **kwargs)
        if result.tzinfo is None:
            result = result.replace(tzinfo=UTC)
        return result.astimezone(UTC)


def _with_metadata(kwargs: dict[str, Any], **defaults: Any) -> dict[str, Any]:
    """`kwargs` whose `metadata` starts from `defaults` (what the caller gives wins)."""
    kwargs["metadata"] = {**defaults, **kwargs.get("metadata", {})}
    return kwargs


CURRENCY_CODES = sorted(c.alpha_3 for c in pycountry.currencies)
COUNTRY_CODES = sorted(c.alpha_2 for c in pycountry.countries)


class Currency(ma.fields.String):
    """An ISO 4217 alphabetic currency code (`USD`); the spec lists them as its `enum`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            **_with_metadata(
                kwargs, description="ISO 4217 code", example="USD", enum=CURRENCY_CODES
            )
        )

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not is_currency(text):
            raise ma.ValidationError("Not an ISO 4217 currency code.")
        return text


class Country(ma.fields.String):
    """An ISO 3166-1 alpha-2 country code (`DE`); the spec lists them as its `enum`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**_with_metadata(kwargs, example="DE", enum=COUNTRY_CODES))

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not re.fullmatch(r"[A-Z]{2}", text) or pycountry.countries.get(alpha_2=text) is None:
            raise ma.ValidationError("An ISO 3166-1 alpha-2 country code, e.g. DE.")
        return text


# A money amount as the wire carries it: digits, optionally a point and more digits. No sign,
# exponent or surrounding space; the currency's number of decimals is checked by `load_amount`.
MONEY_PATTERN = r"^[0-9]+(\.[0-9]+)?$"
_MONEY = re.compile(r"[0-9]+(?:\.[0-9]+)?")


class DecimalString(ma.fields.String):
    """A money amount on the wire: a decimal string. JSON numbers are refused (never a float),
    and so is any text but digits with an optional decimal point (`" 1.00"` included).

    The string is checked against its currency, and turned into minor units, by
    `load_amount` in the schema's `post_load` (the exponent depends on the currency).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            **_with_metadata(
                kwargs, description="Decimal string", example="10.50", pattern=MONEY_PATTERN
            )
        )

    default_error_messages = {
        "invalid": 'Amounts are decimal strings, e.g. "10.50"; numbers are not accepted.',
        "format": 'Not a decimal amount: digits with an optional point, e.g. "10.50", '
        "without spaces or signs.",
    }

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not _MONEY.fullmatch(text):
            raise self.make_error("format")
        return text


class NonBlank(ma.fields.String):
    """Text that must say something: refused when empty or only whitespace, else kept as sent
    (names, reasons). The spec carries `pattern: \\S` (at least one non-space character)."""

    default_error_messages = {"blank": "May not be empty or only whitespace."}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**_with_metadata(kwargs, pattern=r"\S"))

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not text.strip():
            raise self.make_error("blank")
        return text


class Amount(ma.fields.Field[int]):
    """Integer minor units out as a decimal string in the currency of the object."""

    def __init__(self, currency_attr: str = "currency", **kwargs: Any) -> None:
        self.currency_attr = currency_attr
        kwargs.setdefault("dump_only", True)
        kwargs.setdefault("metadata", {"type": "string", "example": "10.50"})
        super().__init__(**kwargs)

    def _serialize(
        self, value: int | None, attr: str | None, obj: Any, **kwargs: Any
    ) -> str | None:
        if value is None:
            return None
        currency = (
            obj.get(self.currency_attr)
            if isinstance(obj, dict)
            else getattr(obj, self.currency_attr)
        )
        if not isinstance(currency, str):
            raise MoneyError(f"{currency!r} is not an ISO 4217 currency code.")
        return format_amount(int(value), currency)


def load_amount(
    data: dict[str, Any], field: str = "amount", currency_field: str = "currency"
) -> None:
    """In a `post_load`: replace `data[field]` (decimal string) by integer minor units."""
    if field not in data or currency_field not in data:
        return
    try:
        data[field] = parse_amount(data[field], data[currency_field])
    except MoneyError as exc:
        raise ma.ValidationError({field: [str(exc)]}) from exc


class Cursor(ma.fields.String):
    """A pagination cursor, signed by this API: `<payload>.<signature>` on the wire.

    Dumping signs the position the pagination helper encoded; loading accepts only a cursor
    this API signed (with `SECRET_KEY`) and hands the helper the bare payload, so a forged,
    truncated or hand-edited cursor is a 422 before any decoding.
    """

    default_error_messages = {"invalid": "Not a cursor from this API."}
    _SALT = b"flowlet-pagination-cursor"
    _MAX_LENGTH = 512

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {"description": "Opaque; pass `next_cursor` back as is."})
        super().__init__(**kwargs)

    @classmethod
    def _signature(cls, payload: str) -> str:
        key = hashlib.sha256(cls._SALT + current_app.config["SECRET_KEY"].encode()).digest()
        mac = hmac.new(key, payload.encode(), hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def _serialize(
        self, value: str | None, attr: str | None, obj: Any, **kwargs: Any
    ) -> str | None:
        if value is None:
            return None
        return f"{value}.{self._signature(str(value))}"

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        payload, dot, signature = text.rpartition(".")
        if (
            len(text) > self._MAX_LENGTH
            or not dot
            or not hmac.compare_digest(signature, self._signature(payload))
        ):
            raise self.make_error("invalid")
        return payload


class Pattern(ma.validate.Regexp):
    """`Regexp` that must match the whole text, with ASCII classes: as the spec's `pattern`
    reads in JSON Schema (`$` does not let a trailing newline through, `\\d` is 0-9 only)."""

    regex: re.Pattern[str]  # compiled from the text `__init__` takes

    def __init__(self, regex: str, *, error: str | None = None) -> None:
        super().__init__(regex, flags=re.ASCII, error=error)

    @overload
    def __call__(self, value: str) -> str: ...

    @overload
    def __call__(self, value: bytes) -> bytes: ...

    def __call__(self, value: str | bytes) -> str | bytes:
        # `Regexp` declares bytes too; a pattern compiled from text matches only text.
        if isinstance(value, bytes) or self.regex.fullmatch(value) is None:
            raise ma.ValidationError(self._format_error(value))
        return value
