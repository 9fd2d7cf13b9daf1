"""Rate-limit storage that survives a Redis outage without multiplying the limits.

`RATELIMIT_STORAGE_URI = "flowlet+redis://…"` selects `FailoverStorage`: counters live in
Redis; while Redis is unreachable they live in PostgreSQL (`rate_limit_counters`), shared by
every gunicorn process, so "10 logins per 15 minutes" stays 10 instead of 10 per process.
Redis is tried again a few seconds after each failure. Fixed windows only (flask-limiter's
default strategy).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from limits.storage import RedisStorage, Storage
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, table_of, utcnow
from app.core.extensions import db

log = logging.getLogger("flowlet.ratelimit")

RETRY_REDIS_AFTER_SECONDS = 5.0

T = TypeVar("T")
Exceptions = type[Exception] | tuple[type[Exception], ...]


class RateLimitCounter(Base):
    """A fixed-window counter, used while Redis is down."""

    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    count: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(nullable=False, index=True)


def _engine() -> sa.Engine:
    return db.engine


class SQLCounterStorage(Storage):
    """Fixed-window counters in the application database (one upsert per hit)."""

    STORAGE_SCHEME = ["flowlet+sql"]

    def __init__(
        self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any
    ) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> Exceptions:
        return sa.exc.SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        table = table_of(RateLimitCounter)
        now = utcnow()
        engine = _engine()
        insert = postgresql_insert if engine.dialect.name == "postgresql" else sqlite_insert
        stmt = insert(table).values(
            key=key, count=amount, expires_at=now + timedelta(seconds=expiry)
        )
        expired = table.c.expires_at <= now
        upsert = stmt.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "count": sa.case((expired, stmt.excluded.count), else_=table.c.count + amount),
                "expires_at": sa.case(
                    (expired, stmt.excluded.expires_at), else_=table.c.expires_at
                ),
            },
        ).returning(table.c.count)
        with engine.begin() as connection:
            return int(connection.execute(upsert).scalar_one())

    def _row(self, key: str) -> sa.Row[Any, Any] | None:
        table = table_of(RateLimitCounter)
        with _engine().connect() as connection:
            return connection.execute(
                sa.select(table.c.count, table.c.expires_at).where(
                    table.c.key == key, table.c.expires_at > utcnow()
                )
            ).first()

    def get(self, key: str) -> int:
        row = self._row(key)
        return int(row._mapping["count"]) if row else 0  # (`row.count` reads as tuple.count)

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        expires = row.expires_at if row else utcnow()
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        return expires.timestamp()

    def check(self) -> bool:
        try:
            with _engine().connect() as connection:
                connection.execute(sa.text("SELECT 1"))
            return True
        except sa.exc.SQLAlchemyError:
            return False

    def reset(self) -> int | None:
        with _engine().begin() as connection:
            return connection.execute(sa.delete(table_of(RateLimitCounter))).rowcount

    def clear(self, key: str) -> None:
        table = table_of(RateLimitCounter)
        with _engine().begin() as connection:
            connection.execute(sa.delete(table).where(table.c.key == key))

    def purge_expired(self) -> int:
        table = table_of(RateLimitCounter)
        with _engine().begin() as connection:
            result = connection.execute(sa.delete(table).where(table.c.expires_at <= utcnow()))
            return result.rowcount


class FailoverStorage(Storage):
    """Redis first; PostgreSQL while Redis fails (`flowlet+redis://host:port/db`)."""

    STORAGE_SCHEME = ["flowlet+redis", "flowlet+rediss"]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        redis_uri = uri.removeprefix("flowlet+")
        options.setdefault("socket_timeout", 1)
        options.setdefault("socket_connect_timeout", 1)
        self.redis = RedisStorage(redis_uri, **options)
        self.sql = SQLCounterStorage()
        self._redis_down_until = 0.0

    @property
    def base_exceptions(self) -> Exceptions:
        return (sa.exc.SQLAlchemyError, *_tuple(self.redis.base_exceptions))

    def _call(self, operation: Callable[[Storage], T]) -> T:
        if time.monotonic() >= self._redis_down_until:
            try:
                return operation(self.redis)
            except self.redis.base_exceptions as exc:
                self._redis_down_until = time.monotonic() + RETRY_REDIS_AFTER_SECONDS
                log.warning(
                    "rate limits: Redis unreachable (%s); counting in the database",
                    type(exc).__name__,
                )
        return operation(self.sql)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return self._call(lambda storage: storage.incr(key, expiry, amount))

    def get(self, key: str) -> int:
        return self._call(lambda storage: storage.get(key))

    def get_expiry(self, key: str) -> float:
        return self._call(lambda storage: storage.get_expiry(key))

    def check(self) -> bool:
        return self.redis.check() or self.sql.check()

    def reset(self) -> int | None:
        return self._call(lambda storage: storage.reset())

    def clear(self, key: str) -> None:
        self._call(lambda storage: storage.clear(key))


def _tuple(value: Exceptions) -> tuple[type[Exception], ...]:
    return value if isinstance(value, tuple) else (value,)
