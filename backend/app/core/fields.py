"""Marshmallow fields shared by every domain."""

from __future__ import annotations

from datetime import UTC, datetime

import marshmallow as ma


class UTCDateTime(ma.fields.DateTime):
    """ISO 8601 in UTC with a `Z`, e.g. `2026-11-21T10:15:00Z` (API.md, "time")."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        text = value.strftime("%Y-%m-%dT%H:%M:%S")
        if value.microsecond:
            text += f".{value.microsecond:06d}".rstrip("0")
        return text + "Z"

    def _deserialize(self, value, attr, data, **kwargs):
        result: datetime = super()._deserialize(value, attr, data, **kwargs)
        if result.tzinfo is None:
            result = result.replace(tzinfo=UTC)
        return result.astimezone(UTC)


class Currency(ma.fields.String):
    """An ISO 4217 alphabetic currency code (`USD`)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {"description": "ISO 4217 code", "example": "USD"})
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        from app.core.money import is_currency

        text = super()._deserialize(value, attr, data, **kwargs)
        if not is_currency(text):
            raise ma.ValidationError("Not an ISO 4217 currency code.")
        return text


class DecimalString(ma.fields.String):
    """A money amount on the wire: a decimal string. JSON numbers are refused (never a float).

    The string is checked against its currency, and turned into minor units, by
    `load_amount` in the schema's `post_load` (the exponent depends on the currency).
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {"description": "Decimal string", "example": "10.50"})
        super().__init__(**kwargs)

    default_error_messages = {
        "invalid": 'Amounts are decimal strings, e.g. "10.50"; numbers are not accepted.'
    }


class Amount(ma.fields.Field):
    """Integer minor units out as a decimal string in the currency of the object."""

    def __init__(self, currency_attr: str = "currency", **kwargs):
        self.currency_attr = currency_attr
        kwargs.setdefault("dump_only", True)
        kwargs.setdefault("metadata", {"type": "string", "example": "10.50"})
        super().__init__(**kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        from app.core.money import format_amount

        if value is None:
            return None
        currency = (
            obj.get(self.currency_attr)
            if isinstance(obj, dict)
            else getattr(obj, self.currency_attr)
        )
        return format_amount(int(value), currency)


def load_amount(data: dict, field: str = "amount", currency_field: str = "currency") -> None:
    """In a `post_load`: replace `data[field]` (decimal string) by integer minor units."""
    from app.core.money import MoneyError, parse_amount

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

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {"description": "Opaque; pass `next_cursor` back as is."})
        super().__init__(**kwargs)

    @classmethod
    def _signature(cls, payload: str) -> str:
        import base64
        import hashlib
        import hmac

        from flask import current_app

        key = hashlib.sha256(cls._SALT + current_app.config["SECRET_KEY"].encode()).digest()
        mac = hmac.new(key, payload.encode(), hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return f"{value}.{self._signature(str(value))}"

    def _deserialize(self, value, attr, data, **kwargs):
        import hmac

        text = super()._deserialize(value, attr, data, **kwargs)
        payload, dot, signature = text.rpartition(".")
        if (
            len(text) > self._MAX_LENGTH
            or not dot
            or not hmac.compare_digest(signature, self._signature(payload))
        ):
            raise self.make_error("invalid")
        return payload
