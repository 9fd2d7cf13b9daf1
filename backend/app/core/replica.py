"""Reads that tolerate lag, sent to a streaming replica (`DATABASE_REPLICA_URL`).

Nothing is routed by statement type: a read goes to the replica only where its call site asks,
with `tolerating_lag(session)`, and gets back a session to read from — the replica's, or the
primary session it was given when there is no replica or the replica may not serve. The call
sites are the reads of docs/operations.md ("Read replica"): audit lists and exports, account
statements, the CTR report, wealth history and AML rule backtests. Money decisions, balances
and whatever a request writes stay on the primary.

The replica serves only while it is within `REPLICA_MAX_LAG_SECONDS` of the primary, replaying,
reachable and still in recovery. That is checked at most every `REPLICA_CHECK_SECONDS` per
process (one small query), not per read; every read sent back to the primary instead is counted
in `flowlet_replica_fallbacks_total{reason}`. A request other than GET or HEAD never reads from
the replica: what it wrote may not be there yet.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, after_this_request, current_app, g, has_request_context, request
from prometheus_client import Counter
from sqlalchemy.orm import Session

from app.config import normalize_db_url
from app.core.extensions import db

REPLICA = "replica"
_EXTENSION = "flowlet_replica"
_SAFE_METHODS = frozenset({"GET", "HEAD"})
_CONNECT_TIMEOUT_SECONDS = 2

FALLBACKS = Counter(
    "flowlet_replica_fallbacks_total",
    "Reads that tolerate lag sent to the primary because the replica may not serve them",
    ["reason"],
)

# One round trip: is it a standby, is replay paused, and how far behind is what it replayed.
# With everything received already replayed and a WAL receiver running, the replica is current
# however old its last replayed transaction is (an idle primary writes none); otherwise the lag
# is the age of the last transaction replayed (NULL, unknown, before the first one).
LAG_SQL = sa.text(
    """
    SELECT pg_is_in_recovery() AS in_recovery,
           CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END AS paused,
           CASE
             WHEN NOT pg_is_in_recovery() THEN NULL
             WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
                  AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver) THEN 0.0
             ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8
           END AS lag_seconds
    """
)


@dataclass(frozen=True)
class State:
    """What the last check found: `reason` is None when the replica may serve."""

    reason: str | None
    lag_seconds: float | None
    checked_at: float  # time.monotonic()

    @property
    def usable(self) -> bool:
        return self.reason is None


def verdict(*, in_recovery: bool, paused: bool, lag: float | None, max_lag: float) -> str | None:
    """Why a replica in this state may not serve a read (None: it may)."""
    if not in_recovery:
        return "not_in_recovery"  # promoted, or the URL names a primary: it no longer follows
    if paused:
        return "paused"  # it falls further behind with every write, whatever it measures now
    if lag is None or lag > max_lag:
        return "lag"
    return None


class Replica:
    """The replica's engine and this process's last word on whether it may serve."""

    def __init__(self, engine: sa.Engine, *, max_lag: float, check_every: float) -> None:
        self.engine = engine
        self.max_lag = max_lag
        self.check_every = check_every
        self._lock = threading.Lock()
        self._state: State | None = None

    def state(self) -> State:
        """The cached state, checked anew when older than `check_every` seconds."""
        with self._lock:
            state = self._state
            if state is None or time.monotonic() - state.checked_at >= self.check_every:
                state = self._state = self.check()
            return state

    def check(self) -> State:
        """Ask the replica now (one statement); unreachable counts as lagging."""
        try:
            with self.engine.connect() as conn:
                row = conn.execute(LAG_SQL).one()
        except sa.exc.DBAPIError:
            return State("unreachable", None, time.monotonic())
        lag = None if row.lag_seconds is None else max(float(row.lag_seconds), 0.0)
        reason = verdict(
            in_recovery=row.in_recovery, paused=row.paused, lag=lag, max_lag=self.max_lag
        )
        return State(reason, lag, time.monotonic())

    def forget(self) -> None:
        """Check again on the next read (tests; an operator's command)."""
        with self._lock:
            self._state = None


def configure(app: Flask) -> None:
    """Declare the replica's engine (before `db.init_app`) when `DATABASE_REPLICA_URL` is set."""
    url = app.config.get("DATABASE_REPLICA_URL")
    if not url:
        return
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    connect_args = {**options.get("connect_args", {}), "connect_timeout": _CONNECT_TIMEOUT_SECONDS}
    binds = dict(app.config.get("SQLALCHEMY_BINDS") or {})
    binds[REPLICA] = {**options, "url": normalize_db_url(url), "connect_args": connect_args}
    app.config["SQLALCHEMY_BINDS"] = binds


def init_app(app: Flask) -> None:
    """Keep the replica's guard on the app (after `db.init_app`), and close its sessions."""
    if not app.config.get("DATABASE_REPLICA_URL"):
        app.extensions[_EXTENSION] = None
        return
    with app.app_context():
        engine = db.engines[REPLICA]
    app.extensions[_EXTENSION] = Replica(
        engine,
        max_lag=float(app.config["REPLICA_MAX_LAG_SECONDS"]),
        check_every=float(app.config["REPLICA_CHECK_SECONDS"]),
    )
    app.teardown_appcontext(_close_session)


def of(app: Flask) -> Replica | None:
    """The app's replica, or None without `DATABASE_REPLICA_URL`."""
    replica: Replica | None = app.extensions.get(_EXTENSION)
    return replica


def tolerating_lag(session: Session) -> Session:
    """A session for a read that may lag: the replica's while it may serve, else `session`.

    The replica's session reads one snapshot (REPEATABLE READ), is never committed, and is
    closed once the response is sent (after the last chunk of a streamed one) or, outside a
    request, when the app context ends.
    """
    replica = of(current_app)
    if replica is None:
        return session
    if has_request_context() and request.method not in _SAFE_METHODS:
        FALLBACKS.labels(reason="writing_request").inc()
        return session
    state = replica.state()
    if not state.usable:
        FALLBACKS.labels(reason=state.reason).inc()
        return session
    reader: Session | None = g.get("flowlet_replica_session")
    if reader is None:
        bind = replica.engine.execution_options(isolation_level="REPEATABLE READ")
        reader = g.flowlet_replica_session = Session(bind=bind, autoflush=False)
        if has_request_context():
            after_this_request(_close_when_sent)
    return reader


def _close_when_sent(response: Response) -> Response:
    # A streamed body reads after the app context has ended: close when the server is done.
    reader: Session | None = g.pop("flowlet_replica_session", None)
    if reader is not None:
        response.call_on_close(reader.close)
    return response


def _close_session(_exc: BaseException | None) -> None:
    reader: Session | None = g.pop("flowlet_replica_session", None)
    if reader is not None:
        reader.close()


def health(app: Flask) -> dict[str, Any]:
    """The replica for `/health/detailed`: used or skipped (and why), and its lag."""
    replica = of(app)
    if replica is None:
        return {"status": "not_configured", "reads": "primary"}
    state = replica.state()
    return {
        "status": "ok" if state.usable else state.reason,
        "reads": "replica" if state.usable else "primary",
        "lag_seconds": None if state.lag_seconds is None else round(state.lag_seconds, 3),
        "max_lag_seconds": replica.max_lag,
    }
