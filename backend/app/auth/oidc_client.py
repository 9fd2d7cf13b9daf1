"""Talking to OpenID Connect providers: discovery, signing keys, the code flow, ID tokens.

Authlib's `OAuth2Session` does the authorization request (PKCE S256) and the token endpoint
calls; ID tokens are verified with joserfc (the JOSE library Authlib 1.9 is built on) and their
claims with Authlib's `CodeIDToken`. Discovery documents and key sets are kept per process for
`OIDC_METADATA_CACHE_SECONDS`; a token signed by a key id the set does not hold fetches the set
again once (the provider rotated its keys). Nothing here touches the database.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from flask import current_app
from joserfc import jwt as jose_jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from app.auth.models import AuthSession
from app.auth.tokens import now
from app.config import OIDC_PROVIDERS
from app.core import crypto
from app.core.errors import DomainError, NotFound

log = logging.getLogger("flowlet.auth.oidc")

# Asymmetric signatures only: an HMAC "signed" with a public key, or `none`, is refused.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384")
STAFF = "staff"
SCOPES = {
    STAFF: "openid email profile groups offline_access",
    "google": "openid email profile",
    "microsoft": "openid email profile offline_access",
    "github": "openid email profile",
}
LEEWAY_SECONDS = 60


class SsoFailed(DomainError):
    status, code, message = 401, "sso_failed", "The single sign-on could not be completed."


class ProviderUnavailable(DomainError):
    status, code, message = (
        503,
        "service_unavailable",
        "The identity provider did not answer; try again shortly.",
    )


class ProviderRefused(Exception):
    """The provider refused a refresh token: the user is disabled or signed out there."""


@dataclass(frozen=True)
class Provider:
    name: str
    issuer: str
    client_id: str
    client_secret: str | None

    @property
    def staff(self) -> bool:
        return self.name == STAFF

    @property
    def scope(self) -> str:
        return SCOPES[self.name]


def configured() -> list[str]:
    """The providers this deployment offers, in a fixed order."""
    config = current_app.config
    return [
        name
        for name in OIDC_PROVIDERS
        if config.get(f"OIDC_{name.upper()}_CLIENT_ID")
        and config.get(f"OIDC_{name.upper()}_ISSUER")
    ]


def provider(name: str) -> Provider:
    """A configured provider by name; any other name is not found."""
    if name not in configured():
        raise NotFound("No such sign-in provider is configured.")
    config = current_app.config
    prefix = f"OIDC_{name.upper()}"
    return Provider(
        name=name,
        issuer=str(config[f"{prefix}_ISSUER"]).rstrip("/"),
        client_id=str(config[f"{prefix}_CLIENT_ID"]),
        client_secret=config.get(f"{prefix}_CLIENT_SECRET"),
    )


def staff_roles(claims: dict[str, Any]) -> list[str]:
    """The Flowlet roles the `groups` claim of a staff ID token maps to (OIDC_STAFF_GROUP_ROLES)."""
    mapping: dict[str, str] = current_app.config["OIDC_STAFF_GROUP_ROLES"]
    groups = claims.get("groups")
    if not isinstance(groups, list):
        return []
    return sorted(
        {mapping[group] for group in groups if isinstance(group, str) and group in mapping}
    )


def redirect_uri(name: str) -> str:
    """Where the provider sends the browser back: the API behind the web app's origin."""
    return f"{current_app.config['FRONTEND_URL']}/api/v1/auth/oidc/{name}/callback"


# --- discovery and keys ------------------------------------------------------------------------


class _Cache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: dict[str, tuple[float, Any]] = {}

    def get(self, key: str) -> Any:
        entry = self.entries.get(key)
        if entry is None or entry[0] <= time.monotonic():
            return None
        return entry[1]

    def put(self, key: str, value: Any) -> None:
        seconds = float(current_app.config["OIDC_METADATA_CACHE_SECONDS"])
        with self.lock:
            self.entries[key] = (time.monotonic() + seconds, value)


def _cache() -> _Cache:
    cache: _Cache = current_app.extensions.setdefault("flowlet_oidc_cache", _Cache())
    return cache


def _get_json(url: str) -> dict[str, Any]:
    try:
        response = requests.get(url, timeout=current_app.config["OIDC_HTTP_TIMEOUT_SECONDS"])
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        log.warning("oidc: %s did not answer (%s)", url, type(exc).__name__)
        raise ProviderUnavailable() from exc
    if not isinstance(document, dict):
        raise ProviderUnavailable()
    return document


def metadata(p: Provider) -> dict[str, Any]:
    """The provider's discovery document; its `issuer` must be the configured one."""
    cache = _cache()
    found = cache.get("meta:" + p.issuer)
    if found is None:
        found = _get_json(p.issuer + "/.well-known/openid-configuration")
        if str(found.get("issuer", "")).rstrip("/") != p.issuer:
            log.warning("oidc: %s discovery names another issuer", p.name)
            raise ProviderUnavailable()
        cache.put("meta:" + p.issuer, found)
    return dict(found)


def _keys(p: Provider, *, refetch: bool = False) -> KeySet:
    cache = _cache()
    found = None if refetch else cache.get("jwks:" + p.issuer)
    if found is None:
        try:
            found = KeySet.import_key_set(_get_json(metadata(p)["jwks_uri"]))  # type: ignore[arg-type]
        except (JoseError, KeyError, TypeError, ValueError) as exc:
            raise ProviderUnavailable() from exc
        cache.put("jwks:" + p.issuer, found)
    assert isinstance(found, KeySet)
    return found


def _kid(token: str) -> str | None:
    try:
        head = token.split(".", 1)[0]
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, IndexError) as exc:
        raise SsoFailed("The identity provider's ID token is malformed.") from exc
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None


def _key_for(p: Provider, token: str) -> KeySet:
    """The provider's keys, fetched again once when the token names a key id they lack."""
    kid = _kid(token)
    keys = _keys(p)
    if kid is not None and all(key.kid != kid for key in keys):
        keys = _keys(p, refetch=True)
    return keys


# --- the code flow -----------------------------------------------------------------------------


def _client(p: Provider) -> OAuth2Session:
    return OAuth2Session(
        client_id=p.client_id,
        client_secret=p.client_secret,
        scope=p.scope,
        redirect_uri=redirect_uri(p.name),
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
        default_timeout=current_app.config["OIDC_HTTP_TIMEOUT_SECONDS"],
    )


def authorization_url(p: Provider, *, state: str, nonce: str, code_verifier: str) -> str:
    """The provider's authorization endpoint with the request (PKCE S256, state, nonce)."""
    endpoint = metadata(p)["authorization_endpoint"]
    url, _ = _client(p).create_authorization_url(
        endpoint, state=state, nonce=nonce, code_verifier=code_verifier
    )
    return str(url)


def _token_call(p: Provider, call: str, **arguments: Any) -> dict[str, Any]:
    endpoint = metadata(p)["token_endpoint"]
    client = _client(p)
    try:
        token = getattr(client, call)(endpoint, **arguments)
    except OAuthError as exc:
        # The provider said no (an invalid code, a refused refresh token): never log the token.
        log.info("oidc: %s refused the %s (%s)", p.name, call, exc.error)
        raise ProviderRefused(exc.error) from exc
    except (requests.RequestException, ValueError) as exc:
        log.warning("oidc: %s token endpoint failed (%s)", p.name, type(exc).__name__)
        raise ProviderUnavailable() from exc
    return dict(token)


def exchange_code(p: Provider, *, code: str, code_verifier: str) -> dict[str, Any]:
    """Trade the authorization code (and the PKCE verifier) for the provider's tokens."""
    try:
        return _token_call(p, "fetch_token", code=code, code_verifier=code_verifier)
    except ProviderRefused as exc:
        raise SsoFailed("The identity provider refused the sign-in.") from exc


def refresh(p: Provider, *, refresh_token: str) -> dict[str, Any]:
    """Ask the provider for new tokens; `ProviderRefused` when the user may no longer sign in."""
    return _token_call(p, "refresh_token", refresh_token=refresh_token)


def verify_id_token(
    p: Provider, id_token: str, *, now: datetime, access_token: str | None = None
) -> dict[str, Any]:
    """Check the ID token's signature, issuer, audience, expiry (and `at_hash`); its claims.

    The nonce is the caller's to check: only its digest is kept.
    """
    keys = _key_for(p, id_token)
    try:
        token = jose_jwt.decode(id_token, keys, algorithms=list(ALGORITHMS))
        claims = CodeIDToken(
            token.claims,
            token.header,
            options={
                "iss": {"essential": True, "value": p.issuer},
                "aud": {"essential": True, "value": p.client_id},
            },
            params={"client_id": p.client_id, "access_token": access_token},
        )
        claims.validate(now=int(now.timestamp()), leeway=LEEWAY_SECONDS)
    except (JoseError, ValueError) as exc:
        log.info("oidc: %s ID token refused (%s)", p.name, type(exc).__name__)
        raise SsoFailed("The identity provider's ID token is not valid.") from exc
    return dict(claims)


# --- SSO sessions: the provider has the last word at each refresh ------------------------------


def _refresh_aad(auth_session: AuthSession) -> bytes:
    return b"oidc-session:" + str(auth_session.public_id).encode()


def seal_refresh_token(auth_session: AuthSession, refresh_token: str) -> str:
    """The provider's refresh token sealed for this session's row."""
    return crypto.encrypt_str(refresh_token, aad=_refresh_aad(auth_session))


def provider_allows(auth_session: AuthSession) -> bool:
    """Ask the provider whether an SSO session may go on, by refreshing its token there.

    False when the provider refuses (the user is disabled or signed out there), when it is no
    longer configured, for a staff session that holds no provider refresh token, or when the
    staff provider's new ID token (if it sends one) no longer maps to any role. The new
    refresh token, when the provider rotates it, is sealed into the row (the caller commits).
    """
    name = auth_session.oidc_provider
    if name is None:
        return True
    if name not in configured():
        return False
    p = provider(name)
    if auth_session.oidc_refresh_token is None:
        return not p.staff
    try:
        current = crypto.decrypt_str(
            auth_session.oidc_refresh_token, aad=_refresh_aad(auth_session)
        )
    except crypto.DecryptionError:
        return False
    try:
        answer = refresh(p, refresh_token=current)
    except ProviderRefused:
        return False
    id_token = answer.get("id_token")
    if p.staff and isinstance(id_token, str):
        try:
            claims = verify_id_token(
                p, id_token, now=now(), access_token=answer.get("access_token")
            )
        except SsoFailed:
            return False
        if not staff_roles(claims):
            return False
    rotated = answer.get("refresh_token")
    if isinstance(rotated, str) and rotated != current:
        auth_session.oidc_refresh_token = seal_refresh_token(auth_session, rotated)
    return True
