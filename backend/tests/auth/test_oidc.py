"""Single sign-on with OpenID Connect, against real providers started on 127.0.0.1.

Staff sign in through the bank's provider (groups → roles); customers through a social one,
only with an identity linked by the account's owner. The code flow uses PKCE, state, nonce and a
browser binding; the web app gets a one-time code, never a token in a URL.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import sqlalchemy as sa

from app.auth.models import AuthSession, ExternalIdentity, OidcLogin, User
from app.auth.privacy import _erase_linked_sign_ins, _linked_sign_ins
from app.config import ConfigError, ProductionConfig, parse_group_roles
from app.core import uow
from tests.auth.helpers import audit_rows, bearer, login
from tests.auth.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, new_key
from tests.auth.test_mfa import code_at, enroll
from tests.conftest import unique_email
from tests.factories import auth_headers, make_user

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

GROUPS = {"flowlet-compliance": "compliance_officer", "flowlet-admins": "admin"}


@pytest.fixture
def staff_idp(app, monkeypatch):
    with Provider() as idp:
        monkeypatch.setitem(app.config, "OIDC_STAFF_ISSUER", idp.issuer)
        monkeypatch.setitem(app.config, "OIDC_STAFF_CLIENT_ID", CLIENT_ID)
        monkeypatch.setitem(app.config, "OIDC_STAFF_CLIENT_SECRET", CLIENT_SECRET)
        monkeypatch.setitem(app.config, "OIDC_STAFF_GROUP_ROLES", GROUPS)
        yield idp


@pytest.fixture
def google_idp(app, monkeypatch):
    with Provider() as idp:
        monkeypatch.setitem(app.config, "OIDC_GOOGLE_ISSUER", idp.issuer)
        monkeypatch.setitem(app.config, "OIDC_GOOGLE_CLIENT_ID", CLIENT_ID)
        monkeypatch.setitem(app.config, "OIDC_GOOGLE_CLIENT_SECRET", CLIENT_SECRET)
        yield idp


def _to_provider(response) -> str:
    """Follow the 302 from /authorize to the provider; returns the provider's redirect back."""
    assert response.status_code == 302, response.get_json()
    answer = requests.get(response.headers["Location"], allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    return answer.headers["Location"]


def _callback(client, back: str, **extra):
    parts = urlsplit(back)
    query = parts.query + ("&" + "&".join(f"{k}={v}" for k, v in extra.items()) if extra else "")
    return client.get(f"{parts.path}?{query}")


def _code(response) -> str:
    assert response.status_code == 302, response.get_json()
    location = response.headers["Location"]
    assert "/sign-in/sso#code=" in location
    assert "?" not in location  # nothing in the query: the code lives in the fragment
    return location.split("#code=", 1)[1]


def _sign_in(client, provider: str):
    back = _to_provider(client.get(f"/api/v1/auth/oidc/{provider}/authorize"))
    return _callback(client, back)


def _exchange(client, code: str):
    return client.post("/api/v1/auth/oidc/exchange", json={"code": code})


def _tokens(client, provider: str) -> dict:
    response = _exchange(client, _code(_sign_in(client, provider)))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert set(error) == {"code", "message", "details", "request_id"}
    if code is not None:
        assert error["code"] == code
    return error


# --- providers and the authorization request ---------------------------------------------------


def test_providers_lists_the_configured_ones_only(client, app, monkeypatch):
    for name in ("STAFF", "GOOGLE", "MICROSOFT", "GITHUB"):
        monkeypatch.setitem(app.config, f"OIDC_{name}_CLIENT_ID", None)
    assert client.get("/api/v1/auth/oidc/providers").get_json() == {"providers": []}
    monkeypatch.setitem(app.config, "OIDC_GOOGLE_CLIENT_ID", "x")
    assert client.get("/api/v1/auth/oidc/providers").get_json() == {"providers": ["google"]}


def test_authorize_sends_pkce_state_nonce_and_binds_the_browser(client, staff_idp, db_session):
    response = client.get("/api/v1/auth/oidc/staff/authorize")
    assert response.status_code == 302
    url = urlsplit(response.headers["Location"])
    assert f"{url.scheme}://{url.netloc}" == staff_idp.issuer and url.path == "/authorize"
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 32 and len(query["nonce"]) >= 32
    assert "groups" in query["scope"].split() and query["client_id"] == CLIENT_ID
    cookie = response.headers["Set-Cookie"]
    assert "flowlet_oidc=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Path=/api/v1/auth/oidc" in cookie
    # Only digests are kept; the verifier is sealed.
    row = db_session.scalar(sa.select(OidcLogin).order_by(OidcLogin.id.desc()))
    assert query["state"] not in (row.state_hash, row.nonce_hash)
    assert "code_verifier" not in query and row.code_verifier.count(":") == 1


def test_an_unknown_or_unconfigured_provider_is_not_found(client, staff_idp, app, monkeypatch):
    _error(client.get("/api/v1/auth/oidc/yahoo/authorize"), 404, "not_found")
    monkeypatch.setitem(app.config, "OIDC_GITHUB_CLIENT_ID", None)
    _error(client.get("/api/v1/auth/oidc/github/authorize"), 404, "not_found")
    _error(client.get("/api/v1/auth/oidc/github/callback?state=x&code=y"), 404, "not_found")


# --- staff ------------------------------------------------------------------------------------


def test_staff_sign_in_maps_groups_to_roles_and_is_audited(client, staff_idp, db_session):
    person = staff_idp.set_user(email=unique_email("staff"), groups=["flowlet-compliance", "x"])
    tokens = _tokens(client, "staff")
    assert tokens["token_type"] == "Bearer" and tokens["user"]["roles"] == ["compliance_officer"]
    assert tokens["user"]["email"] == person["email"]
    user = db_session.scalar(sa.select(User).where(User.email == person["email"]))
    assert user.sso_only is True
    identity = db_session.scalar(
        sa.select(ExternalIdentity).where(ExternalIdentity.user_id == user.id)
    )
    assert (identity.provider, identity.subject) == ("staff", person["sub"])
    me = client.get("/api/v1/auth/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    uid = str(user.public_id)
    assert [
        r.outcome for r in audit_rows(db_session, action="auth.oidc_provisioned", resource_id=uid)
    ] == ["success"]
    assert audit_rows(db_session, action="auth.oidc_sign_in", resource_id=uid)
    logins = audit_rows(db_session, action="auth.login", resource_id=uid)
    assert logins[-1].changes["method"] == "oidc:staff"
    # The provider's refresh token is kept with the session, sealed.
    auth_session = db_session.scalar(sa.select(AuthSession).where(AuthSession.user_id == user.id))
    assert auth_session.oidc_provider == "staff"
    assert auth_session.oidc_refresh_token and auth_session.oidc_refresh_token.count(":") == 1
    assert all(t not in auth_session.oidc_refresh_token for t in staff_idp.refresh_tokens)


def test_the_next_sign_in_follows_the_groups(client, staff_idp, db_session):
    person = staff_idp.set_user(email=unique_email("staff"), groups=["flowlet-compliance"])
    _tokens(client, "staff")
    staff_idp.user["groups"] = ["flowlet-admins", "flowlet-compliance"]
    assert _tokens(client, "staff")["user"]["roles"] == ["admin", "compliance_officer"]
    user = db_session.scalar(sa.select(User).where(User.email == person["email"]))
    assert audit_rows(db_session, action="auth.oidc_roles", resource_id=str(user.public_id))


def test_a_staff_member_whose_groups_map_to_no_role_is_refused(client, staff_idp, db_session):
    person = staff_idp.set_user(email=unique_email("staff"), groups=["marketing"])
    _error(_sign_in(client, "staff"), 403, "no_role")
    assert db_session.scalar(sa.select(User).where(User.email == person["email"])) is None
    refused = audit_rows(db_session, action="auth.oidc_sign_in")
    assert refused[-1].outcome == "failure" and refused[-1].changes["reason"] == "no_role"


def test_a_staff_identity_whose_email_is_taken_does_not_sign_in_as_its_owner(
    client, staff_idp, db_session
):
    owner = make_user(db_session, role="admin")
    staff_idp.set_user(email=owner.email, groups=["flowlet-admins"])
    _error(_sign_in(client, "staff"), 403, "sso_not_linked")
    assert (
        db_session.scalar(
            sa.select(sa.func.count())
            .select_from(ExternalIdentity)
            .where(ExternalIdentity.user_id == owner.id)
        )
        == 0
    )


def test_an_sso_only_account_refuses_its_password(client, db_session):
    user = make_user(db_session, role="compliance_officer", sso_only=True)
    _error(login(client, user.email), 401, "invalid_credentials")
    refused = audit_rows(db_session, action="auth.login", resource_id=str(user.public_id))
    assert refused[-1].outcome == "failure" and refused[-1].changes["reason"] == "sso_only"
    db_session.expire_all()
    assert db_session.get(User, user.id).failed_login_count == 0


def test_an_sso_only_account_cannot_step_up_with_a_password(client, app, db_session):
    user = make_user(db_session, role="admin", sso_only=True)
    response = client.post(
        "/api/v1/auth/step-up",
        json={"password": "Sturdy-Ledger-Pass-42"},
        headers=auth_headers(app, user),
    )
    _error(response, 401, "invalid_credentials")


def test_a_user_disabled_at_the_provider_loses_the_session_at_the_next_refresh(
    client, staff_idp, db_session
):
    person = staff_idp.set_user(email=unique_email("staff"), groups=["flowlet-admins"])
    tokens = _tokens(client, "staff")
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200  # the provider still vouches (and rotated its token)
    assert staff_idp.token_requests[-1]["grant_type"] == "refresh_token"
    staff_idp.disable(person["sub"])
    again = client.post(
        "/api/v1/auth/refresh", json={"refresh_token": refreshed.get_json()["refresh_token"]}
    )
    _error(again, 401, "token_revoked")
    access = refreshed.get_json()["access_token"]
    assert client.get("/api/v1/auth/me", headers=bearer(access)).status_code == 401
    ended = audit_rows(db_session, action="auth.sso_session_ended")
    assert ended[-1].outcome == "failure"


def test_a_provider_that_does_not_answer_does_not_end_the_session(
    client, staff_idp, app, monkeypatch
):
    staff_idp.set_user(email=unique_email("staff"), groups=["flowlet-admins"])
    tokens = _tokens(client, "staff")
    staff_idp.__exit__()
    app.extensions["flowlet_oidc_cache"].entries.clear()
    down = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    _error(down, 503, "service_unavailable")
    assert client.get("/api/v1/auth/me", headers=bearer(tokens["access_token"])).status_code == 200


# --- the flow's protections --------------------------------------------------------------------


def test_a_wrong_state_is_refused(client, staff_idp, db_session):
    staff_idp.set_user(email=unique_email("staff"), groups=["flowlet-admins"])
    back = _to_provider(client.get("/api/v1/auth/oidc/staff/authorize"))
    tampered = back.replace("state=", "state=x")
    _error(_callback(client, tampered), 400, "invalid_state")
    refused = audit_rows(db_session, action="auth.oidc_sign_in")
    assert refused[-1].changes["reason"] == "unknown_state"


def test_a_callback_is_answered_once(client, staff_idp):
    staff_idp.set_user(email=unique_email("staff"), groups=["flowlet-admins"])
    back = _to_provider(client.get("/api/v1/auth/oidc/staff/authorize"))
    _code(_callback(client, back))
    _error(_callback(client, back), 400, "invalid_state")


def test_the_callback_in_another_browser_is_refused(client, app, staff_idp):
    staff_idp.set_user(email=unique_email("staff"), groups=["flowlet-admins"])
    back = _to_provider(client.get("/api/v1/auth/oidc/staff/authorize"))
    other = app.test_client()
    _error(_callback(other, back), 400, "invalid_state")


def test_a_replayed_nonce_is_refused(client, staff_idp, db_session):
    staff_idp.set_user(email=unique_email("staff"), groups=["flowlet-admins"])
    first = client.get("/api/v1/auth/oidc/staff/authorize")
    old_nonce = parse_qs(urlsplit(first.headers["Location"]).query)["nonce"][0]
    _code(_callback(client, _to_provider(first)))
    staff_idp.next_claims = {"nonce": old_nonce}  # the provider (or a thief) replays it
    _error(_sign_in(client, "staff"), 401, "sso_failed")
    assert audit_rows(db_session, action="auth.oidc_sign_in")[-1].changes["reason"] == (
        "nonce_mismatch"
    )


def test_an_expired_id_token_is_refused(client, staff_idp):
    staff_idp.set_user(email=unique_email("staff"), groups=["flowlet-admins"])
    staff_idp.next_claims = {"exp": 1_000_000_000, "iat": 999_999_000}
    _error(_sign_in(client, "staff"), 401, "sso_failed")


@pytest.mark.parametrize("claim", [{"aud": "someone-else"}, {"iss": "http://127.0.0.1:1"}])
def test_an_id_token_for_another_audience_or_issuer_is_refused(client, staff_idp, claim):
    staff_idp.set_user(email=unique_email("staff"), groups=["flowlet-admins"])
    staff_idp.next_claims = claim
    _error(_sign_in(client, "staff"), 401, "sso_failed")


def test_rotated_keys_are_fetched_again_and_unknown_keys_refused(client, staff_idp):
    staff_idp.set_user(email=unique_email("staff"), groups=["flowlet-admins"])
    _tokens(client, "staff")
    fetches = staff_idp.jwks_fetches
    _tokens(client, "staff")
    assert staff_idp.jwks_fetches == fetches  # kept while the key id is known
    staff_idp.rotate()
    _tokens(client, "staff")
    assert staff_idp.jwks_fetches == fetches + 1
    staff_idp.sign_with = new_key()  # a key the provider never published
    _error(_sign_in(client, "staff"), 401, "sso_failed")


def test_the_provider_refusing_or_erring_is_refused(client, staff_idp):
    staff_idp.set_user(email=unique_email("staff"), groups=["flowlet-admins"])
    back = _to_provider(client.get("/api/v1/auth/oidc/staff/authorize"))
    state = parse_qs(urlsplit(back).query)["state"][0]
    answer = client.get(
        f"/api/v1/auth/oidc/staff/callback?state={state}&error=access_denied"
        "&error_description=The+user+said+no"
    )
    _error(answer, 401, "sso_failed")


def test_a_code_the_provider_does_not_know_is_refused(client, staff_idp):
    staff_idp.set_user(email=unique_email("staff"), groups=["flowlet-admins"])
    back = _to_provider(client.get("/api/v1/auth/oidc/staff/authorize"))
    _error(_callback(client, back.replace("code=", "code=forged")), 401, "sso_failed")


@pytest.mark.parametrize(
    "query", ["", "?code=abc", "?state=", f"?state={'x' * 600}", "?state=abc&code="]
)
def test_callback_bad_input_is_refused_in_the_envelope(client, staff_idp, query):
    response = client.get(f"/api/v1/auth/oidc/staff/callback{query}")
    _error(response, 422, "validation_error")


# --- the exchange ------------------------------------------------------------------------------


def test_the_exchange_code_is_single_use_and_bound_to_the_browser(client, app, staff_idp):
    staff_idp.set_user(email=unique_email("staff"), groups=["flowlet-admins"])
    code = _code(_sign_in(client, "staff"))
    other = app.test_client()
    _error(_exchange(other, code), 401, "invalid_token")  # the other browser spends nothing…
    code = _code(_sign_in(client, "staff"))
    assert _exchange(client, code).status_code == 200
    _error(_exchange(client, code), 401, "invalid_token")  # …and a code is spent once


def test_an_exchange_code_expires(client, staff_idp, clock):
    staff_idp.set_user(email=unique_email("staff"), groups=["flowlet-admins"])
    code = _code(_sign_in(client, "staff"))
    clock.advance(seconds=61)
    _error(_exchange(client, code), 401, "invalid_token")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"code": ""},
        {"code": "short"},
        {"code": 12},
        {"code": "x" * 200},
        {"code": "a" * 40, "extra": 1},
    ],
)
def test_exchange_bad_input_is_refused_in_the_envelope(client, body):
    _error(client.post("/api/v1/auth/oidc/exchange", json=body), 422, "validation_error")


def test_an_unknown_exchange_code_is_refused(client):
    _error(_exchange(client, "a" * 43), 401, "invalid_token")


# --- customers: social sign-in and linking ----------------------------------------------------


def _link(client, app, user, provider: str = "google", *, fresh: bool = True):
    return client.post(
        f"/api/v1/auth/oidc/{provider}/link", headers=auth_headers(app, user, fresh=fresh)
    )


def test_a_customer_links_google_then_signs_in_with_it(client, app, google_idp, db_session):
    customer = make_user(db_session)
    person = google_idp.set_user(email=unique_email("gmail"))
    started = _link(client, app, customer)
    assert started.status_code == 200
    assert "flowlet_oidc=" in started.headers["Set-Cookie"]
    url = started.get_json()["authorization_url"]
    answer = requests.get(url, allow_redirects=False, timeout=5)
    linked = _callback(client, answer.headers["Location"])
    assert linked.status_code == 302
    assert linked.headers["Location"].endswith("/security#linked=google")
    listed = client.get("/api/v1/auth/oidc/identities", headers=auth_headers(app, customer))
    items = listed.get_json()["items"]
    assert [(i["provider"], i["email"]) for i in items] == [("google", person["email"])]
    assert audit_rows(db_session, action="auth.oidc_linked", resource_id=str(customer.public_id))

    browser = app.test_client()
    tokens = _tokens(browser, "google")
    assert tokens["user"]["id"] == str(customer.public_id)
    assert tokens["user"]["roles"] == ["customer"]
    # A customer session without a refresh check ability still refreshes (the provider allows).
    refreshed = browser.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200


def test_linking_needs_a_fresh_sign_in(client, app, google_idp, db_session):
    customer = make_user(db_session)
    _error(client.post("/api/v1/auth/oidc/google/link"), 401)
    assert _link(client, app, customer, fresh=False).status_code == 401
    _error(_link(client, app, customer, "yahoo"), 404, "not_found")


def test_an_email_match_alone_does_not_sign_in(client, google_idp, db_session):
    customer = make_user(db_session)
    google_idp.set_user(email=customer.email)  # the provider says it is the same address
    _error(_sign_in(client, "google"), 403, "sso_not_linked")
    assert db_session.scalar(sa.select(OidcLogin).where(OidcLogin.user_id == customer.id)) is None
    refused = audit_rows(db_session, action="auth.oidc_sign_in")
    assert refused[-1].changes["reason"] == "email_matches_user"
    # An unknown address gets the same answer: the reply says nothing about who has an account.
    google_idp.set_user(email=unique_email("nobody"))
    _error(_sign_in(client, "google"), 403, "sso_not_linked")


def test_an_identity_linked_to_one_account_cannot_be_linked_to_another(
    client, app, google_idp, db_session
):
    first, second = make_user(db_session), make_user(db_session)
    google_idp.set_user(email=unique_email("shared"))
    for user, status in ((first, 302), (second, 409)):
        url = _link(client, app, user).get_json()["authorization_url"]
        back = requests.get(url, allow_redirects=False, timeout=5).headers["Location"]
        assert _callback(client, back).status_code == status


def test_unlinking(client, app, google_idp, db_session):
    customer = make_user(db_session)
    google_idp.set_user(email=unique_email("gmail"))
    url = _link(client, app, customer).get_json()["authorization_url"]
    _callback(client, requests.get(url, allow_redirects=False, timeout=5).headers["Location"])
    identity = db_session.scalar(
        sa.select(ExternalIdentity).where(ExternalIdentity.user_id == customer.id)
    )
    path = f"/api/v1/auth/oidc/identities/{identity.public_id}"
    assert client.delete(path, headers=auth_headers(app, customer)).status_code == 401  # not fresh
    assert client.delete(path, headers=auth_headers(app, customer, fresh=True)).status_code == 204
    _error(client.delete(path, headers=auth_headers(app, customer, fresh=True)), 404, "not_found")
    _error(_sign_in(client, "google"), 403, "sso_not_linked")
    assert audit_rows(db_session, action="auth.oidc_unlinked", resource_id=str(customer.public_id))


def test_a_browser_is_shown_a_refusal_by_the_web_app(client, google_idp, db_session):
    google_idp.set_user(email=unique_email("nobody"))
    back = _to_provider(client.get("/api/v1/auth/oidc/google/authorize"))
    parts = urlsplit(back)
    answer = client.get(f"{parts.path}?{parts.query}", headers={"Accept": "text/html"})
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith("/sign-in/sso#error=sso_not_linked")
    refused = audit_rows(db_session, action="auth.oidc_sign_in")
    assert refused[-1].outcome == "failure"


def _linked_customer(client, app, google_idp, db_session):
    customer = make_user(db_session)
    google_idp.set_user(email=unique_email("gmail"))
    url = _link(client, app, customer).get_json()["authorization_url"]
    _callback(client, requests.get(url, allow_redirects=False, timeout=5).headers["Location"])
    return customer


def test_two_step_verification_still_asks_for_its_code(client, app, google_idp, db_session, clock):
    customer = _linked_customer(client, app, google_idp, db_session)
    secret, _ = enroll(client, app, customer, clock)
    code = _code(_sign_in(client, "google"))
    asked = _error(_exchange(client, code), 401, "mfa_required")
    assert asked["details"] == {"methods": ["totp", "backup_code"]}
    wrong = client.post("/api/v1/auth/oidc/exchange", json={"code": code, "mfa_code": "000000"})
    _error(wrong, 401, "invalid_mfa_code")
    db_session.expire_all()
    assert db_session.get(User, customer.id).failed_login_count == 1  # counted like any other
    clock.advance(seconds=30)
    right = client.post(
        "/api/v1/auth/oidc/exchange", json={"code": code, "mfa_code": code_at(secret, clock.now)}
    )
    assert right.status_code == 200, right.get_json()
    logins = audit_rows(db_session, action="auth.login", resource_id=str(customer.public_id))
    assert logins[-1].changes["method"] == "oidc:google+totp"
    _error(_exchange(client, code), 401, "invalid_token")  # spent


def test_wrong_codes_at_the_sso_step_lock_the_account(client, app, google_idp, db_session, clock):
    customer = _linked_customer(client, app, google_idp, db_session)
    enroll(client, app, customer, clock)
    code = _code(_sign_in(client, "google"))
    statuses = [
        client.post(
            "/api/v1/auth/oidc/exchange", json={"code": code, "mfa_code": "000000"}
        ).status_code
        for _ in range(app.config["LOCKOUT_THRESHOLD"] + 1)
    ]
    assert statuses[-1] == 423 and statuses[0] == 401


def test_a_staff_session_without_a_provider_refresh_token_ends_at_its_refresh(client, staff_idp):
    staff_idp.set_user(email=unique_email("staff"), groups=["flowlet-admins"])
    staff_idp.issue_refresh = False
    tokens = _tokens(client, "staff")
    again = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    _error(again, 401, "token_revoked")


def test_production_refuses_a_provider_without_a_secret_or_https(monkeypatch):
    for name, value in {
        "SECRET_KEY": "s" * 40,
        "JWT_SECRET_KEY": "j" * 40,
        "DATA_ENCRYPTION_KEYS": "k1:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY=",
        "DATABASE_URL": "postgresql://x@127.0.0.1/x",
        "CARD_ENCRYPTION_KEYS": "c1:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY=",
        "CARD_PAN_FINGERPRINT_KEY": "f" * 40,
        "CARD_CVV_KEY": "v" * 40,
        "OIDC_STAFF_CLIENT_ID": "flowlet",
        "OIDC_STAFF_ISSUER": "http://idp.bank.example",
        "OIDC_STAFF_CLIENT_SECRET": "",
    }.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match="OIDC_STAFF_CLIENT_SECRET"):
        ProductionConfig().validate()
    monkeypatch.setenv("OIDC_STAFF_CLIENT_SECRET", "a-real-client-secret-0001")
    with pytest.raises(ConfigError, match="OIDC_STAFF_ISSUER"):
        ProductionConfig().validate()
    monkeypatch.setenv("OIDC_STAFF_ISSUER", "https://idp.bank.example")
    ProductionConfig().validate()
    assert parse_group_roles("a=admin, b = compliance_officer") == {
        "a": "admin",
        "b": "compliance_officer",
    }
    for bad in ("a", "a=customer", "=admin"):
        with pytest.raises(ConfigError):
            parse_group_roles(bad)


def test_erasure_removes_linked_sign_ins(client, app, google_idp, db_session):
    customer = _linked_customer(client, app, google_idp, db_session)
    exported = _linked_sign_ins(db_session, customer)
    assert [row["provider"] for row in exported] == ["google"]
    _erase_linked_sign_ins(db_session, customer, "pseudo-1")
    uow.commit(db_session)
    linked = sa.select(ExternalIdentity).where(ExternalIdentity.user_id == customer.id)
    assert db_session.scalar(linked) is None
    _error(_sign_in(client, "google"), 403, "sso_not_linked")


def test_a_staff_member_removed_from_every_group_is_out_at_the_next_refresh(
    client, staff_idp, db_session
):
    staff_idp.set_user(email=unique_email("staff"), groups=["flowlet-admins"])
    tokens = _tokens(client, "staff")
    staff_idp.user["groups"] = ["marketing"]
    again = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    _error(again, 401, "token_revoked")
