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
