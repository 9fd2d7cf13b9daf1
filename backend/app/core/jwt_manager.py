"""flask-jwt-extended's manager, remembering the claims of the tokens it has verified.

A client sends the same access token with every request until it expires. Verifying it means
parsing it (PyJWT checks every character of each part in Python, and flask-jwt-extended has it
parsed four times), checking its HMAC and its claims: about a tenth of a millisecond each time.
The first verification in a process keeps the claims, keyed by the exact token; later requests
with the same token reuse them after checking the expiry against the clock again, as PyJWT
would (`exp` with the configured leeway). A token is only ever remembered after it passed the
full check, the app's keys do not change while it runs, and its other time claims (`nbf`,
`iat`) can only become more valid, so a reused answer is the one a new check would give.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

from flask import Flask, current_app
from flask_jwt_extended import JWTManager as _JWTManager

VERIFIED_TOKENS = "flowlet_verified_tokens"


class VerifiedTokens:
    """Claims of verified tokens by token, each until it expires; at most `size` (oldest out)."""

    def __init__(self, *, leeway: float = 0, size: int = 10_000) -> None:
        self.leeway = leeway
        self.size = size
        self._claims: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> dict[str, Any] | None:
        claims = self._claims.get(token)
        if claims is None:
            return None
        if claims["exp"] <= time.time() - self.leeway:
            with self._lock:
                self._claims.pop(token, None)
            return None
        return dict(claims)

    def put(self, token: str, claims: dict[str, Any]) -> None:
        if not isinstance(claims.get("exp"), int | float):
            return  # a token without an expiry is checked every time
        with self._lock:
            remembered = self._claims
            remembered.pop(token, None)
            while len(remembered) >= self.size:
                del remembered[next(iter(remembered))]
            remembered[token] = dict(claims)


class JWTManager(_JWTManager):
    """The extension with each app's verified tokens remembered (`VerifiedTokens`)."""

    def init_app(self, app: Flask, add_context_processor: bool = False) -> None:
        super().init_app(app, add_context_processor)
        leeway = app.config["JWT_DECODE_LEEWAY"]
        if isinstance(leeway, timedelta):
            leeway = leeway.total_seconds()
        app.extensions[VERIFIED_TOKENS] = VerifiedTokens(leeway=leeway)

    def _decode_jwt_from_config(
        self, encoded_token: str, csrf_value: str | None = None, allow_expired: bool = False
    ) -> dict[str, Any]:
        if csrf_value is not None or allow_expired:
            return super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        verified: VerifiedTokens = current_app.extensions[VERIFIED_TOKENS]
        claims = verified.get(encoded_token)
        if claims is None:
            claims = super()._decode_jwt_from_config(encoded_token)
            verified.put(encoded_token, claims)
        return claims
