"""Login: e-mail or username, same answer for unknown and wrong, rehash, lockout, audit."""

import statistics
import time

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from app.auth.models import User
from tests.auth.helpers import audit_rows, login
from tests.conftest import unique_email
from tests.factories import DEFAULT_PASSWORD, make_user

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def retry_after(response) -> int:
    """The lock's remaining seconds: exact in the body, and in Retry-After (which the rate
    limiter re-renders against the wall clock, so it may read one second less)."""
    seconds = response.get_json()["error"]["details"]["retry_after"]
    assert seconds - 1 <= int(response.headers["Retry-After"]) <= seconds
    return seconds


def test_login_by_email_returns_tokens(client, db_session):
    user = make_user(db_session)
    response = login(client, user.email.upper())
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in", "user"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["user"]["id"] == str(user.public_id)
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.get_json()["email"] == user.email


def test_login_by_username_and_by_alias_fields(client, db_session):
    name = "u" + unique_email()[5:17]
    user = make_user(db_session, username=name)
    assert login(client, name).status_code == 200
    alias = {"username": name, "password": DEFAULT_PASSWORD}
    assert client.post("/api/v1/auth/login", json=alias).status_code == 200
    alias = {"email": user.email, "password": DEFAULT_PASSWORD}
    assert client.post("/api/v1/auth/login", json=alias).status_code == 200
    both = {"email": user.email, "login": name, "password": DEFAULT_PASSWORD}
    assert client.post("/api/v1/auth/login", json=both).status_code == 422


def test_unknown_user_and_wrong_password_get_the_same_answer(client, db_session):
    user = make_user(db_session)
    wrong = login(client, user.email, "Not-The-Right-Pass-1")
    unknown = login(client, unique_email("ghost"), "Not-The-Right-Pass-1")
    assert wrong.status_code == unknown.status_code == 401
    strip = lambda r: {k: v for k, v in r.get_json()["error"].items() if k != "request_id"}  # noqa: E731
    assert strip(wrong) == strip(unknown)
    assert strip(wrong)["code"] == "invalid_credentials"


def test_unknown_user_costs_about_as_much_time_as_a_wrong_password(client, db_session):
    user = make_user(db_session)

    def timed(login_name):
        started = time.perf_counter()
        assert login(client, login_name, "Not-The-Right-Pass-1").status_code == 401
        return time.perf_counter() - started

    # Interleave so load on the machine hits both alike; stay under the lockout threshold.
    wrong, unknown = [], []
    for _ in range(4):
        wrong.append(timed(user.email))
        unknown.append(timed(unique_email("ghost")))
    ratio = statistics.median(unknown) / statistics.median(wrong)
    assert 0.5 <= ratio <= 2.0, (wrong, unknown)


def test_failed_and_successful_logins_are_audited_with_ip_and_user_agent(client, db_session):
    user = make_user(db_session)
    ip = client.environ_base["REMOTE_ADDR"]
    assert login(client, user.email, "Not-The-Right-Pass-1").status_code == 401
    assert login(client, user.email).status_code == 200
    rows = audit_rows(db_session, action="auth.login", resource_id=str(user.public_id))
    assert [row.outcome for row in rows] == ["failure", "success"]
    for row in rows:
        assert row.ip == ip
        assert row.user_agent == "FlowletTest/1.0 (pytest)"
    assert rows[0].changes["reason"] == "wrong_password"
    assert rows[1].actor_id == str(user.public_id)


def test_a_hash_with_old_parameters_is_upgraded_at_login(client, db_session):
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    user = make_user(db_session, password_hash=weak.hash(DEFAULT_PASSWORD))
    old_hash = user.password_hash
    assert login(client, user.email).status_code == 200
    db_session.expire_all()
    stored = db_session.get(User, user.id).password_hash
    assert stored != old_hash
    assert stored.startswith("$argon2id$") and "m=8192" not in stored
    assert login(client, user.email).status_code == 200


def test_five_failures_lock_the_account_and_the_lock_doubles(
    client, db_session, app, clock, monkeypatch
):
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN_PER_ACCOUNT", "100 per minute")
    user = make_user(db_session)
    for _ in range(4):
        response = login(client, user.email, "Not-The-Right-Pass-1")
        assert response.status_code == 401
    fifth = login(client, user.email, "Not-The-Right-Pass-1")
    assert fifth.status_code == 423
    assert fifth.get_json()["error"]["code"] == "account_locked"
    assert retry_after(fifth) == 900

    # Even the right password is refused while locked; Retry-After counts down.
    clock.advance(minutes=14)
    locked = login(client, user.email)
    assert locked.status_code == 423
    assert retry_after(locked) == 60

    clock.advance(minutes=1, seconds=1)
    assert login(client, user.email).status_code == 200

    # Success reset the counters: four more failures are not yet a lockout.
    for _ in range(4):
        assert login(client, user.email, "Not-The-Right-Pass-1").status_code == 401
    # A second lockout without a success in between lasts twice as long.
    relock = login(client, user.email, "Not-The-Right-Pass-1")
    assert relock.status_code == 423 and retry_after(relock) == 900
    clock.advance(minutes=15, seconds=1)
    for _ in range(5):
        response = login(client, user.email, "Not-The-Right-Pass-1")
    assert response.status_code == 423
    assert retry_after(response) == 1800

    rows = audit_rows(db_session, action="auth.lockout", resource_id=str(user.public_id))
    assert [row.changes["locked_seconds"] for row in rows] == [900, 900, 1800]
    assert all(row.ip == client.environ_base["REMOTE_ADDR"] for row in rows)


def test_an_admin_unlock_ends_a_lockout_and_is_audited(client, db_session, app, clock):
    admin = make_user(db_session, role="admin")
    user = make_user(db_session)
    for _ in range(5):
        response = login(client, user.email, "Not-The-Right-Pass-1")
    assert response.status_code == 423
    from tests.factories import auth_headers

    unlock = client.post(
        f"/api/v1/admin/users/{user.public_id}/unlock", headers=auth_headers(app, admin)
    )
    assert unlock.status_code == 200
    assert unlock.get_json()["status"] == "active"
    assert login(client, user.email).status_code == 200
    rows = audit_rows(db_session, action="admin.user_unlocked", resource_id=str(user.public_id))
    assert rows and rows[-1].actor_id == str(admin.public_id)
    db_session.expire_all()
    assert db_session.scalar(sa.select(User.locked_until).where(User.id == user.id)) is None
