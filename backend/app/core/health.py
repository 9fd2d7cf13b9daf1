"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import os
import time

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

from app.core.api import Blueprint

blp = Blueprint("health", __name__, description="Health checks and metrics.")

REQUESTS = Counter("flowlet_http_requests_total", "HTTP requests", ["method", "endpoint", "status"])
LATENCY = Histogram(
    "flowlet_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
JOBS = Counter("flowlet_jobs_total", "Background jobs by outcome", ["job", "outcome"])


@blp.route("/health")
@blp.doc(security=[])
def health():
    """Liveness: the process is up."""
    return jsonify(status="ok")


def _check_database() -> dict:
    from app.extensions import db

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


def _check_redis() -> dict:
    from app.core.queue import QUEUES, get_redis

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


@blp.route("/health/detailed")
@blp.doc(security=[])
def health_detailed():
    """Readiness: database, Redis, queue depths and migration head; 503 when one is down."""
    components = {"database": _check_database(), "redis": _check_redis()}
    healthy = all(c["status"] in {"ok", "not_configured"} for c in components.values())
    body = {"status": "ok" if healthy else "unavailable", "components": components}
    return jsonify(body), (200 if healthy else 503)


@blp.route("/metrics")
@blp.doc(security=[])
def metrics():
    """Prometheus text format."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = DEFAULT_REGISTRY
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def init_metrics(app: Flask) -> None:
    @app.before_request
    def _start_timer() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def _record(response):
        endpoint = request.url_rule.rule if request.url_rule else "<unmatched>"
        REQUESTS.labels(request.method, endpoint, str(response.status_code)).inc()
        started = getattr(g, "request_started", None)
        if started is not None:
            LATENCY.labels(request.method, endpoint).observe(time.perf_counter() - started)
        return response
