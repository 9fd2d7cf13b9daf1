"""Two gunicorn instances on one database and one Redis behave as one service: sessions,
revocation, step-up and rate limits hold across them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from app.core.extensions import db
from tests.factories import DEFAULT_PASSWORD, make_user
from tests.lease.instances import Instance, call, start_instance

AUTH = "/api/v1/auth"


@pytest.fixture(scope="module")
def pair(own_db: str, redis_url: str) -> Iterator[tuple[Instance, Instance]]:
    """Instances A and B; session checks are remembered as they are by default (5 s)."""
    a = start_instance(own_db, redis_url, RATELIMIT_LOGIN_PER_ACCOUNT="4 per 15 minutes")
    b = start_instance(own_db, redis_url, RATELIMIT_LOGIN_PER_ACCOUNT="4 per 15 minutes")
    yield a, b
    a.kill()
    b.kill()


def new_login(app: Flask) -> str:
    with app.app_context():
        email = make_user(db.session).email
        db.session.remove()
    return email


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_logout_on_one_instance_refuses_the_token_on_the_other_at_once(own_app, pair) -> None:
    a, b = pair
    status, tokens = call(
        a.port, "POST", f"{AUTH}/login", {"login": new_login(own_app), "password": DEFAULT_PASSWORD}
    )
    assert status == 200
    headers = bearer(tokens["access_token"])
    for _ in range(3):  # B has checked the session and remembers it as live
        assert call(b.port, "GET", f"{AUTH}/me", headers=headers)[0] == 200

    assert call(a.port, "POST", f"{AUTH}/logout", headers=headers)[0] == 204
    status, body = call(b.port, "GET", f"{AUTH}/me", headers=headers)
    assert (status, body["error"]["code"]) == (401, "token_revoked")
    refreshed = call(b.port, "POST", f"{AUTH}/refresh", {"refresh_token": tokens["refresh_token"]})
    assert refreshed[0] == 401


def test_a_spent_refresh_token_is_spent_on_both(own_app, pair) -> None:
    a, b = pair
    _, tokens = call(
        a.port, "POST", f"{AUTH}/login", {"login": new_login(own_app), "password": DEFAULT_PASSWORD}
    )
    status, rotated = call(
        b.port, "POST", f"{AUTH}/refresh", {"refresh_token": tokens["refresh_token"]}
    )
    assert status == 200
    # Replaying the spent one on A is theft: the whole family is revoked, on B too.
    assert (
        call(a.port, "POST", f"{AUTH}/refresh", {"refresh_token": tokens["refresh_token"]})[0]
        == 401
    )
    assert call(b.port, "GET", f"{AUTH}/me", headers=bearer(rotated["access_token"]))[0] == 401


def test_a_step_up_on_one_instance_counts_on_the_other(own_app, pair) -> None:
    a, b = pair
    login = new_login(own_app)
    _, tokens = call(
        a.port, "POST", f"{AUTH}/login", {"login": login, "password": DEFAULT_PASSWORD}
    )
    _, stale = call(b.port, "POST", f"{AUTH}/refresh", {"refresh_token": tokens["refresh_token"]})
    fresh_only = f"{AUTH}/2fa/disable"  # needs a fresh token; without 2FA it is a 4xx after that
    status, body = call(
        b.port, "POST", fresh_only, {"code": "000000"}, bearer(stale["access_token"])
    )
    assert (status, body["error"]["code"]) == (401, "fresh_token_required")

    status, stepped = call(
        a.port,
        "POST",
        f"{AUTH}/step-up",
        {"password": DEFAULT_PASSWORD},
        bearer(stale["access_token"]),
    )
    assert status == 200
    status, body = call(
        b.port, "POST", fresh_only, {"code": "000000"}, bearer(stepped["access_token"])
    )
    assert status != 401, body


def test_the_login_limit_counts_attempts_on_both_instances(own_app, pair) -> None:
    a, b = pair
    login = new_login(own_app)
    answers = [
        call(port, "POST", f"{AUTH}/login", {"login": login, "password": "Wrong-Password-0"})[0]
        for port in (a.port, b.port, a.port, b.port, a.port, b.port)
    ]
    assert answers[:4] == [401, 401, 401, 401]
    assert answers[4:] == [429, 429]  # the fifth, wherever it lands
