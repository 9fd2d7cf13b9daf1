"""Passkeys (WebAuthn) with a software authenticator: register, list, remove, sign in, the
second factor, step-up; the counter, the origin and the relying party checked."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.auth.models import Passkey, User, WebauthnChallenge
from tests.auth.helpers import audit_rows, bearer, login
from tests.auth.passkey_helpers import BASE, login_options, passkey_login, register_passkey
from tests.auth.soft_authenticator import UP, SoftAuthenticator
from tests.auth.test_mfa import enroll
from tests.factories import auth_headers, make_user

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_register_list_and_remove_a_passkey(client, app, db_session):
    user = make_user(db_session)
    _, passkey = register_passkey(client, app, user, name="Work laptop")
    assert set(passkey) == {"id", "name", "created_at", "last_used_at"}
    assert passkey["name"] == "Work laptop" and passkey["last_used_at"] is None
    listed = client.get(BASE, headers=auth_headers(app, user)).get_json()
    assert [item["id"] for item in listed["items"]] == [passkey["id"]]
    stored = db_session.scalar(sa.select(Passkey).where(Passkey.user_id == user.id))
    assert len(stored.public_key) > 0 and stored.sign_count == 0
    assert audit_rows(db_session, action="auth.passkey_registered", resource_id=passkey["id"])
    # Removing needs a fresh token.
    stale = client.delete(f"{BASE}/{passkey['id']}", headers=auth_headers(app, user))
    assert stale.status_code == 401
    assert stale.get_json()["error"]["code"] == "fresh_token_required"
    other = make_user(db_session)
    foreign = client.delete(f"{BASE}/{passkey['id']}", headers=auth_headers(app, other, fresh=True))
    assert foreign.status_code == 404
    gone = client.delete(f"{BASE}/{passkey['id']}", headers=auth_headers(app, user, fresh=True))
    assert gone.status_code == 204
    assert client.get(BASE, headers=auth_headers(app, user)).get_json()["items"] == []
    assert audit_rows(db_session, action="auth.passkey_removed", resource_id=passkey["id"])


def test_registration_needs_a_fresh_token_and_its_own_challenge(client, app, db_session):
    user = make_user(db_session)
    stale = client.post(f"{BASE}/register/options", headers=auth_headers(app, user))
    assert stale.status_code == 401
    headers = auth_headers(app, user, fresh=True)
    options = client.post(f"{BASE}/register/options", headers=headers).get_json()
    assert options["rp"]["id"] == "localhost"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    credential = SoftAuthenticator().register(options)
    wrong_origin = client.post(
        f"{BASE}/register",
        json={
            "credential": SoftAuthenticator().register(options, origin="https://evil.example"),
            "name": "x",
        },
        headers=headers,
    )
    assert wrong_origin.status_code == 422
    # The challenge was spent by the refused attempt: the right answer is now too late.
    again = client.post(
        f"{BASE}/register", json={"credential": credential, "name": "x"}, headers=headers
    )
    assert again.status_code == 422
    assert "credential" in again.get_json()["error"]["details"]


def test_sign_in_with_a_passkey_gives_tokens(client, app, db_session):
    user = make_user(db_session)
    authenticator, _ = register_passkey(client, app, user)
    response = passkey_login(client, authenticator)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["user"]["id"] == str(user.public_id)
    me = client.get("/api/v1/auth/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    db_session.expire_all()
    stored = db_session.scalar(sa.select(Passkey).where(Passkey.user_id == user.id))
    assert stored.sign_count == 1 and stored.last_used_at is not None
    logins = audit_rows(db_session, action="auth.login", resource_id=str(user.public_id))
    assert logins[-1].changes["method"] == "passkey" and logins[-1].outcome == "success"


def test_a_sign_in_challenge_is_good_once(client, app, db_session):
    user = make_user(db_session)
    authenticator, _ = register_passkey(client, app, user)
    options = login_options(client)
    first = client.post(f"{BASE}/login", json={"credential": authenticator.assert_(options)})
    assert first.status_code == 200
    replay = client.post(f"{BASE}/login", json={"credential": authenticator.assert_(options)})
    assert replay.status_code == 401
    assert replay.get_json()["error"]["code"] == "invalid_credentials"
    rows = db_session.scalars(
        sa.select(WebauthnChallenge).where(WebauthnChallenge.purpose == "login")
    ).all()
    assert all(len(row.challenge_hash) == 64 for row in rows)  # hashes only


def test_unknown_passkey_is_refused(client, app, db_session):
    stranger = SoftAuthenticator()
    response = passkey_login(client, stranger)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_credentials"


def test_wrong_origin_or_relying_party_is_refused_and_counted(client, app, db_session):
    user = make_user(db_session)
    authenticator, _ = register_passkey(client, app, user)
    for bad in ({"origin": "https://evil.example"}, {"rp_id": "evil.example"}):
        response = passkey_login(client, authenticator, **bad)
        assert response.status_code == 401, bad
    db_session.expire_all()
    assert db_session.get(User, user.id).failed_login_count == 2
    reasons = [
        row.changes["reason"]
        for row in audit_rows(db_session, action="auth.login", resource_id=str(user.public_id))
        if row.outcome == "failure"
    ]
    assert reasons == ["wrong_origin", "wrong_rp_id"]
    # The right answer resets the count.
    assert passkey_login(client, authenticator).status_code == 200
    db_session.expire_all()
    assert db_session.get(User, user.id).failed_login_count == 0


def test_user_verification_is_required(client, app, db_session):
    user = make_user(db_session)
    authenticator, _ = register_passkey(client, app, user)
    response = passkey_login(client, authenticator, flags=UP)
    assert response.status_code == 401


def test_a_counter_that_goes_back_is_refused_and_audited(client, app, db_session):
    user = make_user(db_session)
    authenticator, _ = register_passkey(client, app, user)
    assert passkey_login(client, authenticator, counter=5).status_code == 200
    clone = passkey_login(client, authenticator, counter=5)
    assert clone.status_code == 401
    older = passkey_login(client, authenticator, counter=3)
    assert older.status_code == 401
    regressed = audit_rows(
        db_session, action="auth.passkey_counter_regressed", resource_id=str(user.public_id)
    )
    assert len(regressed) == 2 and all(row.outcome == "failure" for row in regressed)
    db_session.expire_all()
    assert db_session.get(User, user.id).failed_login_count == 2
    stored = db_session.scalar(sa.select(Passkey).where(Passkey.user_id == user.id))
    assert stored.sign_count == 5
    assert passkey_login(client, authenticator, counter=6).status_code == 200


def test_passkey_as_the_second_factor_after_a_password(client, app, db_session, clock):
    user = make_user(db_session)
    enroll(client, app, user, clock)
    authenticator, _ = register_passkey(client, app, user)
    challenge = login(client, user.email).get_json()
    assert challenge["mfa_required"] is True
    assert challenge["methods"] == ["totp", "backup_code", "passkey"]
    # Someone else's passkey is no second factor for this user.
    other = make_user(db_session)
    other_key, _ = register_passkey(client, app, other)
    foreign = client.post(
        "/api/v1/auth/login/mfa",
        json={
            "mfa_token": challenge["mfa_token"],
            "credential": other_key.assert_(login_options(client)),
        },
    )
    assert foreign.status_code == 401
    assert foreign.get_json()["error"]["code"] == "invalid_mfa_code"
    done = client.post(
        "/api/v1/auth/login/mfa",
        json={
            "mfa_token": challenge["mfa_token"],
            "credential": authenticator.assert_(login_options(client)),
        },
    )
    assert done.status_code == 200, done.get_json()
    logins = audit_rows(db_session, action="auth.login", resource_id=str(user.public_id))
    assert logins[-1].changes["method"] == "password+passkey"
    both = client.post(
        "/api/v1/auth/login/mfa",
        json={"mfa_token": "x", "code": "123456", "credential": {"id": "a"}},
    )
    assert both.status_code == 422


def test_step_up_with_a_passkey_gives_a_fresh_token(client, app, db_session):
    user = make_user(db_session)
    authenticator, passkey = register_passkey(client, app, user)
    headers = auth_headers(app, user)
    assert client.delete(f"{BASE}/{passkey['id']}", headers=headers).status_code == 401
    options = client.post(f"{BASE}/step-up/options", headers=headers)
    assert options.status_code == 200
    assert [c["id"] for c in options.get_json()["allowCredentials"]] == [
        passkey_id_b64(db_session, user)
    ]
    stepped = client.post(
        f"{BASE}/step-up",
        json={"credential": authenticator.assert_(options.get_json())},
        headers=headers,
    )
    assert stepped.status_code == 200, stepped.get_json()
    fresh = bearer(stepped.get_json()["access_token"])
    assert client.delete(f"{BASE}/{passkey['id']}", headers=fresh).status_code == 204
    # A sign-in challenge is no step-up challenge.
    other, _ = register_passkey(client, app, user, name="Phone")
    wrong_purpose = client.post(
        f"{BASE}/step-up",
        json={"credential": other.assert_(login_options(client))},
        headers=auth_headers(app, user),
    )
    assert wrong_purpose.status_code == 401


def passkey_id_b64(session, user) -> str:
    from tests.auth.soft_authenticator import b64url

    stored = session.scalar(sa.select(Passkey).where(Passkey.user_id == user.id))
    return b64url(stored.credential_id)


def test_malformed_credentials_are_refused(client, app, db_session):
    response = client.post(f"{BASE}/login", json={"credential": {"id": "x"}})
    assert response.status_code == 422
    response = client.post(
        f"{BASE}/login",
        json={"credential": {"id": "x", "rawId": "x", "type": "public-key", "response": {}}},
    )
    assert response.status_code == 401


def test_expired_challenges_are_purged(client, app, db_session, clock):
    from app.auth.tasks import purge_webauthn_challenges

    login_options(client)
    clock.advance(seconds=app.config["WEBAUTHN_CHALLENGE_SECONDS"] + 3601)
    fresh = login_options(client)
    assert purge_webauthn_challenges() >= 1
    db_session.expire_all()
    left = db_session.scalars(sa.select(WebauthnChallenge.expires_at)).all()
    assert left and all(expiry > clock.now for expiry in left)
    assert fresh["challenge"]
