"""Every check of a secret counts: one counter, one lockout, one audit for them all.

The test walks the URL map for every route whose body takes a password, a code or a PIN. Each
is either a check of a secret the user already holds (then `LOCKOUT_THRESHOLD` wrong answers
in a row lock the account, the right answer is refused while it lasts, and each wrong answer
is audited) or a route that sets a secret, named below with why it is not a check. A new route
that takes a secret and is in neither list fails the test.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.auth.models import User
from app.core.audit import AuditLog
from tests.auth.passkey_helpers import passkey_login, register_passkey
from tests.auth.soft_authenticator import SoftAuthenticator
from tests.auth.test_mfa import code_at, enroll
from tests.factories import DEFAULT_PASSWORD, auth_headers, make_user

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

SECRET_FIELDS = {
    "password",
    "current_password",
    "new_password",
    "code",
    "backup_code",
    "pin",
    "credential",  # a WebAuthn response: the proof of holding a passkey
}

# Routes that set a secret rather than check one the user holds.
SETS_A_SECRET = {
    "/api/v1/auth/register": "chooses the first password",
    "/api/v1/auth/password-reset/confirm": "sets a new password; the e-mailed token is the proof",
    "/api/v1/auth/2fa/enable": "confirms the authenticator being set up, not one already held",
    "/api/v1/auth/passkeys/register": "registers a new passkey (a fresh token is the proof)",
    "/api/v1/cards/<uuid:card_id>/pin": "sets the card's PIN",
    "/api/v1/linked-accounts/<uuid:linked_account_id>/2fa": "the broker's TAN, checked by "
    "the broker",
}


# Routes whose `code` is no secret the user holds but a single-use code the server handed out.
ONE_TIME_CODES = {
    "/api/v1/auth/oidc/exchange": "the one-time code a single sign-on's callback gave this "
    "browser: 256 random bits, spent once, bound to the browser, gone within a minute",
    "/api/v1/auth/oidc/<string:provider>/callback": "the provider's authorization code, "
    "checked by the provider with Flowlet's PKCE verifier; the state it comes with is spent",
}


def _routes_taking_a_secret(app) -> set[str]:
    found = set()
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        for parameter in getattr(view, "_apidoc", {}).get("arguments", {}).get("parameters", []):
            schema = parameter.get("schema")
            if schema is None:
                continue
            fields = set((schema() if isinstance(schema, type) else schema).fields)
            if fields & SECRET_FIELDS:
                found.add(rule.rule)
    return found


def _login(client, user, password):
    return client.post("/api/v1/auth/login", json={"login": user.email, "password": password})


def _mfa(client, user, code):
    first = _login(client, user, DEFAULT_PASSWORD)
    challenge = first.get_json()
    if "mfa_token" not in challenge:
        return first  # refused at the password step (locked)
    return client.post(
        "/api/v1/auth/login/mfa", json={"mfa_token": challenge["mfa_token"], "code": code}
    )


def _fresh(app, user):
    return auth_headers(app, user, fresh=True)


_passkeys: dict[int, SoftAuthenticator] = {}


def _passkey(client, app, user) -> SoftAuthenticator:
    """The user's software passkey, registered on first use."""
    if user.id not in _passkeys:
        _passkeys[user.id] = register_passkey(client, app, user)[0]
    return _passkeys[user.id]


def _passkey_step_up(client, app, user, **assertion):
    headers = auth_headers(app, user)
    authenticator = _passkey(client, app, user)
    options = client.post("/api/v1/auth/passkeys/step-up/options", headers=headers).get_json()
    return client.post(
        "/api/v1/auth/passkeys/step-up",
        json={"credential": authenticator.assert_(options, **assertion)},
        headers=headers,
    )


# Each check: (needs 2FA, a call with a wrong secret, a call with the right one).
CHECKS = {
    "/api/v1/auth/login": (
        False,
        lambda client, app, user, secret: _login(client, user, "Wrong-Password-123!"),
        lambda client, app, user, secret: _login(client, user, DEFAULT_PASSWORD),
    ),
    "/api/v1/auth/login/mfa": (
        True,
        lambda client, app, user, secret: _mfa(client, user, "000000"),
        lambda client, app, user, secret: _mfa(client, user, secret()),
    ),
    "/api/v1/auth/step-up": (
        False,
        lambda client, app, user, secret: client.post(
            "/api/v1/auth/step-up",
            json={"password": "Wrong-Password-123!"},
            headers=auth_headers(app, user),
        ),
        lambda client, app, user, secret: client.post(
            "/api/v1/auth/step-up",
            json={"password": DEFAULT_PASSWORD},
            headers=auth_headers(app, user),
        ),
    ),
    "/api/v1/auth/change-password": (
        False,
        lambda client, app, user, secret: client.post(
            "/api/v1/auth/change-password",
            json={
                "current_password": "Wrong-Password-123!",
                "new_password": "Brand-New-Pass-2026!",
            },
            headers=_fresh(app, user),
        ),
        lambda client, app, user, secret: client.post(
            "/api/v1/auth/change-password",
            json={"current_password": DEFAULT_PASSWORD, "new_password": "Brand-New-Pass-2026!"},
            headers=_fresh(app, user),
        ),
    ),
    "/api/v1/auth/2fa/disable": (
        True,
        lambda client, app, user, secret: client.post(
            "/api/v1/auth/2fa/disable",
            json={"password": "Wrong-Password-123!", "code": secret()},
            headers=_fresh(app, user),
        ),
        lambda client, app, user, secret: client.post(
            "/api/v1/auth/2fa/disable",
            json={"password": DEFAULT_PASSWORD, "code": secret()},
            headers=_fresh(app, user),
        ),
    ),
    "/api/v1/auth/passkeys/login": (
        False,
        lambda client, app, user, secret: passkey_login(
            client, _passkey(client, app, user), origin="https://evil.example"
        ),
        lambda client, app, user, secret: passkey_login(client, _passkey(client, app, user)),
    ),
    "/api/v1/auth/passkeys/step-up": (
        False,
        lambda client, app, user, secret: _passkey_step_up(client, app, user, rp_id="evil.example"),
        lambda client, app, user, secret: _passkey_step_up(client, app, user),
    ),
}


def test_every_route_that_takes_a_secret_is_a_counted_check_or_sets_one(app):
    assert _routes_taking_a_secret(app) == set(CHECKS) | set(SETS_A_SECRET) | set(ONE_TIME_CODES)


@pytest.mark.parametrize("route", sorted(CHECKS))
def test_wrong_answers_lock_the_account_wherever_they_are_given(
    route, app, client, db_session, clock
):
    needs_2fa, wrong, right = CHECKS[route]
    user = make_user(db_session)
    totp = enroll(client, app, user, clock)[0] if needs_2fa else None

    def secret() -> str:
        clock.advance(seconds=30)  # a TOTP code is good once per window
        return code_at(totp, clock.now) if totp else ""

    threshold = app.config["LOCKOUT_THRESHOLD"]
    for attempt in range(threshold):
        answer = wrong(client, app, user, secret)
        expected = 423 if attempt == threshold - 1 else 401
        assert answer.status_code == expected, (route, attempt, answer.get_json())
    locked = right(client, app, user, secret)
    assert locked.status_code == 423, (route, locked.get_json())
    assert locked.get_json()["error"]["code"] == "account_locked"
    db_session.expire_all()
    assert db_session.get(User, user.id).locked_until is not None
    failures = db_session.scalar(
        sa.select(sa.func.count()).where(
            AuditLog.resource_id == str(user.public_id), AuditLog.outcome == "failure"
        )
    )
    assert failures >= threshold
