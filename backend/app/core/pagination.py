"""Keyset pagination (API.md, "pagination"): `?limit=&cursor=` → `{"items", "next_cursor"}`.

Rows are ordered by `(created_at, public_id)`, newest first. The cursor is the position of the
last row of a page, base64url-encoded JSON; it names no sequential id. Page 10,000 costs what
page 1 costs: the next page starts with a range condition, never an OFFSET.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.core.api import Schema
from app.core.errors import ValidationError
from app.core.fields import Cursor

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class PageArgsSchema(Schema):
    """`limit` (1–200, default 50) and an opaque `cursor`."""

    limit = ma.fields.Integer(
        load_default=DEFAULT_LIMIT, validate=ma.validate.Range(min=1, max=MAX_LIMIT)
    )
    cursor = Cursor(load_default=None)


def page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """`{"items": [item], "next_cursor": str|null}` for an item schema."""
    return type(
        name,
        (Schema,),
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema), required=True),
            "next_cursor": Cursor(allow_none=True, required=True),
        },
    )


@dataclass
class Page:
    items: list[Any]
    next_cursor: str | None


def encode_cursor(created_at: datetime, public_id: uuid.UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(public_id)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, public_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        at = datetime.fromisoformat(created)
        if at.tzinfo is None:
            raise ValueError("a cursor time carries its zone")
        return at, uuid.UUID(public_id)
    except (ValueError, TypeError, RecursionError) as exc:
        raise ValidationError(
            "The cursor is not valid.", details={"cursor": ["Not a cursor from this API."]}
        ) from exc


def paginate(
    session: Session,
    stmt: sa.Select,
    *,
    model: Any,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page:
    """Run `stmt` (a select of `model`) newest first, one page after `cursor`."""
    created, public_id = model.created_at, model.public_id
    if cursor:
        at, pid = decode_cursor(cursor)
        stmt = stmt.where(sa.or_(created < at, sa.and_(created == at, public_id < pid)))
    rows = list(session.scalars(stmt.order_by(created.desc(), public_id.desc()).limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].created_at, rows[-1].public_id)
    return Page(items=rows, next_cursor=next_cursor)
