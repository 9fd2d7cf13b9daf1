"""A lease that one process of many holds: a PostgreSQL advisory lock on its own connection.

`flask scheduler` runs on every host; the one holding the scheduler lease runs the periodic
jobs, the others wait (docs/operations.md, "Several instances"). The lock is a session-level
`pg_try_advisory_lock` on a connection opened for it alone, outside the pool:

* the holder proves it still holds the lock every `renew_every` seconds (a query on that
  connection that reads its own row in `pg_locks`) and stops the moment it cannot;
* when the holder dies (SIGKILL, a crash, a lost host), PostgreSQL ends its session and the
  lock with it: the standby's next try wins. A holder that hangs without dying is reported
  stale after `stale_after` seconds and loses its session (`idle_session_timeout`) after
  twice that; TCP keepalives end a session whose host vanished;
* who holds the lock, and how long ago it last renewed, is read from `pg_locks` and
  `pg_stat_activity` (the holder's `application_name` is its instance id, its `query_start`
  the last renewal), so `/health/detailed` needs no table and no Redis.

Advisory locks are per database, so two deployments on one server never share a lease.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

log = logging.getLogger("flowlet.lease")

NAMESPACE = 0x464C4F57  # "FLOW": the first key of every Flowlet advisory lock
SCHEDULER_LEASE = 1

_HELD = sa.text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = pg_backend_pid() AND classid::bigint = :ns AND objid::bigint = :key"
    " AND objsubid = 2)"
)
_HOLDER = sa.text(
    "SELECT a.application_name, a.pid,"
    " extract(epoch FROM clock_timestamp() - coalesce(a.query_start, a.backend_start))"
    " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
    " WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = :ns"
    " AND l.objid::bigint = :key AND l.objsubid = 2"
    " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


@dataclass(frozen=True)
class Holder:
    instance: str  # the holder's INSTANCE_ID (its application_name)
    backend_pid: int  # the PostgreSQL session holding the lock
    renewed_seconds_ago: float


class Lease:
    """One advisory lock, tried and renewed on a dedicated autocommit connection."""

    def __init__(self, url: sa.URL | str, *, key: int, instance: str, stale_after: float) -> None:
        self.key = key
        self.instance = instance
        self._engine = sa.create_engine(
            url,
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args={
                "application_name": instance[:63],
                "keepalives": 1,
                "keepalives_idle": 5,
                "keepalives_interval": 2,
                "keepalives_count": 3,
                "connect_timeout": 5,
            },
        )
        self._idle_timeout_ms = max(int(stale_after * 2000), 1000)
        self._connection: sa.Connection | None = None
        self.held = False

    def _connect(self) -> sa.Connection:
        if self._connection is None:
            connection = self._engine.connect()
            # A holder that stops renewing (hung, stopped) loses its session, and so the lock.
            connection.execute(sa.text(f"SET idle_session_timeout = {self._idle_timeout_ms}"))
            self._connection = connection
        return self._connection

    def try_acquire(self) -> bool:
        """Take the lease if nobody holds it; True when this process holds it now."""
        if self.held:
            return self.renew()
        try:
            got = self._connect().scalar(
                sa.text("SELECT pg_try_advisory_lock(:ns, :key)"),
                {"ns": NAMESPACE, "key": self.key},
            )
        except sa.exc.DBAPIError as exc:
            log.warning("lease: database unreachable (%s)", type(exc).__name__)
            self._drop()
            return False
        self.held = bool(got)
        return self.held

    def renew(self) -> bool:
        """Prove the lease is still ours (the query is the renewal); False once it is lost."""
        if not self.held:
            return False
        try:
            still = self._connect().scalar(_HELD, {"ns": NAMESPACE, "key": self.key})
        except sa.exc.DBAPIError as exc:
            log.warning("lease: lost with the database session (%s)", type(exc).__name__)
            still = False
        if not still:
            self._drop()
        return bool(still)

    def release(self) -> None:
        """Give the lease up (closing the session would too) and close the connection."""
        if self.held and self._connection is not None:
            with contextlib.suppress(sa.exc.DBAPIError):
                self._connection.execute(
                    sa.text("SELECT pg_advisory_unlock(:ns, :key)"),
                    {"ns": NAMESPACE, "key": self.key},
                )
        self._drop()
        self._engine.dispose()

    def _drop(self) -> None:
        self.held = False
        if self._connection is not None:
            with contextlib.suppress(sa.exc.DBAPIError):
                self._connection.close()
            self._connection = None


def holder(connection: sa.Connection, key: int = SCHEDULER_LEASE) -> Holder | None:
    """Who holds the lease `key` in this database, or None (PostgreSQL only)."""
    row = connection.execute(_HOLDER, {"ns": NAMESPACE, "key": key}).first()
    if row is None:
        return None
    return Holder(
        instance=row[0] or "?", backend_pid=int(row[1]), renewed_seconds_ago=float(row[2])
    )
