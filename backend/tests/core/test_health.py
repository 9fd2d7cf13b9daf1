"""Health, readiness, metrics, security headers and CORS."""

import pytest

from app import create_app
from tests.conftest import make_config

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_health_is_ok(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_detailed_health_reports_database_redis_queues_and_migration_head(client):
    response = client.get("/health/detailed")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    database = body["components"]["database"]
    assert database["status"] == "ok"
    assert database["migration_current"] == database["migration_head"]
    assert database["migration_head"]
    redis = body["components"]["redis"]
    assert redis["status"] == "ok"
    assert set(redis["queue_depths"]) == {"default", "sync", "notifications", "maintenance"}


def test_detailed_health_is_503_when_redis_is_down(pg_url):
    # Nothing listens on port 1: a stopped Redis, as the app sees it.
    app = create_app(make_config(pg_url, "redis://127.0.0.1:1/0"))
    response = app.test_client().get("/health/detailed")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["components"]["redis"]["status"] == "down"
    assert body["components"]["database"]["status"] == "ok"


def test_detailed_health_is_503_when_the_database_is_down(redis_url):
    app = create_app(make_config("postgresql://postgres@127.0.0.1:1/flowlet", redis_url))
    response = app.test_client().get("/health/detailed")
    assert response.status_code == 503
    assert response.get_json()["components"]["database"]["status"] == "down"
    assert response.get_json()["components"]["redis"]["status"] == "ok"


def _sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_are_prometheus_text_with_request_counts(client):
    sample = 'flowlet_http_requests_total{endpoint="/health",method="GET",status="200"}'
    before = _sample(client.get("/metrics").get_data(as_text=True), sample)
    client.get("/health")
    client.get("/health")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert _sample(text, sample) == before + 2
    assert "flowlet_http_request_duration_seconds_bucket" in text


def test_security_headers_on_api_responses(client):
    response = client.get("/api/v1/does-not-exist")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in response.headers  # only in production


def test_cors_allows_only_configured_origins(pg_url, redis_url):
    app = create_app(make_config(pg_url, redis_url, CORS_ORIGINS=["https://app.example.com"]))
    client = app.test_client()
    allowed = client.get("/api/v1/x", headers={"Origin": "https://app.example.com"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    denied = client.get("/api/v1/x", headers={"Origin": "https://evil.example.com"})
    assert "Access-Control-Allow-Origin" not in denied.headers


def test_openapi_document_and_swagger_ui(client):
    spec = client.get("/openapi.json")
    assert spec.status_code == 200
    document = spec.get_json()
    assert document["openapi"].startswith("3.")
    assert "/health" in document["paths"]
    assert {t["name"] for t in document["tags"]} >= {
        "auth",
        "accounts",
        "transactions",
        "cards",
        "compliance",
    }
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.get_data(as_text=True).lower()
