"""Staff network rules: officers and admins sign in and use their tokens only from
STAFF_ALLOWED_NETWORKS; the client address is the one behind the trusted proxy only."""

from __future__ import annotations

import pytest

from app import create_app
from app.core import uow
from tests.auth.helpers import Clock, audit_rows, bearer, login
from tests.auth.test_magic_link import _token
from tests.auth.test_mfa import code_at
from tests.conftest import make_config
from tests.factories import make_user

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

INSIDE = "10.250.3.4"
INSIDE_V6 = "2001:db8::7"
OUTSIDE = "198.51.100.7"
PROXY = "192.0.2.10"


@pytest.fixture(scope="module")
def staff_app(pg_url, redis_url):
    """One trusted proxy in front; staff allowed from 10.250.0.0/16 and 2001:db8::/32."""
    application = create_app(
        make_config(
            pg_url,
            redis_url,
            TRUSTED_PROXY_HOPS=1,
            STAFF_ALLOWED_NETWORKS="10.250.0.0/16, 2001:db8::/32",
        )
    )
    yield application
    with application.app_context():
        from app.core.extensions import db

        db.engine.dispose()


@pytest.fixture
def session(staff_app):
    from app.core.extensions import db

    with staff_app.app_context():
        yield db.session
        db.session.remove()


def _from(app, forwarded_for: str):
    """A client behind the proxy, which appends the address it saw to X-Forwarded-For."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = PROXY
    client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client


def _refusals(session, user) -> list:
    rows = audit_rows(session, action="auth.staff_network_refused", resource_id=str(user.public_id))
    return [row for row in rows if row.outcome == "failure"]


def _assert_refused(response):
    assert response.status_code == 403, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "network_not_allowed"
    assert error["request_id"]


@pytest.mark.parametrize("role", ["compliance_officer", "admin"])
def test_staff_inside_pass_outside_are_refused_at_login(staff_app, session, role):
    user = make_user(session, role=role)
    for address in (INSIDE, INSIDE_V6):
        inside = login(_from(staff_app, address), user.email)
        assert inside.status_code == 200, inside.get_json()
        headers = bearer(inside.get_json()["access_token"])
        assert _from(staff_app, address).get("/api/v1/auth/me", headers=headers).status_code == 200
    _assert_refused(login(_from(staff_app, OUTSIDE), user.email))
    refusals = _refusals(session, user)
    assert len(refusals) == 1
    assert refusals[0].ip == OUTSIDE
    assert refusals[0].changes == {"step": "password"}


def test_an_existing_staff_token_is_refused_outside_and_so_is_its_refresh(staff_app, session):
    user = make_user(session, role="compliance_officer")
    tokens = login(_from(staff_app, INSIDE), user.email).get_json()
    outside = _from(staff_app, OUTSIDE)
    _assert_refused(outside.get("/api/v1/auth/me", headers=bearer(tokens["access_token"])))
    _assert_refused(
        outside.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    )
    assert [row.changes["step"] for row in _refusals(session, user)] == ["token", "refresh"]
    assert {row.ip for row in _refusals(session, user)} == {OUTSIDE}
    # Back inside, the same tokens work: the refusal ended nothing.
    inside = _from(staff_app, INSIDE)
    assert inside.get("/api/v1/auth/me", headers=bearer(tokens["access_token"])).status_code == 200
    refreshed = inside.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200


def test_customers_are_not_affected(staff_app, session):
    user = make_user(session, role="customer")
    outside = _from(staff_app, OUTSIDE)
    tokens = login(outside, user.email).get_json()
    assert outside.get("/api/v1/auth/me", headers=bearer(tokens["access_token"])).status_code == 200
    refreshed = outside.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200
    assert _refusals(session, user) == []


def test_a_forged_forwarded_for_is_not_trusted_beyond_the_proxy(staff_app, session):
    user = make_user(session, role="admin")
    # The client claims an inside address; the one trusted proxy appends the real one.
    spoofed = _from(staff_app, f"{INSIDE}, {OUTSIDE}")
    _assert_refused(login(spoofed, user.email))
    assert _refusals(session, user)[-1].ip == OUTSIDE


def test_without_trusted_proxies_the_header_is_ignored(pg_url, redis_url):
    application = create_app(make_config(pg_url, redis_url, STAFF_ALLOWED_NETWORKS="10.250.0.0/16"))
    try:
        from app.core.extensions import db

        with application.app_context():
            email = make_user(db.session, role="admin").email
            db.session.remove()
        client = application.test_client()
        client.environ_base["REMOTE_ADDR"] = OUTSIDE
        client.environ_base["HTTP_X_FORWARDED_FOR"] = INSIDE
        _assert_refused(login(client, email))
        client.environ_base["REMOTE_ADDR"] = INSIDE
        client.environ_base["HTTP_X_FORWARDED_FOR"] = OUTSIDE
        assert login(client, email).status_code == 200
    finally:
        with application.app_context():
            db.engine.dispose()


def test_the_mfa_step_and_magic_links_are_checked_too(staff_app, session, monkeypatch):
    clock = Clock()
    monkeypatch.setattr("app.core.db.utcnow", clock)
    user = make_user(session, role="compliance_officer")
    inside = _from(staff_app, INSIDE)
    headers = bearer(login(inside, user.email).get_json()["access_token"])
    secret = inside.post("/api/v1/auth/2fa/setup", headers=headers).get_json()["secret"]
    enabled = inside.post(
        "/api/v1/auth/2fa/enable", json={"code": code_at(secret, clock.now)}, headers=headers
    )
    assert enabled.status_code == 200
    challenge = login(inside, user.email).get_json()
    clock.advance(seconds=30)
    _assert_refused(
        _from(staff_app, OUTSIDE).post(
            "/api/v1/auth/login/mfa",
            json={"mfa_token": challenge["mfa_token"], "code": code_at(secret, clock.now)},
        )
    )
    outside = _from(staff_app, OUTSIDE)
    assert outside.post("/api/v1/auth/magic-link", json={"email": user.email}).status_code == 202
    token = _token(session, user.email)
    _assert_refused(outside.post("/api/v1/auth/magic-link/confirm", json={"token": token}))
    assert [row.changes["step"] for row in _refusals(session, user)] == ["mfa", "magic_link"]
    uow.commit(session)


def test_a_malformed_network_setting_stops_the_app(pg_url, redis_url):
    with pytest.raises(RuntimeError, match="STAFF_ALLOWED_NETWORKS"):
        create_app(make_config(pg_url, redis_url, STAFF_ALLOWED_NETWORKS="10.0.0.0/33"))


def test_addresses_are_matched_by_family_and_mapped_ipv4_counts():
    from app.auth.networks import address_allowed, parse_networks

    nets = parse_networks("10.250.0.0/16, 2001:db8::/32")
    assert address_allowed("10.250.9.9", nets)
    assert address_allowed("::ffff:10.250.9.9", nets)  # IPv4 seen through an IPv6 socket
    assert address_allowed("2001:db8:1::1", nets)
    assert not address_allowed("10.251.0.1", nets)
    assert not address_allowed("2001:db9::1", nets)
    assert not address_allowed("not-an-address", nets)
    assert not address_allowed(None, nets)
    assert parse_networks("") == ()
