"""Broker credentials under envelope encryption.

Each customer has a data key (32 random bytes) of their own. It is stored only wrapped: sealed
with AES-256-GCM by the master key from the environment (`DATA_ENCRYPTION_KEYS`, through
`core.crypto`, so the master key can be rotated). Credentials and broker session state are
sealed with AES-256-GCM under the customer's data key, bound (associated data) to the linked
account they belong to, so a ciphertext copied to another row does not open.

Plaintext credentials exist only in the memory of the request that receives them and of the
job that uses them: never in a response, a log line, a job's arguments or Redis. Unlinking
deletes the ciphertext, and the data key itself when no linked account uses it any more.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import Session

from app.core import crypto
from app.wealth.models import LinkedAccount, LinkStatus, UserDataKey

_NONCE = 12
_VERSION = "v1"


class VaultError(Exception):
    """Credentials cannot be opened (destroyed, damaged or bound to another account)."""


def _wrap_aad(user_id: int) -> bytes:
    return f"wealth-data-key:{user_id}".encode()


def _data_key(session: Session, user_id: int, *, create: bool) -> bytes | None:
    row = session.scalar(sa.select(UserDataKey).where(UserDataKey.user_id == user_id))
    if row is None:
        if not create:
            return None
        key = AESGCM.generate_key(bit_length=256)
        row = UserDataKey(user_id=user_id, wrapped_key=crypto.encrypt(key, aad=_wrap_aad(user_id)))
        session.add(row)
        session.flush()
        return key
    try:
        return crypto.decrypt(row.wrapped_key, aad=_wrap_aad(user_id))
    except crypto.DecryptionError as exc:
        raise VaultError("the data key cannot be unwrapped") from exc


def _aad(link: LinkedAccount, purpose: str) -> bytes:
    return f"wealth:{purpose}:{link.public_id}".encode()


def _seal(key: bytes, value: dict[str, Any], aad: bytes) -> str:
    nonce = os.urandom(_NONCE)
    plaintext = json.dumps(value, separators=(",", ":")).encode()
    sealed = AESGCM(key).encrypt(nonce, plaintext, aad)
    return f"{_VERSION}:{base64.b64encode(nonce + sealed).decode()}"


def _open(key: bytes, token: str, aad: bytes) -> dict[str, Any]:
    version, _, encoded = token.partition(":")
    if version != _VERSION:
        raise VaultError("unknown ciphertext version")
    try:
        raw = base64.b64decode(encoded, validate=True)
        return json.loads(AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], aad))
    except (ValueError, InvalidTag) as exc:
        raise VaultError("ciphertext is damaged or bound to another account") from exc


def store_credentials(session: Session, link: LinkedAccount, credentials: dict[str, Any]) -> None:
    """Seal `credentials` for `link` (its `public_id` must be set) under its owner's data key."""
    key = _data_key(session, link.user_id, create=True)
    assert key is not None
    link.credentials_encrypted = _seal(key, credentials, _aad(link, "credentials"))


def load_credentials(session: Session, link: LinkedAccount) -> dict[str, Any]:
    """The plaintext credentials of `link`; raises VaultError when they are gone."""
    key = _data_key(session, link.user_id, create=False)
    if key is None or not link.credentials_encrypted:
        raise VaultError("no credentials are stored for this linked account")
    return _open(key, link.credentials_encrypted, _aad(link, "credentials"))


def store_auth_state(session: Session, link: LinkedAccount, state: dict[str, Any] | None) -> None:
    """Seal the broker's session state between a 2FA challenge and its answer (or clear it)."""
    if state is None:
        link.auth_state_encrypted = None
        return
    key = _data_key(session, link.user_id, create=True)
    assert key is not None
    link.auth_state_encrypted = _seal(key, state, _aad(link, "auth-state"))


def load_auth_state(session: Session, link: LinkedAccount) -> dict[str, Any] | None:
    key = _data_key(session, link.user_id, create=False)
    if key is None or not link.auth_state_encrypted:
        return None
    return _open(key, link.auth_state_encrypted, _aad(link, "auth-state"))


def destroy(session: Session, link: LinkedAccount) -> None:
    """Delete the link's sealed secrets, and the owner's data key once nothing uses it."""
    link.credentials_encrypted = None
    link.auth_state_encrypted = None
    session.flush()
    still_used = session.scalar(
        sa.select(sa.func.count())
        .select_from(LinkedAccount)
        .where(
            LinkedAccount.user_id == link.user_id,
            LinkedAccount.status != LinkStatus.DELETED.value,
            LinkedAccount.id != link.id,
            LinkedAccount.credentials_encrypted.is_not(None),
        )
    )
    if not still_used:
        session.execute(sa.delete(UserDataKey).where(UserDataKey.user_id == link.user_id))
