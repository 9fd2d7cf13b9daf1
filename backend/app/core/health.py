"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
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

from app.core.api import Blueprint
from app.core.extensions import db
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


@blp.route("/health/detailed")
@blp.doc(security=[])
@blp.response(200, ReadinessSchema)
@blp.alt_response(503, schema=ReadinessSchema, description="A dependency is down.")
def health_detailed() -> tuple[Response, int]:
    """Readiness: database, Redis, queue depths, outbox backlog and migration head.

    503 when the database or Redis is down. Jobs not done in time make it `degraded` with
    200: the API still serves and commits, it is the workers that need a look.
    """
    components = {"database": _check_database(), "redis": _check_redis()}
    healthy = all(c["status"] in {"ok", "not_configured"} for c in components.values())
    components["outbox"] = _check_outbox()
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
    return Response(generate_latest(registry) + _outbox_metrics(), mimetype=CONTENT_TYPE_LATEST)


def _outbox_metrics() -> bytes:
    """The outbox gauges, read from the database at scrape time (one query)."""
    try:
        result = backlog(db.session())
        db.session.rollback()
    except Exception:
        db.session.rollback()
        return b""

    class _Collector:
        def collect(self) -> Iterator[Metric]:
            yield GaugeMetricFamily(
                "flowlet_outbox_backlog", "Outbox jobs not yet handed to RQ", value=result.pending
            )
            yield GaugeMetricFamily(
                "flowlet_outbox_oldest_age_seconds",
                "Age of the oldest outbox job not yet handed to RQ",
                value=result.oldest_age_seconds,
            )
            yield GaugeMetricFamily(
                "flowlet_outbox_undone", "Outbox jobs not yet done", value=result.undone
            )
            yield GaugeMetricFamily(
                "flowlet_outbox_oldest_undone_age_seconds",
                "Age of the oldest outbox job not yet done (pending or sent)",
                value=result.oldest_undone_age_seconds,
            )

    registry = CollectorRegistry()
    registry.register(_Collector())
    return generate_latest(registry)


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
