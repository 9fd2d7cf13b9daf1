"""TOTP 2FA: enrolment, login challenge, replay refusal, backup codes, step-up, disable."""

from datetime import timedelta

import pyotp
import pytest
import sqlalchemy as sa

from app.auth.models import BackupCode, User
from app.core import crypto
from tests.auth.helpers import audit_rows, bearer, login
from tests.factories import DEFAULT_PASSWORD, auth_headers, make_user

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def code_at(secret: str, when) -> str:
    return pyotp.TOTP(secret).at(when)


def enroll(client, app, user, clock) -> tuple[str, list[str]]:
    headers = auth_headers(app, user)
    setup = client.post("/api/v1/auth/2fa/setup", headers=headers)
    assert setup.status_code == 200
    secret = setup.get_json()["secret"]
    enabled = client.post(
        "/api/v1/auth/2fa/enable", json={"code": code_at(secret, clock.now)}, headers=headers
    )
    assert enabled.status_code == 200
    return secret, enabled.get_json()["backup_codes"]


def mfa_login(client, email, code):
    challenge = login(client, email).get_json()
    return client.post(
        "/api/v1/auth/login/mfa", json={"mfa_token": challenge["mfa_token"], "code": code}
    )


def test_setup_returns_secret_uri_and_qr_svg(client, app, db_session):
    user = make_user(db_session)
    response = client.post("/api/v1/auth/2fa/setup", headers=auth_headers(app, user))
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"secret", "otpauth_uri", "qr_svg"}
    assert body["otpauth_uri"].startswith("otpauth://totp/")
    assert f"secret={body['secret']}" in body["otpauth_uri"]
    assert body["qr_svg"].lstrip().startswith("<svg")
    # Not on until confirmed with a code.
    me = client.get("/api/v1/auth/me", headers=auth_headers(app, user)).get_json()
    assert me["mfa_enabled"] is False


def test_enable_needs_a_valid_code_and_returns_ten_backup_codes(client, app, db_session, clock):
    user = make_user(db_session)
    headers = auth_headers(app, user)
    secret = client.post("/api/v1/auth/2fa/setup", headers=headers).get_json()["secret"]
    wrong = client.post("/api/v1/auth/2fa/enable", json={"code": "000000"}, headers=headers)
    assert wrong.status_code == 401
    assert wrong.get_json()["error"]["code"] == "invalid_mfa_code"

    ok = client.post(
        "/api/v1/auth/2fa/enable", json={"code": code_at(secret, clock.now)}, headers=headers
    )
    assert ok.status_code == 200
    codes = ok.get_json()["backup_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10

    db_session.expire_all()
    stored = db_session.get(User, user.id)
    assert stored.mfa_enabled is True and stored.mfa_changed_at is not None
    # Sealed at rest with a key id; never the secret in clear.
    assert secret not in stored.totp_secret
    assert crypto.key_id(stored.totp_secret) == "dev"
    with app.app_context():
        opened = crypto.decrypt_str(stored.totp_secret, aad=f"totp:{user.public_id}".encode())
    assert opened == secret
    hashes = db_session.scalars(
        sa.select(BackupCode.code_hash).where(BackupCode.user_id == user.id)
    )
    assert not set(codes) & set(hashes)
    assert audit_rows(db_session, action="auth.2fa_enabled", resource_id=str(user.public_id))


def test_login_with_2fa_needs_the_second_step(client, app, db_session, clock):
    user = make_user(db_session)
    secret, _ = enroll(client, app, user, clock)

    challenge = login(client, user.email)
    assert challenge.status_code == 200
    body = challenge.get_json()
    assert body["mfa_required"] is True
    assert body["methods"] == ["totp", "backup_code"]
    assert "access_token" not in body
    # The MFA token is not an access token.
    assert client.get("/api/v1/auth/me", headers=bearer(body["mfa_token"])).status_code == 401

    clock.advance(seconds=30)
    wrong = client.post(
        "/api/v1/auth/login/mfa", json={"mfa_token": body["mfa_token"], "code": "123456"}
    )
    assert wrong.status_code == 401
    assert wrong.get_json()["error"]["code"] == "invalid_mfa_code"
    done = client.post(
        "/api/v1/auth/login/mfa",
        json={"mfa_token": body["mfa_token"], "code": code_at(secret, clock.now)},
    )
    assert done.status_code == 200
    me = client.get("/api/v1/auth/me", headers=bearer(done.get_json()["access_token"]))
    assert me.status_code == 200
    # The MFA token was spent.
    clock.advance(seconds=30)
    again = client.post(
        "/api/v1/auth/login/mfa",
        json={"mfa_token": body["mfa_token"], "code": code_at(secret, clock.now)},
    )
    assert again.status_code == 401
    assert again.get_json()["error"]["code"] == "invalid_token"


def test_a_totp_code_cannot_be_replayed_within_its_window(client, app, db_session, clock):
    user = make_user(db_session)
    secret, _ = enroll(client, app, user, clock)
    clock.advance(seconds=30)
    code = code_at(secret, clock.now)
    assert mfa_login(client, user.email, code).status_code == 200
    replay = mfa_login(client, user.email, code)
    assert replay.status_code == 401
    assert replay.get_json()["error"]["code"] == "invalid_mfa_code"
    # An older code of the window is refused too; the next step's code works.
    assert (
        mfa_login(
            client, user.email, code_at(secret, clock.now - timedelta(seconds=30))
        ).status_code
        == 401
    )
    clock.advance(seconds=30)
    assert mfa_login(client, user.email, code_at(secret, clock.now)).status_code == 200


def test_the_mfa_token_expires(client, app, db_session, clock):
    user = make_user(db_session)
    secret, _ = enroll(client, app, user, clock)
    token = login(client, user.email).get_json()["mfa_token"]
    clock.advance(seconds=app.config["MFA_TOKEN_SECONDS"] + 30)
    late = client.post(
        "/api/v1/auth/login/mfa", json={"mfa_token": token, "code": code_at(secret, clock.now)}
    )
    assert late.status_code == 401
    assert late.get_json()["error"]["code"] == "invalid_token"


def test_a_backup_code_works_once(client, app, db_session, clock):
    user = make_user(db_session)
    _, codes = enroll(client, app, user, clock)
    assert mfa_login(client, user.email, codes[0].upper()).status_code == 200
    reused = mfa_login(client, user.email, codes[0])
    assert reused.status_code == 401
    assert reused.get_json()["error"]["code"] == "invalid_mfa_code"
    assert mfa_login(client, user.email, codes[1]).status_code == 200
    rows = audit_rows(db_session, action="auth.login", resource_id=str(user.public_id))
    assert rows[-1].changes["method"] == "password+backup_code"


def test_wrong_codes_count_towards_the_lockout(client, app, db_session, clock):
    user = make_user(db_session)
    enroll(client, app, user, clock)
    token = login(client, user.email).get_json()["mfa_token"]
    for _ in range(4):
        response = client.post(
            "/api/v1/auth/login/mfa", json={"mfa_token": token, "code": "000000"}
        )
        assert response.status_code == 401
    locked = client.post("/api/v1/auth/login/mfa", json={"mfa_token": token, "code": "000000"})
    assert locked.status_code == 423
    assert locked.get_json()["error"]["code"] == "account_locked"


def test_step_up_with_2fa_needs_a_code(client, app, db_session, clock):
    user = make_user(db_session)
    secret, _ = enroll(client, app, user, clock)
    headers = auth_headers(app, user)
    with_password = client.post(
        "/api/v1/auth/step-up", json={"password": DEFAULT_PASSWORD}, headers=headers
    )
    assert with_password.status_code == 422
    clock.advance(seconds=30)
    stepped = client.post(
        "/api/v1/auth/step-up", json={"code": code_at(secret, clock.now)}, headers=headers
    )
    assert stepped.status_code == 200


def test_disable_needs_a_fresh_token_password_and_code(client, app, db_session, clock):
    user = make_user(db_session)
    secret, _ = enroll(client, app, user, clock)
    clock.advance(seconds=30)
    body = {"password": DEFAULT_PASSWORD, "code": code_at(secret, clock.now)}
    stale = client.post("/api/v1/auth/2fa/disable", json=body, headers=auth_headers(app, user))
    assert stale.status_code == 401
    assert stale.get_json()["error"]["code"] == "fresh_token_required"

    fresh = auth_headers(app, user, fresh=True)
    wrong = client.post(
        "/api/v1/auth/2fa/disable", json={**body, "password": "Wrong-Password-99"}, headers=fresh
    )
    assert wrong.status_code == 401 and wrong.get_json()["error"]["code"] == "invalid_credentials"
    assert client.post("/api/v1/auth/2fa/disable", json=body, headers=fresh).status_code == 204

    tokens = login(client, user.email).get_json()
    assert "access_token" in tokens and "mfa_required" not in tokens
    db_session.expire_all()
    stored = db_session.get(User, user.id)
    assert stored.totp_secret is None and stored.mfa_changed_at is not None
    assert not list(db_session.scalars(sa.select(BackupCode).where(BackupCode.user_id == user.id)))
