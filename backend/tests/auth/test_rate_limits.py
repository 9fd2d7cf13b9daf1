"""Rate limits on Redis: per IP and per login, 429 `rate_limited` with Retry-After."""

import pytest
import redis as redis_lib

from tests.auth.helpers import app_with, client_at, login, next_ip
from tests.conftest import unique_email

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def limited_app(pg_url, redis_url):
    """The app with tight login limits, counting on the test Redis (each test uses fresh IPs)."""
    yield from app_with(
        pg_url,
        redis_url,
        RATELIMIT_LOGIN_PER_IP="3 per minute",
        RATELIMIT_LOGIN_PER_ACCOUNT="4 per minute",
        RATELIMIT_AUTH_PER_IP="2 per minute",
    )


def assert_rate_limited(response):
    assert response.status_code == 429
    error = response.get_json()["error"]
    assert error["code"] == "rate_limited"
    assert error["request_id"] == response.headers["X-Request-ID"]
    assert 0 < int(response.headers["Retry-After"]) <= 60


def test_logins_from_one_ip_are_limited(limited_app, redis_url):
    ip = next_ip()
    client = client_at(limited_app, ip)
    for _ in range(3):
        response = login(client, unique_email("nobody"), "Whatever-Password-1")
        assert response.status_code == 401
        assert response.headers["X-RateLimit-Limit"]
        assert "X-RateLimit-Remaining" in response.headers
    assert_rate_limited(login(client, unique_email("nobody"), "Whatever-Password-1"))
    # Another address is not affected.
    other = client_at(limited_app, next_ip())
    assert login(other, unique_email("nobody"), "Whatever-Password-1").status_code == 401
    # The counters live in Redis.
    assert redis_lib.Redis.from_url(redis_url).keys(f"*/{ip}/auth.login*")


def test_logins_for_one_account_are_limited_across_ips(limited_app):
    target = unique_email("target")
    for _ in range(4):
        response = login(client_at(limited_app, next_ip()), target, "Whatever-Password-1")
        assert response.status_code == 401
    limited = login(client_at(limited_app, next_ip()), target.upper(), "Whatever-Password-1")
    assert_rate_limited(limited)
    # The alias field counts against the same login.
    alias = client_at(limited_app, next_ip()).post(
        "/api/v1/auth/login", json={"email": target, "password": "Whatever-Password-1"}
    )
    assert_rate_limited(alias)


def test_other_auth_endpoints_are_limited_per_ip(limited_app):
    client = client_at(limited_app, next_ip())
    for _ in range(2):
        response = client.post(
            "/api/v1/auth/password-reset/request", json={"email": unique_email()}
        )
        assert response.status_code == 202
    assert_rate_limited(
        client.post("/api/v1/auth/password-reset/request", json={"email": unique_email()})
    )
