"""Keyset pagination (API.md, "pagination"): `?limit=&cursor=` → `{"items", "next_cursor"}`.

Rows are ordered by `(created_at, public_id)`, newest first. The cursor is the position of the
last row of a page, base64url-encoded JSON; it names no sequential id. Page 10,000 costs what
page 1 costs: the next page starts with a range condition, never an OFFSET.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import marshmallow as ma
import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.core.api import ArgsSchema, Schema
from app.core.errors import ValidationError
from app.core.fields import Cursor

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

_Select = TypeVar("_Select", bound="sa.Select[*tuple[Any, ...]]")


class PageArgsSchema(ArgsSchema):
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
    items: Sequence[Any]
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


def after_cursor(stmt: _Select, *, model: type[Any], cursor: str | None, limit: int) -> _Select:
    """`stmt` newest first from just after `cursor`, `limit + 1` rows (one more tells a next page).

    The position is a row comparison, `(created_at, public_id) < (:at, :pid)`, which PostgreSQL
    turns into an index condition on an index ending in those two columns.
    """
    created, public_id = model.created_at, model.public_id
    if cursor:
        at, pid = decode_cursor(cursor)
        stmt = stmt.where(sa.tuple_(created, public_id) < sa.tuple_(at, pid))
    return stmt.order_by(created.desc(), public_id.desc()).limit(limit + 1)


def page_of(rows: Sequence[Any], limit: int) -> Page:
    """The first `limit` rows, and the cursor to the next page if there is one."""
    if len(rows) <= limit:
        return Page(items=rows, next_cursor=None)
    rows = rows[:limit]
    return Page(items=rows, next_cursor=encode_cursor(rows[-1].created_at, rows[-1].public_id))


class Keyset:
    """A select paged newest first by `model`'s position, built once (at import).

    `page()` binds the statement's own parameters, the page size and the cursor's position;
    the statements and their cache keys are made once, so a page costs only its execution. A
    select of the model gives model objects (through a Session); a select of columns gives
    rows, which may also run on a Connection (`core.reads.one_statement`).
    """

    def __init__(self, stmt: sa.Select[*tuple[Any, ...]], *, model: type[Any]) -> None:
        descriptions = stmt.column_descriptions
        self._objects = len(descriptions) == 1 and descriptions[0]["expr"] is model
        created, public_id = model.created_at, model.public_id
        order = (created.desc(), public_id.desc())
        size = sa.bindparam("page_size", type_=sa.Integer())
        position = sa.tuple_(created, public_id) < sa.tuple_(
            sa.bindparam("page_at", type_=created.type),
            sa.bindparam("page_id", type_=public_id.type),
        )
        self._first = stmt.order_by(*order).limit(size)
        self._after = stmt.where(position).order_by(*order).limit(size)

    def page(
        self,
        runner: Session | Connection,
        params: dict[str, Any],
        *,
        limit: int,
        cursor: str | None,
    ) -> Page:
        """One page of at most `limit` rows after `cursor` (None: the first page)."""
        bound = {**params, "page_size": limit + 1}
        stmt = self._first
        if cursor:
            bound["page_at"], bound["page_id"] = decode_cursor(cursor)
            stmt = self._after
        result = runner.execute(stmt, bound)
        return page_of(list(result.scalars()) if self._objects else result.all(), limit)


def paginate(
    session: Session,
    stmt: sa.Select[*tuple[Any, ...]],
    *,
    model: type[Any],
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page:
    """Run `stmt` (a select of `model`) newest first, one page after `cursor`."""
    stmt = after_cursor(stmt, model=model, cursor=cursor, limit=limit)
    return page_of(list(session.scalars(stmt)), limit)


def paginate_union(
    session: Session,
    branches: list[sa.Select[*tuple[Any, ...]]],
    *,
    model: type[Any],
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page:
    """One page of the union of disjoint selects of `model` (e.g. one per indexed account).

    Each branch reads at most `limit + 1` rows along its own index from the cursor on; the
    merge keeps the newest. A page costs the same at the start or deep into the history.
    """
    if not branches:
        return Page(items=[], next_cursor=None)
    if len(branches) == 1:
        return paginate(session, branches[0], model=model, limit=limit, cursor=cursor)
    keys = [
        after_cursor(
            branch.with_only_columns(model.id, model.created_at, model.public_id),
            model=model,
            cursor=cursor,
            limit=limit,
        ).subquery()
        for branch in branches
    ]
    merged = sa.union_all(
        *(sa.select(k.c.id, k.c.created_at, k.c.public_id) for k in keys)
    ).subquery()
    stmt = (
        sa.select(model)
        .join(merged, merged.c.id == model.id)
        .order_by(merged.c.created_at.desc(), merged.c.public_id.desc())
        .limit(limit + 1)
    )
    return page_of(list(session.scalars(stmt)), limit)


def paginate_by_id(
    session: Session,
    stmt: sa.Select[*tuple[Any, ...]],
    *,
    column: InstrumentedAttribute[int],
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    descending: bool = True,
) -> Page:
    """One page of `stmt` ordered by an integer key `column` (for records with no public id),
    after `cursor`; the cursor is the last key, opaque to clients."""
    if cursor:
        try:
            after = int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValidationError(
                "The cursor is not valid.", details={"cursor": ["Not a cursor from this API."]}
            ) from exc
        stmt = stmt.where(column < after if descending else column > after)
    order = column.desc() if descending else column.asc()
    rows = list(session.scalars(stmt.order_by(None).order_by(order).limit(limit + 1)))
    if len(rows) <= limit:
        return Page(items=rows, next_cursor=None)
    last = str(rows[limit - 1].id).encode()
    return Page(items=rows[:limit], next_cursor=base64.urlsafe_b64encode(last).decode().rstrip("="))
