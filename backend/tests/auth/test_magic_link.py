"""Magic sign-in links: always 202, one e-mail through the outbox, single use within the TTL,
only on the browser that asked, rate limited, never a strong factor."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.auth.models import EmailOutbox, MagicLink
from app.core import crypto
from tests.auth.helpers import app_with, audit_rows, bearer, client_at, next_ip
from tests.auth.test_mfa import code_at, enroll
from tests.auth.test_rate_limits import assert_rate_limited
from tests.conftest import unique_email
from tests.factories import DEFAULT_PASSWORD, make_user

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

REQUEST = "/api/v1/auth/magic-link"
CONFIRM = "/api/v1/auth/magic-link/confirm"


def _mails(db_session, address: str) -> list[EmailOutbox]:
    db_session.expire_all()
    return list(
        db_session.scalars(
            sa.select(EmailOutbox)
            .where(EmailOutbox.to_address == address, EmailOutbox.kind == "magic_link")
            .order_by(EmailOutbox.id)
        )
    )


def _token(db_session, address: str) -> str:
    body = crypto.decrypt_str(_mails(db_session, address)[-1].body_encrypted, aad=b"email_outbox")
    # The token travels in the fragment (#token=…), never to a server in a URL.
    assert "/sign-in/link#token=" in body
    return re.search(r"#token=([A-Za-z0-9_.\-]+)", body).group(1)


def _ask(client, address: str):
    return client.post(REQUEST, json={"email": address})


def _confirm(client, token: str):
    return client.post(CONFIRM, json={"token": token})


def _refusals(db_session, user, reason: str) -> list:
    rows = audit_rows(db_session, action="auth.magic_link_refused", resource_id=str(user.public_id))
    return [row for row in rows if row.outcome == "failure" and reason in str(row.changes)]


def test_always_202_and_one_mail_for_a_known_address(client, app, db_session):
    user = make_user(db_session)
    known = _ask(client, user.email)
    unknown_address = unique_email("nobody")
    unknown = _ask(client, unknown_address)
    assert known.status_code == unknown.status_code == 202
    assert known.get_json() == unknown.get_json()
    # Both set a binding cookie of the same shape: the answer does not tell them apart.
    for response in (known, unknown):
        cookie = response.headers["Set-Cookie"]
        assert cookie.startswith("flowlet_ml=")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert "Path=/api/v1/auth/magic-link" in cookie
    assert len(_mails(db_session, user.email)) == 1
    assert _mails(db_session, unknown_address) == []
    assert audit_rows(
        db_session, action="auth.magic_link_requested", resource_id=str(user.public_id)
    )


def test_the_link_signs_in_once_with_tokens_that_are_not_fresh(client, app, db_session):
    user = make_user(db_session)
    assert _ask(client, user.email).status_code == 202
    token = _token(db_session, user.email)
    stored = db_session.scalar(sa.select(MagicLink).where(MagicLink.user_id == user.id))
    assert token not in (stored.token_hash, stored.browser_hash)  # only hashes are kept
    signed_in = _confirm(client, token)
    assert signed_in.status_code == 200, signed_in.get_json()
    body = signed_in.get_json()
    assert body["token_type"] == "Bearer" and body["user"]["email"] == user.email
    headers = bearer(body["access_token"])
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    # Not a strong factor: a fresh-token endpoint refuses the token.
    change = client.post(
        "/api/v1/auth/change-password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": "Quiet-Harbor-Lantern-74"},
        headers=headers,
    )
    assert change.status_code == 401
    assert change.get_json()["error"]["code"] == "fresh_token_required"
    logins = audit_rows(db_session, action="auth.login", resource_id=str(user.public_id))
    assert logins[-1].changes["method"] == "magic_link"

    again = _confirm(client, token)
    assert again.status_code == 422
    assert again.get_json()["error"]["code"] == "validation_error"
    assert "token" in again.get_json()["error"]["details"]
    assert _refusals(db_session, user, "used")


def test_a_late_link_is_refused(client, app, db_session, clock):
    user = make_user(db_session)
    _ask(client, user.email)
    token = _token(db_session, user.email)
    clock.advance(seconds=app.config["MAGIC_LINK_TTL_SECONDS"] + 1)
    late = _confirm(client, token)
    assert late.status_code == 422
    assert late.get_json()["error"]["code"] == "validation_error"
    assert _refusals(db_session, user, "expired")


def test_another_browser_is_refused_and_the_link_stays_good_where_it_was_asked(
    client, app, db_session
):
    user = make_user(db_session)
    _ask(client, user.email)
    token = _token(db_session, user.email)
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = next_ip()
    refused = _confirm(other, token)
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "magic_link_other_browser"
    assert "request_id" in refused.get_json()["error"]
    # A forged binding cookie is refused too.
    other.set_cookie("flowlet_ml", "not-the-secret", path="/api/v1/auth/magic-link")
    assert _confirm(other, token).status_code == 403
    assert len(_refusals(db_session, user, "other_browser")) == 2
    assert _confirm(client, token).status_code == 200


def test_a_new_request_spends_the_earlier_link(client, app, db_session):
    user = make_user(db_session)
    _ask(client, user.email)
    first = _token(db_session, user.email)
    _ask(client, user.email)
    second = _token(db_session, user.email)
    assert _confirm(client, first).status_code == 422
    assert _confirm(client, second).status_code == 200


def test_a_forged_token_is_refused_and_audited(client, app, db_session):
    before = len(audit_rows(db_session, action="auth.magic_link_refused"))
    response = _confirm(client, "not-a-token")
    assert response.status_code == 422
    assert len(audit_rows(db_session, action="auth.magic_link_refused")) == before + 1


def test_with_2fa_the_link_leads_to_the_mfa_step_and_no_fresh_token(client, app, db_session, clock):
    user = make_user(db_session)
    secret, _codes = enroll(client, app, user, clock)
    _ask(client, user.email)
    step = _confirm(client, _token(db_session, user.email))
    assert step.status_code == 200
    body = step.get_json()
    assert body["mfa_required"] is True and "access_token" not in body
    assert body["methods"] == ["totp", "backup_code"]
    clock.advance(seconds=30)
    done = client.post(
        "/api/v1/auth/login/mfa",
        json={"mfa_token": body["mfa_token"], "code": code_at(secret, clock.now)},
    )
    assert done.status_code == 200, done.get_json()
    change = client.post(
        "/api/v1/auth/2fa/disable",
        json={"password": DEFAULT_PASSWORD, "code": code_at(secret, clock.now)},
        headers=bearer(done.get_json()["access_token"]),
    )
    assert change.status_code == 401
    assert change.get_json()["error"]["code"] == "fresh_token_required"
    logins = audit_rows(db_session, action="auth.login", resource_id=str(user.public_id))
    assert logins[-1].changes["method"] == "magic_link+totp"


def test_a_locked_account_is_not_signed_in_by_a_link(client, app, db_session):
    from app.core import uow
    from app.core.db import utcnow

    user = make_user(db_session)
    _ask(client, user.email)
    token = _token(db_session, user.email)
    user.admin_locked_at = utcnow()
    uow.commit(db_session)
    refused = _confirm(client, token)
    assert refused.status_code == 423


# --- rate limits -------------------------------------------------------------------------------


@pytest.fixture
def limited_app(pg_url, redis_url):
    yield from app_with(
        pg_url,
        redis_url,
        MAGIC_LINK_RATE_LIMIT_PER_EMAIL="2 per minute",
        MAGIC_LINK_RATE_LIMIT_PER_IP="3 per minute",
    )


def test_links_for_one_address_are_limited_from_any_ip(limited_app):
    address = unique_email("limited")
    for _ in range(2):
        assert _ask(client_at(limited_app, next_ip()), address).status_code == 202
    assert_rate_limited(_ask(client_at(limited_app, next_ip()), address))
    assert _ask(client_at(limited_app, next_ip()), unique_email("other")).status_code == 202


def test_links_from_one_ip_are_limited(limited_app):
    client = client_at(limited_app, next_ip())
    for _ in range(3):
        assert _ask(client, unique_email("ip")).status_code == 202
    assert_rate_limited(_ask(client, unique_email("ip")))
    assert _ask(client_at(limited_app, next_ip()), unique_email("ip")).status_code == 202
