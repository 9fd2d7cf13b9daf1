"""Card secrets: PAN generation, encryption and fingerprints, CVV derivation, PIN hashing.

- The PAN is sealed with AES-256-GCM under `CARD_ENCRYPTION_KEYS` (`kid:base64key,…`; the
  first key seals, every listed key opens), bound to its card by the associated data, so a
  ciphertext copied onto another row does not open. `flask cards rotate-key` re-seals every PAN
  under the first key.
- The card network's requests find a card by `fingerprint(pan)`: HMAC-SHA256 under
  `CARD_PAN_FINGERPRINT_KEY` (a keyed hash, PCI DSS 3.5.1.1; a plain hash of a PAN can be
  brute-forced).
- The CVV is never stored (PCI DSS 3.3.1): `cvv(pan, month, year)` recomputes it from
  `CARD_CVV_KEY`, so reveal and authorization agree without keeping it.
- PINs are hashed with Argon2id; trivial ones are refused.

None of these functions logs, and their errors never carry a PAN or CVV.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import os
import re
import secrets
import uuid
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

from app.config import ConfigError
from app.core.crypto import DecryptionError, Keyring, parse_keys

NONCE_BYTES = 12
PAN_LENGTH = 16

# --- PAN -------------------------------------------------------------------------------------


def luhn_check_digit(partial: str) -> str:
    """The digit that makes `partial + digit` pass the Luhn check."""
    total = 0
    for index, char in enumerate(reversed(partial)):
        value = int(char)
        if index % 2 == 0:  # these are doubled once the check digit is appended
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    return number.isdigit() and luhn_check_digit(number[:-1]) == number[-1]


def brand_for(bin_: str) -> str:
    """The card scheme a BIN belongs to (the ranges the schemes publish)."""
    if bin_.startswith("4"):
        return "visa"
    prefix2, prefix4 = int(bin_[:2]), int(bin_[:4])
    if 51 <= prefix2 <= 55 or 2221 <= prefix4 <= 2720:
        return "mastercard"
    if prefix2 in (34, 37):
        return "amex"
    return "other"


def generate_pan(bin_: str, length: int = PAN_LENGTH) -> str:
    """A random Luhn-valid PAN under `bin_` (the account digits come from `secrets`)."""
    body = bin_ + "".join(str(secrets.randbelow(10)) for _ in range(length - len(bin_) - 1))
    return body + luhn_check_digit(body)


def card_bin() -> str:
    value = str(current_app.config["CARD_BIN"])
    if not re.fullmatch(r"\d{6}", value):
        raise ConfigError("CARD_BIN must be six digits")
    return value


# --- keys --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Keys:
    ring: Keyring
    fingerprint: bytes
    cvv: bytes


def _secret(name: str) -> bytes:
    value: str | None = current_app.config[name]
    if not value or len(value) < 32:
        raise ConfigError(f"{name} must be at least 32 characters")
    return value.encode()


def _keys() -> _Keys:
    config = current_app.config
    spec = (
        config["CARD_ENCRYPTION_KEYS"],
        config["CARD_PAN_FINGERPRINT_KEY"],
        config["CARD_CVV_KEY"],
    )
    cache: dict[tuple[str, str, str], _Keys] = current_app.extensions.setdefault(
        "flowlet_card_keys", {}
    )
    if spec not in cache:
        cache.clear()
        try:
            ring = parse_keys(spec[0])
        except ConfigError as exc:
            message = str(exc).replace("DATA_ENCRYPTION_KEYS", "CARD_ENCRYPTION_KEYS")
            raise ConfigError(message) from None
        cache[spec] = _Keys(ring, _secret("CARD_PAN_FINGERPRINT_KEY"), _secret("CARD_CVV_KEY"))
    return cache[spec]


def _aad(card_public_id: uuid.UUID) -> bytes:
    return b"card-pan:" + str(card_public_id).encode()


def seal_pan(pan: str, *, card_public_id: uuid.UUID) -> str:
    """Encrypt a PAN for one card under the newest key: `kid:base64(nonce ‖ ct ‖ tag)`."""
    ring = _keys().ring
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(ring.keys[ring.primary]).encrypt(nonce, pan.encode(), _aad(card_public_id))
    return f"{ring.primary}:{base64.b64encode(nonce + sealed).decode()}"


def open_pan(token: str, *, card_public_id: uuid.UUID) -> str:
    """Decrypt a card's PAN; DecryptionError (naming no digits) when it cannot."""
    ring = _keys().ring
    kid, sep, encoded = token.partition(":")
    if not sep or kid not in ring.keys:
        raise DecryptionError(f"no configured card key with id {kid!r}")
    try:
        raw = base64.b64decode(encoded, validate=True)
        plain = AESGCM(ring.keys[kid]).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(card_public_id)
        )
    except (ValueError, InvalidTag) as exc:
        raise DecryptionError("card ciphertext is damaged or bound to another card") from exc
    return plain.decode()


def key_id(token: str) -> str:
    return token.partition(":")[0]


def primary_key_id() -> str:
    return _keys().ring.primary


def fingerprint(pan: str) -> str:
    """HMAC-SHA256 of the PAN under the fingerprint key (hex)."""
    return hmac.new(_keys().fingerprint, pan.encode(), hashlib.sha256).hexdigest()


# --- CVV ---------------------------------------------------------------------------------------


def cvv(pan: str, expiry_month: int, expiry_year: int) -> str:
    """The card's three-digit CVV, derived (never stored) from the PAN and expiry."""
    message = f"{pan}|{expiry_year:04d}-{expiry_month:02d}".encode()
    digest = hmac.new(_keys().cvv, message, hashlib.sha256).digest()
    return f"{int.from_bytes(digest, 'big') % 1000:03d}"


def cvv_matches(given: str, pan: str, expiry_month: int, expiry_year: int) -> bool:
    return hmac.compare_digest(given.encode(), cvv(pan, expiry_month, expiry_year).encode())


# --- PIN ---------------------------------------------------------------------------------------

_pin_hasher = PasswordHasher()


def pin_problem(pin: str) -> str | None:
    """Why a PIN is refused, or None: 4–6 digits, no repeats, no runs like 1234 or 9876."""
    if not re.fullmatch(r"\d{4,6}", pin):
        return "A PIN has 4 to 6 digits."
    digits = [int(c) for c in pin]
    steps = {b - a for a, b in itertools.pairwise(digits)}
    if steps == {0}:
        return "A PIN of one repeated digit is too easy to guess."
    if steps in ({1}, {-1}):
        return "A PIN of consecutive digits is too easy to guess."
    for size in range(2, len(pin) // 2 + 1):
        if len(pin) % size == 0 and pin == pin[:size] * (len(pin) // size):
            return "A PIN made of a repeated group of digits is too easy to guess."
    return None


def hash_pin(pin: str) -> str:
    return _pin_hasher.hash(pin)


def verify_pin(pin_hash: str | None, pin: str) -> bool:
    if not pin_hash:
        return False
    try:
        return _pin_hasher.verify(pin_hash, pin)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
