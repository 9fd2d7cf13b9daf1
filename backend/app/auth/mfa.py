"""TOTP (RFC 6238) and backup codes: secrets sealed at rest, codes never accepted twice."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any, cast

import pyotp
import segno
import sqlalchemy as sa
from flask import current_app
from sqlalchemy import CursorResult
from sqlalchemy.orm import Session

from app.auth.models import BackupCode, User
from app.auth.tokens import now
from app.core import crypto

BACKUP_CODE_COUNT = 10
# One step of clock drift either way is tolerated.
VALID_WINDOW = 1


def _aad(user: User) -> bytes:
    return f"totp:{user.public_id}".encode()


def seal_secret(user: User, secret: str) -> str:
    return crypto.encrypt_str(secret, aad=_aad(user))


def open_secret(user: User, sealed: str) -> str:
    return crypto.decrypt_str(sealed, aad=_aad(user))


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning(user: User, secret: str) -> tuple[str, str]:
    """The otpauth:// URI and its QR code as an SVG document."""
    uri = pyotp.TOTP(secret).provisioning_uri(
        name=user.email, issuer_name=current_app.config["TOTP_ISSUER"]
    )
    svg = segno.make(uri, error="m").svg_inline(scale=4)
    return uri, svg


def match_totp(secret: str, code: str, *, last_counter: int | None) -> int | None:
    """The time step `code` belongs to, if it is valid now and newer than `last_counter`."""
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now())
    for counter in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(counter), code):
            if last_counter is not None and counter <= last_counter:
                return None  # replay of a code already used (or an older one)
            return counter
    return None


def verify_totp(user: User, code: str) -> bool:
    """Check a TOTP code for a user with 2FA on; record its step so it cannot be replayed.

    The caller must hold the user's row lock (`FOR UPDATE`) so two requests cannot both
    accept the same code.
    """
    if not user.totp_secret:
        return False
    secret = open_secret(user, user.totp_secret)
    counter = match_totp(secret, code, last_counter=user.totp_last_counter)
    if counter is None:
        return False
    user.totp_last_counter = counter
    if crypto.needs_reencryption(user.totp_secret):
        user.totp_secret = seal_secret(user, secret)  # lazy key rotation
    return True


def _normalize_backup(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def backup_code_hash(code: str) -> str:
    """A keyed hash: the codes are random (40 bits), so a fast HMAC is enough."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, _normalize_backup(code).encode(), hashlib.sha256).hexdigest()


def new_backup_codes(session: Session, user: User) -> list[str]:
    """Replace the user's backup codes with ten new ones; returns them once, in clear."""
    session.execute(sa.delete(BackupCode).where(BackupCode.user_id == user.id))
    codes = []
    moment = now()
    for _ in range(BACKUP_CODE_COUNT):
        raw = secrets.token_hex(5)
        code = f"{raw[:5]}-{raw[5:]}"
        codes.append(code)
        session.add(
            BackupCode(user_id=user.id, code_hash=backup_code_hash(code), created_at=moment)
        )
    session.flush()
    return codes


def use_backup_code(session: Session, user: User, code: str) -> bool:
    """Spend one unused backup code; False when it is unknown or already used."""
    if len(_normalize_backup(code)) != 10:
        return False
    # An UPDATE without RETURNING gives a CursorResult; Session.execute is typed as Result.
    spent = cast(
        CursorResult[Any],
        session.execute(
            sa.update(BackupCode)
            .where(
                BackupCode.user_id == user.id,
                BackupCode.code_hash == backup_code_hash(code),
                BackupCode.used_at.is_(None),
            )
            .values(used_at=now())
            .execution_options(synchronize_session=False)
        ),
    )
    return spent.rowcount == 1


def verify_second_factor(session: Session, user: User, code: str) -> str | None:
    """Accept a TOTP code or a backup code; returns the method used, or None."""
    code = (code or "").strip().replace(" ", "")
    if verify_totp(user, code):
        return "totp"
    if use_backup_code(session, user, code):
        return "backup_code"
    return None
