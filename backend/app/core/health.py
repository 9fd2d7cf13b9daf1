"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, Response, current_app, g, jsonify, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client import REGISTRY as DEFAULT_REGISTRY
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from app.core import replica
from app.core.api import Blueprint
from app.core.audit.sql import UNSEALED_SQL
from app.core.extensions import db
from app.core.lease import holder
from app.core.outbox import backlog
from app.core.queue import QUEUES, get_redis

blp = Blueprint("health", __name__, description="Health checks and metrics.")


class HealthSchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"example": "ok"})


class ComponentSchema(ma.Schema):
    """One dependency: `status` plus what was measured (latency, depths, backlog…)."""

    class Meta:
        unknown = ma.INCLUDE

    status = ma.fields.String(required=True)


class ComponentsSchema(ma.Schema):
    database = ma.fields.Nested(ComponentSchema, required=True)
    redis = ma.fields.Nested(ComponentSchema, required=True)
    outbox = ma.fields.Nested(ComponentSchema, required=True)
    scheduler = ma.fields.Nested(ComponentSchema, required=True)
    replica = ma.fields.Nested(ComponentSchema, required=True)


class ReadinessSchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"enum": ["ok", "degraded", "unavailable"]})
    components = ma.fields.Nested(ComponentsSchema, required=True)


REQUESTS = Counter("flowlet_http_requests_total", "HTTP requests", ["method", "endpoint", "status"])
LATENCY = Histogram(
    "flowlet_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


@blp.route("/health")
@blp.doc(security=[])
@blp.response(200, HealthSchema)
def health() -> Response:
    """Liveness: the process is up."""
    return jsonify(status="ok")


def _check_database() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with db.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
            current = MigrationContext.configure(conn).get_current_heads()
        script = ScriptDirectory(str(current_app.extensions["migrate"].directory))
        heads = script.get_heads()
        ok = set(current) == set(heads)
        return {
            "status": "ok" if ok else "degraded",
            "latency_ms": round((time.perf_counter() - started) * 1000, 2),
            "migration_current": sorted(current),
            "migration_head": sorted(heads),
        }
    except Exception as exc:
        return {"status": "down", "error": type(exc).__name__}


def _check_redis() -> dict[str, Any]:
    redis = get_redis()
    if redis is None:
        return {"status": "not_configured", "mode": "inline jobs, in-memory limits"}
    started = time.perf_counter()
    try:
        redis.ping()
        depths = {name: int(redis.llen(f"rq:queue:{name}")) for name in QUEUES}
        return {
            "status": "ok",
            "latency_ms": round((time.perf_counter() - started) * 1000, 2),
            "queue_depths": depths,
        }
    except Exception as exc:
        return {"status": "down", "error": type(exc).__name__}


def _check_outbox() -> dict[str, Any]:
    """Jobs not yet handed to RQ (`lagging`: Redis or the relay is down) and jobs not yet
    done (`degraded`: no worker is running them). Neither makes the API unready (requests
    still commit); alert on the ages."""
    try:
        result = backlog(db.session())
        db.session.rollback()
    except Exception as exc:
        db.session.rollback()
        return {"status": "unknown", "error": type(exc).__name__}
    config = current_app.config
    status = "ok"
    if result.oldest_age_seconds > config["OUTBOX_LAG_ALERT_SECONDS"]:
        status = "lagging"
    if result.oldest_undone_age_seconds > config["OUTBOX_UNDONE_ALERT_SECONDS"]:
        status = "degraded"
    return {
        "status": status,
        "backlog": result.pending,
        "oldest_age_seconds": result.oldest_age_seconds,
        "undone": result.undone,
        "oldest_undone_age_seconds": result.oldest_undone_age_seconds,
    }


def _check_scheduler() -> dict[str, Any]:
    """Which instance holds the scheduler lease and how long ago it renewed it (core.lease).

    `degraded` when the renewal is older than SCHEDULER_LEASE_STALE_SECONDS, `no_holder` when
    no scheduler holds it: the periodic jobs are not running. Neither makes the API unready.
    """
    if get_redis() is None or db.engine.dialect.name != "postgresql":
        return {"status": "not_configured"}
    try:
        with db.engine.connect() as conn:
            current = holder(conn)
    except Exception as exc:
        return {"status": "unknown", "error": type(exc).__name__}
    if current is None:
        return {"status": "no_holder"}
    stale = current_app.config["SCHEDULER_LEASE_STALE_SECONDS"]
    age = round(current.renewed_seconds_ago, 3)
    return {
        "status": "degraded" if age > stale else "ok",
        "holder": current.instance,
        "renewed_seconds_ago": age,
    }


@blp.route("/health/detailed")
@blp.doc(security=[])
@blp.response(200, ReadinessSchema)
@blp.alt_response(503, schema=ReadinessSchema, description="A dependency is down.")
def health_detailed() -> tuple[Response, int]:
    """Readiness: database, Redis, queue depths, outbox backlog, scheduler lease, migration
    head and replica.

    503 when the database or Redis is down. A lagging outbox, a stale scheduler lease or a
    lagging replica is reported, not fatal (reads the replica may not serve go to the primary);
    jobs not done in time make it `degraded` with 200: the API still serves and commits, it is
    the workers that need a look.
    """
    components = {"database": _check_database(), "redis": _check_redis()}
    healthy = all(c["status"] in {"ok", "not_configured"} for c in components.values())
    components["outbox"] = _check_outbox()
    components["scheduler"] = _check_scheduler()
    components["replica"] = replica.health(current_app)
    status = "ok" if healthy else "unavailable"
    if healthy and components["outbox"]["status"] == "degraded":
        status = "degraded"
    body = {"status": status, "components": components}
    return jsonify(body), (200 if healthy else 503)


@blp.route("/metrics")
@blp.doc(security=[])
@blp.doc(
    responses={
        "200": {
            "description": "Prometheus text exposition format.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    }
)
def metrics() -> Response:
    """Prometheus text format."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        # prometheus_client leaves this constructor unannotated.
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = DEFAULT_REGISTRY
    body = generate_latest(registry) + _scrape_time_metrics()
    return Response(body, mimetype=CONTENT_TYPE_LATEST)


def _scrape_time_metrics() -> bytes:
    """The gauges read at scrape time: the outbox and the audit log's unsealed tail from the
    database (two queries), the scheduler lease's age (one), the replica's last measured lag,
    the RQ queues' depths from Redis. A source that is down leaves its gauges out; the alerts
    on `up` and /health/detailed cover the outage itself."""
    families = [*_database_gauges(), *_lease_and_replica_gauges(), *_queue_gauges()]

    class _Collector:
        def collect(self) -> Iterator[Metric]:
            yield from families

    registry = CollectorRegistry()
    registry.register(_Collector())
    return generate_latest(registry)


def _gauge(name: str, documentation: str, value: float) -> Metric:
    return GaugeMetricFamily(name, documentation, value=value)


def _database_gauges() -> list[Metric]:
    try:
        result = backlog(db.session())
        unsealed = db.session.execute(sa.text(UNSEALED_SQL)).one()
        db.session.rollback()
    except Exception:
        db.session.rollback()
        return []
    return [
        _gauge("flowlet_outbox_backlog", "Outbox jobs not yet handed to RQ", result.pending),
        _gauge(
            "flowlet_outbox_oldest_age_seconds",
            "Age of the oldest outbox job not yet handed to RQ",
            result.oldest_age_seconds,
        ),
        _gauge("flowlet_outbox_undone", "Outbox jobs not yet done", result.undone),
        _gauge(
            "flowlet_outbox_oldest_undone_age_seconds",
            "Age of the oldest outbox job not yet done (pending or sent)",
            result.oldest_undone_age_seconds,
        ),
        _gauge("flowlet_audit_unsealed", "Committed audit records not yet sealed", unsealed.n),
        _gauge(
            "flowlet_audit_unsealed_oldest_age_seconds",
            "Age of the oldest committed audit record not yet sealed (0 when none waits)",
            _age_seconds(unsealed.oldest),
        ),
    ]


def _lease_and_replica_gauges() -> list[Metric]:
    families = []
    standby = replica.health(current_app)
    if standby.get("lag_seconds") is not None:
        families.append(
            _gauge(
                "flowlet_replica_lag_seconds",
                "How far the read replica's replay is behind (checked every REPLICA_CHECK_SECONDS)",
                standby["lag_seconds"],
            )
        )
    lease = _lease_age()
    if lease is not None:
        families.append(
            _gauge(
                "flowlet_scheduler_lease_age_seconds",
                "Seconds since the scheduler lease was renewed (+Inf when no scheduler holds it)",
                lease,
            )
        )
    return families


def _queue_gauges() -> list[Metric]:
    depths = _queue_depths()
    if depths is None:
        return []
    queue_depth = GaugeMetricFamily(
        "flowlet_queue_depth", "Jobs waiting in each RQ queue", labels=["queue"]
    )
    for name, depth in depths.items():
        queue_depth.add_metric([name], depth)
    return [queue_depth]


def _lease_age() -> float | None:
    """Seconds since the scheduler lease holder renewed; +Inf with no holder; None where
    there is no lease (SQLite, no Redis) or the database does not answer."""
    if get_redis() is None or db.engine.dialect.name != "postgresql":
        return None
    try:
        with db.engine.connect() as conn:
            current = holder(conn)
    except Exception:
        return None
    return float("inf") if current is None else round(current.renewed_seconds_ago, 3)


def _age_seconds(oldest: datetime | None) -> float:
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:  # SQLite drops the zone
        oldest = oldest.replace(tzinfo=UTC)
    return round(max((datetime.now(UTC) - oldest).total_seconds(), 0.0), 3)


def _queue_depths() -> dict[str, int] | None:
    redis = get_redis()
    if redis is None:
        return None
    try:
        return {name: int(redis.llen(f"rq:queue:{name}")) for name in QUEUES}
    except Exception:
        return None


def init_metrics(app: Flask) -> None:
    # The labelled series this app has touched, so a request skips `labels()` (its checks and
    # lock); prometheus_client hands out the same child for the same labels anyway.
    counters: dict[tuple[str, str, int], Counter] = {}
    timers: dict[tuple[str, str], Histogram] = {}

    @app.before_request
    def _start_timer() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def _record(response: Response) -> Response:
        rule = request.url_rule
        endpoint = rule.rule if rule else "<unmatched>"
        method, status = request.method, response.status_code
        counter = counters.get((method, endpoint, status))
        if counter is None:
            counter = REQUESTS.labels(method, endpoint, str(status))
            counters[(method, endpoint, status)] = counter
        counter.inc()
        started = getattr(g, "request_started", None)
        if started is not None:
            timer = timers.get((method, endpoint))
            if timer is None:
                timer = timers[(method, endpoint)] = LATENCY.labels(method, endpoint)
            timer.observe(time.perf_counter() - started)
        return response
