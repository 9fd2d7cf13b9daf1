"""A small OpenID Connect provider on 127.0.0.1 for the single sign-on tests.

Discovery, /authorize (approves at once, for the user the test set), /token (authorization
code with PKCE S256 and client secret, refresh token), /jwks and /userinfo, with RSA keys of
its own. Knobs let a test expire the next ID token, put another nonce in it, sign it with a key
it does not publish, rotate its keys, or disable a user (its refresh tokens are then refused).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

CLIENT_ID = "flowlet-test-client"
CLIENT_SECRET = "flowlet-test-client-secret-0001"


def new_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": uuid.uuid4().hex[:12], "use": "sig"})


class Provider:
    def __init__(self) -> None:
        self.key = new_key()
        self.published = [self.key]
        self.user: dict[str, Any] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.refresh_tokens: dict[str, str] = {}  # token → sub
        self.disabled: set[str] = set()
        self.next_claims: dict[str, Any] = {}  # merged into the next ID token only
        self.sign_with: RSAKey | None = None  # sign the next ID token with this key
        self.issue_refresh = True  # hand out refresh tokens
        self.jwks_fetches = 0
        self.token_requests: list[dict[str, str]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Provider:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- test controls ---

    def set_user(self, **claims: Any) -> dict[str, Any]:
        self.user = {
            "sub": uuid.uuid4().hex,
            "email_verified": True,
            "given_name": "Ada",
            "family_name": "Lovelace",
            **claims,
        }
        return self.user

    def rotate(self) -> RSAKey:
        """A new signing key; only it is published from now on."""
        self.key = new_key()
        self.published = [self.key]
        return self.key

    def disable(self, sub: str) -> None:
        self.disabled.add(sub)

    # --- protocol ---

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token",
            "jwks_uri": self.issuer + "/jwks",
            "userinfo_endpoint": self.issuer + "/userinfo",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        }

    def authorize(self, query: dict[str, str]) -> str:
        assert query["response_type"] == "code"
        assert query["client_id"] == CLIENT_ID
        assert query["code_challenge_method"] == "S256"
        code = secrets.token_urlsafe(24)
        self.codes[code] = {
            "redirect_uri": query["redirect_uri"],
            "nonce": query.get("nonce"),
            "challenge": query["code_challenge"],
            "user": dict(self.user),
        }
        back = urlencode({"code": code, "state": query["state"], "iss": self.issuer})
        return f"{query['redirect_uri']}?{back}"

    def _id_token(self, user: dict[str, Any], nonce: str | None) -> str:
        moment = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "iat": moment,
            "exp": moment + 300,
            **user,
        }
        if nonce is not None:
            claims["nonce"] = nonce
        claims.update(self.next_claims)
        self.next_claims = {}
        key = self.sign_with or self.key
        self.sign_with = None
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)

    def token(self, form: dict[str, str], auth: str | None) -> tuple[int, dict[str, Any]]:
        self.token_requests.append(form)
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if auth != f"Basic {expected}":
            return 401, {"error": "invalid_client"}
        grant = form.get("grant_type")
        if grant == "authorization_code":
            entry = self.codes.pop(form.get("code", ""), None)
            if entry is None or entry["redirect_uri"] != form.get("redirect_uri"):
                return 400, {"error": "invalid_grant"}
            digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != entry["challenge"]:
                return 400, {"error": "invalid_grant", "error_description": "PKCE"}
            user = entry["user"]
            id_token = self._id_token(user, entry["nonce"])
        elif grant == "refresh_token":
            sub = self.refresh_tokens.pop(form.get("refresh_token", ""), None)
            if sub is None or sub in self.disabled:
                return 400, {"error": "invalid_grant"}
            user = {"sub": sub}
            # Like Keycloak or Okta, a refresh brings a new ID token with the current claims.
            id_token = (
                self._id_token(dict(self.user), None) if self.user.get("sub") == sub else None
            )
        else:
            return 400, {"error": "unsupported_grant_type"}
        body: dict[str, Any] = {
            "access_token": secrets.token_urlsafe(24),
            "token_type": "Bearer",
            "expires_in": 300,
        }
        if self.issue_refresh:
            refresh = secrets.token_urlsafe(24)
            self.refresh_tokens[refresh] = user["sub"]
            body["refresh_token"] = refresh
        if id_token is not None:
            body["id_token"] = id_token
        return 200, body

    def jwks(self) -> dict[str, Any]:
        self.jwks_fetches += 1
        return KeySet(list(self.published)).as_dict(private=False)


def _handler(provider: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: Any = None, location: str | None = None) -> None:
            self.send_response(status)
            if location is not None:
                self.send_header("Location", location)
            data = json.dumps(body).encode() if body is not None else b""
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            with provider.lock:
                if url.path == "/.well-known/openid-configuration":
                    self._send(200, provider.discovery())
                elif url.path == "/jwks":
                    self._send(200, provider.jwks())
                elif url.path == "/authorize":
                    self._send(302, location=provider.authorize(query))
                elif url.path == "/userinfo":
                    self._send(200, {"sub": provider.user.get("sub")})
                else:
                    self._send(404, {"error": "not_found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            with provider.lock:
                if urlsplit(self.path).path == "/token":
                    status, body = provider.token(form, self.headers.get("Authorization"))
                    self._send(status, body)
                else:
                    self._send(404, {"error": "not_found"})

    return Handler
