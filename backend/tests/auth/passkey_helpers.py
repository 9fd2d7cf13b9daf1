"""Passkey helpers for tests: register a software authenticator, sign in with it."""

from __future__ import annotations

from tests.auth.soft_authenticator import SoftAuthenticator
from tests.factories import auth_headers

BASE = "/api/v1/auth/passkeys"


def register_passkey(client, app, user, *, name: str = "Laptop") -> tuple[SoftAuthenticator, dict]:
    """A new software passkey registered for `user` through the API; (authenticator, Passkey)."""
    headers = auth_headers(app, user, fresh=True)
    options = client.post(f"{BASE}/register/options", headers=headers)
    assert options.status_code == 200, options.get_json()
    authenticator = SoftAuthenticator()
    created = client.post(
        f"{BASE}/register",
        json={"credential": authenticator.register(options.get_json()), "name": name},
        headers=headers,
    )
    assert created.status_code == 201, created.get_json()
    return authenticator, created.get_json()


def login_options(client) -> dict:
    response = client.post(f"{BASE}/login/options")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def passkey_login(client, authenticator: SoftAuthenticator, **assertion):
    credential = authenticator.assert_(login_options(client), **assertion)
    return client.post(f"{BASE}/login", json={"credential": credential})
