"""Webhook secrets, sealed at rest, and the `Flowlet-Signature` header they make.

    Flowlet-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">[,v1=<…>]

During a rotation's overlap the header carries one `v1=` per live secret, the newest first,
so a receiver that knows either secret accepts the delivery (docs/webhooks.md).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime

from app.core import crypto
from app.events.webhooks_models import WebhookEndpoint

HEADER = "Flowlet-Signature"
_PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh signing secret (shown to the admin once, then kept sealed)."""
    return _PREFIX + secrets.token_urlsafe(32)


def _aad(public_id: uuid.UUID) -> bytes:
    return f"webhook_endpoint:{public_id}".encode()


def seal(secret: str, *, endpoint_public_id: uuid.UUID) -> str:
    return crypto.encrypt_str(secret, aad=_aad(endpoint_public_id))


def live_secrets(endpoint: WebhookEndpoint, *, now: datetime) -> list[str]:
    """The secrets that sign now: the current one, and the previous one during its overlap."""
    found = [crypto.decrypt_str(endpoint.secret_sealed, aad=_aad(endpoint.public_id))]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_sealed and expires is not None and now < expires:
        found.append(
            crypto.decrypt_str(endpoint.previous_secret_sealed, aad=_aad(endpoint.public_id))
        )
    return found


def signature(secrets_: Sequence[str], *, timestamp: int, body: bytes) -> str:
    """The header's value for `body` sent at `timestamp` (never logged: it proves the secret)."""
    signed = str(timestamp).encode() + b"." + body
    values = [hmac.new(s.encode(), signed, hashlib.sha256).hexdigest() for s in secrets_]
    return ",".join([f"t={timestamp}", *(f"v1={v}" for v in values)])
