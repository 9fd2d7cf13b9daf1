"""Refresh rotation and families, logout, revocation (checked in the database)."""

import pytest
from flask_jwt_extended import create_access_token

from app import create_app
from tests.auth.helpers import STRONG_PASSWORD, audit_rows, bearer, login
from tests.conftest import make_config
from tests.factories import DEFAULT_PASSWORD, auth_headers, login_tokens, make_user

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

DEAD_REDIS = "redis://127.0.0.1:1/0"


def refresh(client, token):
    return client.post("/api/v1/auth/refresh", json={"refresh_token": token})


def me(client, token):
    return client.get("/api/v1/auth/me", headers=bearer(token))


def test_refresh_rotates_and_the_old_token_is_spent(client, db_session):
    user = make_user(db_session)
    first = login(client, user.email).get_json()
    second = refresh(client, first["refresh_token"])
    assert second.status_code == 200
    second = second.get_json()
    assert second["refresh_token"] != first["refresh_token"]
    assert me(client, second["access_token"]).status_code == 200
    third = refresh(client, second["refresh_token"])
    assert third.status_code == 200


def test_a_spent_refresh_token_revokes_the_whole_family(client, db_session):
    user = make_user(db_session)
    first = login(client, user.email).get_json()
    rotated = refresh(client, first["refresh_token"]).get_json()

    reuse = refresh(client, first["refresh_token"])
    assert reuse.status_code == 401
    assert reuse.get_json()["error"]["code"] == "token_revoked"
    # Everything issued to the family is dead: the newest refresh token and its access token.
    assert refresh(client, rotated["refresh_token"]).get_json()["error"]["code"] == "token_revoked"
    refused = me(client, rotated["access_token"])
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"] == "token_revoked"
    assert me(client, first["access_token"]).status_code == 401
    # Other sessions of the same user live on.
    assert me(client, login(client, user.email).get_json()["access_token"]).status_code == 200
    assert audit_rows(db_session, action="auth.refresh_reuse")[-1].outcome == "failure"


def test_refresh_refuses_access_tokens_and_garbage(client, db_session):
    user = make_user(db_session)
    tokens = login(client, user.email).get_json()
    wrong_type = refresh(client, tokens["access_token"])
    assert wrong_type.status_code == 401
    assert wrong_type.get_json()["error"]["code"] == "invalid_token"
    assert refresh(client, "not-a-jwt").get_json()["error"]["code"] == "invalid_token"


def test_logout_revokes_the_access_token_at_once_and_its_family(client, db_session):
    user = make_user(db_session)
    tokens = login(client, user.email).get_json()
    logout = client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"]))
    assert logout.status_code == 204
    refused = me(client, tokens["access_token"])
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"] == "token_revoked"
    assert refresh(client, tokens["refresh_token"]).get_json()["error"]["code"] == "token_revoked"


@pytest.fixture
def app_without_redis(pg_url):
    """The same database, but Redis points where nothing listens."""
    application = create_app(
        make_config(pg_url, DEAD_REDIS, RATELIMIT_STORAGE_URI="memory://", RQ_INLINE=True)
    )
    yield application
    with application.app_context():
        from app.core.extensions import db

        db.engine.dispose()


def test_a_revoked_token_is_refused_while_redis_is_down(client, db_session, app_without_redis):
    user = make_user(db_session)
    down = app_without_redis.test_client()

    # Revoked with Redis up (cache written), checked with Redis down: refused.
    tokens = login(client, user.email).get_json()
    assert (
        client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"])).status_code
        == 204
    )
    refused = me(down, tokens["access_token"])
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"] == "token_revoked"

    # Revoked while Redis is down (nothing cached), checked by either app: refused.
    tokens = login(down, user.email).get_json()
    assert me(down, tokens["access_token"]).status_code == 200
    assert (
        down.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"])).status_code == 204
    )
    assert me(down, tokens["access_token"]).status_code == 401
    assert me(client, tokens["access_token"]).get_json()["error"]["code"] == "token_revoked"


def test_an_access_token_without_a_session_is_refused(client, app, db_session):
    user = make_user(db_session)
    with app.app_context():
        bare = create_access_token(identity=str(user.public_id))
    assert me(client, bare).status_code == 401


def test_a_token_of_another_users_session_is_refused(client, app, db_session):
    alice, mallory = make_user(db_session), make_user(db_session)
    alice_tokens = login_tokens(app, alice)
    from flask_jwt_extended import decode_token

    with app.app_context():
        sid = decode_token(alice_tokens.access_token)["sid"]
        forged = create_access_token(
            identity=str(mallory.public_id), additional_claims={"sid": sid}
        )
    assert me(client, forged).status_code == 401


def test_change_password_needs_a_fresh_token_and_revokes_other_sessions(client, app, db_session):
    user = make_user(db_session)
    other = login(client, user.email).get_json()
    stale = client.post(
        "/api/v1/auth/change-password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": STRONG_PASSWORD},
        headers=auth_headers(app, user),
    )
    assert stale.status_code == 401
    assert stale.get_json()["error"]["code"] == "fresh_token_required"

    current = login(client, user.email).get_json()
    wrong = client.post(
        "/api/v1/auth/change-password",
        json={"current_password": "Wrong-Password-123", "new_password": STRONG_PASSWORD},
        headers=bearer(current["access_token"]),
    )
    assert wrong.status_code == 401
    assert wrong.get_json()["error"]["code"] == "invalid_credentials"
    weak = client.post(
        "/api/v1/auth/change-password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": "password1234"},
        headers=bearer(current["access_token"]),
    )
    assert weak.status_code == 422 and weak.get_json()["error"]["details"]["new_password"]

    done = client.post(
        "/api/v1/auth/change-password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": STRONG_PASSWORD},
        headers=bearer(current["access_token"]),
    )
    assert done.status_code == 204
    assert me(client, current["access_token"]).status_code == 200
    assert me(client, other["access_token"]).get_json()["error"]["code"] == "token_revoked"
    assert refresh(client, other["refresh_token"]).status_code == 401
    assert login(client, user.email).status_code == 401
    assert login(client, user.email, STRONG_PASSWORD).status_code == 200
    db_session.expire_all()
    assert db_session.get(type(user), user.id).password_changed_at is not None


def test_refreshed_tokens_are_not_fresh_and_step_up_makes_one(client, db_session):
    user = make_user(db_session)
    first = login(client, user.email).get_json()
    refreshed = refresh(client, first["refresh_token"]).get_json()
    body = {"current_password": DEFAULT_PASSWORD, "new_password": STRONG_PASSWORD}
    stale = client.post(
        "/api/v1/auth/change-password", json=body, headers=bearer(refreshed["access_token"])
    )
    assert stale.get_json()["error"]["code"] == "fresh_token_required"

    wrong = client.post(
        "/api/v1/auth/step-up",
        json={"password": "Wrong-Password-123"},
        headers=bearer(refreshed["access_token"]),
    )
    assert wrong.status_code == 401 and wrong.get_json()["error"]["code"] == "invalid_credentials"
    stepped = client.post(
        "/api/v1/auth/step-up",
        json={"password": DEFAULT_PASSWORD},
        headers=bearer(refreshed["access_token"]),
    )
    assert stepped.status_code == 200
    fresh = stepped.get_json()
    assert set(fresh) == {"access_token", "refresh_token", "token_type", "expires_in", "user"}
    ok = client.post(
        "/api/v1/auth/change-password", json=body, headers=bearer(fresh["access_token"])
    )
    assert ok.status_code == 204
    # The step-up rotated the family: its new refresh token works, the one before is spent.
    assert refresh(client, fresh["refresh_token"]).status_code == 200
    assert audit_rows(db_session, action="auth.step_up")


def test_step_up_with_2fa_off_needs_the_password_not_a_code(client, app, db_session):
    user = make_user(db_session)
    response = client.post(
        "/api/v1/auth/step-up", json={"code": "123456"}, headers=auth_headers(app, user)
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["details"]["password"]


def test_concurrent_refreshes_of_one_token_let_exactly_one_through(app, db_session):
    """Two requests racing with the same refresh token: the row lock lets one rotate, the other
    sees a spent token."""
    import threading

    user = make_user(db_session)
    tokens = login_tokens(app, user)
    barrier = threading.Barrier(2)
    results: list[tuple[int, str | None]] = []

    def race():
        client = app.test_client()
        barrier.wait()
        response = refresh(client, tokens.refresh_token)
        error = (response.get_json() or {}).get("error") or {}
        results.append((response.status_code, error.get("code")))

    threads = [threading.Thread(target=race) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results, key=lambda r: r[0]) == [(200, None), (401, "token_revoked")]


def test_a_remembered_token_is_refused_once_it_expires(pg_url, redis_url, db_session):
    """The claims of a verified token are reused for later requests, but never past `exp`."""
    import time
    from datetime import timedelta

    application = create_app(
        make_config(pg_url, redis_url, JWT_ACCESS_TOKEN_EXPIRES=timedelta(seconds=1))
    )
    client = application.test_client()
    user = make_user(db_session)
    token = login_tokens(application, user).access_token
    assert me(client, token).status_code == 200  # verified once, remembered
    deadline = time.monotonic() + 3
    while (response := me(client, token)).status_code == 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert response.get_json()["error"]["code"] == "token_expired"
    assert me(client, token + "x").get_json()["error"]["code"] == "invalid_token"
    with application.app_context():
        from app.core.extensions import db

        db.engine.dispose()


def test_verified_tokens_are_bounded_and_kept_until_they_expire():
    import time

    from app.core.jwt_manager import VerifiedTokens

    verified = VerifiedTokens(size=2)
    now = time.time()
    verified.put("a", {"exp": now + 60, "sub": "a"})
    verified.put("b", {"exp": now + 60, "sub": "b"})
    verified.put("c", {"exp": now + 60, "sub": "c"})
    assert verified.get("a") is None  # the oldest went first
    assert verified.get("c")["sub"] == "c"
    verified.get("c")["sub"] = "changed"  # a caller's copy
    assert verified.get("c")["sub"] == "c"
    verified.put("old", {"exp": now - 1, "sub": "old"})
    assert verified.get("old") is None
    verified.put("forever", {"sub": "no exp"})
    assert verified.get("forever") is None  # without an expiry: checked every time
    lenient = VerifiedTokens(leeway=5)
    lenient.put("late", {"exp": now - 1})
    assert lenient.get("late") is not None  # inside the leeway, as PyJWT decides
