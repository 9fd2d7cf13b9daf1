"""Declarative base, mixins and the session helpers every service uses (the unit of work
itself is `core.uow`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from psycopg import _queries as psycopg_queries
from sqlalchemy import MetaData
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    registry,
    scoped_session,
)
from sqlalchemy.types import TypeDecorator

_Select = TypeVar("_Select", bound="sa.Select[*tuple[Any, ...]]")
_S = TypeVar("_S", bound=Session)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# BIGINT on PostgreSQL; INTEGER on SQLite so that it is the rowid and autoincrements.
BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base with an Alembic-friendly constraint naming convention."""

    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


class PublicIdMixin:
    """A sequential primary key that stays inside, and a UUID that goes out."""

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    public_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, unique=True, index=True, default=uuid.uuid4, nullable=False
    )


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, nullable=False)


# --- unit of work -----------------------------------------------------------------------------


def real_session(session: Session | scoped_session[_S]) -> Session:
    """The Session behind a scoped_session (flask-sqlalchemy's `db.session`)."""
    return session() if isinstance(session, scoped_session) else session


# Longer than psycopg converts once: the unit of work's composed write and the engine's facts
# (5–6 KB, up to ~100 parameters) are the statements a movement runs every time.
_CACHED_STATEMENT_LENGTH, _CACHED_STATEMENT_PARAMS = 32_768, 512


def convert_long_statements_once() -> None:
    """Let psycopg convert a long statement's placeholders once per text, as it does short ones.

    psycopg keeps the `%(name)s` → `$n` conversion of each statement text in an LRU cache, but
    only for texts up to 4,096 bytes and 50 parameters; past that it parses the text on every
    execution (about 0.2 ms for the composed write). Its limits are module settings
    (`psycopg._queries`) with no public switch, so they are raised here, at app creation;
    `tests/transactions/test_round_trips.py` fails if a psycopg release stops honouring them.
    """
    psycopg_queries.MAX_CACHED_STATEMENT_LENGTH = max(
        psycopg_queries.MAX_CACHED_STATEMENT_LENGTH, _CACHED_STATEMENT_LENGTH
    )
    psycopg_queries.MAX_CACHED_STATEMENT_PARAMS = max(
        psycopg_queries.MAX_CACHED_STATEMENT_PARAMS, _CACHED_STATEMENT_PARAMS
    )


def for_update(stmt: _Select, **options: Any) -> _Select:
    """`stmt` locking its rows (`SELECT … FOR UPDATE`) and refreshing the loaded objects.

    The one way a row is locked for a change: `populate_existing` overwrites what the identity
    map already holds, so a value read before the lock is never the one written back.
    `options` go to `with_for_update` (`key_share=True` for FOR NO KEY UPDATE, `of=…`,
    `skip_locked=True`).
    """
    return stmt.with_for_update(**options).execution_options(populate_existing=True)


def table_of(model: type[Base]) -> sa.Table:
    """The table a model is mapped to, typed as one (for Core statements over it)."""
    table = model.__table__
    if not isinstance(table, sa.Table):
        raise TypeError(f"{model.__name__} is not mapped to a table")
    return table
