"""Encryption of data at rest: AES-256-GCM with key ids, so keys can be rotated.

`DATA_ENCRYPTION_KEYS` is `kid:base64key[,kid2:base64key2…]`. The first key encrypts; every
listed key decrypts. A ciphertext is the text `<kid>:<base64(nonce ‖ ciphertext ‖ tag)>`, so the
key that sealed it is always known: rotate by putting a new key first, keep the old ones until
`needs_reencryption()` finds nothing sealed with them, then drop them.

`aad` (associated data) binds a ciphertext to its place, e.g. `b"totp:<user id>"`: a value
copied into another row fails to decrypt.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

from app.config import ConfigError

NONCE_BYTES = 12


class DecryptionError(Exception):
    """The ciphertext is malformed, sealed with an unknown key, or was tampered with."""


@dataclass(frozen=True)
class Keyring:
    primary: str
    keys: dict[str, bytes]


def parse_keys(spec: str | None) -> Keyring:
    """Parse `kid:base64key,…`; raise ConfigError naming what is wrong."""
    keys: dict[str, bytes] = {}
    order: list[str] = []
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        kid, sep, encoded = part.partition(":")
        if not sep or not kid or not encoded:
            raise ConfigError("DATA_ENCRYPTION_KEYS entries must look like kid:base64key")
        try:
            key = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ConfigError(f"DATA_ENCRYPTION_KEYS key {kid!r} is not valid base64") from exc
        if len(key) != 32:
            raise ConfigError(f"DATA_ENCRYPTION_KEYS key {kid!r} must be 32 bytes (AES-256)")
        if kid in keys:
            raise ConfigError(f"DATA_ENCRYPTION_KEYS lists key id {kid!r} twice")
        keys[kid] = key
        order.append(kid)
    if not order:
        raise ConfigError("DATA_ENCRYPTION_KEYS is empty")
    return Keyring(primary=order[0], keys=keys)


def _keyring() -> Keyring:
    spec = current_app.config["DATA_ENCRYPTION_KEYS"]
    cache: dict[str, Keyring] = current_app.extensions.setdefault("flowlet_keyring", {})
    if spec not in cache:
        cache.clear()
        cache[spec] = parse_keys(spec)
    return cache[spec]


def encrypt(plaintext: bytes, *, aad: bytes = b"") -> str:
    """Seal `plaintext` with the primary key; returns `kid:base64`."""
    ring = _keyring()
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(ring.keys[ring.primary]).encrypt(nonce, plaintext, aad or None)
    return f"{ring.primary}:{base64.b64encode(nonce + sealed).decode()}"


def decrypt(token: str, *, aad: bytes = b"") -> bytes:
    """Open a value sealed by `encrypt` with whichever configured key sealed it."""
    kid, sep, encoded = token.partition(":")
    ring = _keyring()
    if not sep or kid not in ring.keys:
        raise DecryptionError(f"no configured key with id {kid!r}")
    try:
        raw = base64.b64decode(encoded, validate=True)
        return AESGCM(ring.keys[kid]).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad or None)
    except (binascii.Error, ValueError, InvalidTag) as exc:
        raise DecryptionError("ciphertext is damaged or bound to other data") from exc


def encrypt_str(plaintext: str, *, aad: bytes = b"") -> str:
    return encrypt(plaintext.encode(), aad=aad)


def decrypt_str(token: str, *, aad: bytes = b"") -> str:
    return decrypt(token, aad=aad).decode()


def key_id(token: str) -> str:
    """The id of the key that sealed `token`."""
    return token.partition(":")[0]


def needs_reencryption(token: str) -> bool:
    """True when `token` was sealed with a key other than the current primary one."""
    return key_id(token) != _keyring().primary
