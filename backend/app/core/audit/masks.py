"""What an audit record may not keep in clear: secrets, and personal values kept beside it.

A secret (a password, a token) becomes `[REDACTED]`. A personal value keeps only a hint
(`j***@example.com`, `***1234`, `R***`), and moves out of the hashed `changes` into the record's
`personal` values, leaving the marker `[personal]` (see `split`). A key names every string
beneath it: `{"name": {"old": …, "new": …}}` is masked whole.

Core knows no domain, so it names only the secrets every application has (`NEUTRAL_SECRETS`).
Each domain names its own fields from its `init_app`, on the app's `AuditMasks`:

    masks = audit.masks(app)
    masks.secret("cvv", "pin")
    masks.personal("iban", hint=audit.last_four)

`audit.record` reads the masks of the app it runs in; there is no policy without an app.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import Flask, current_app, has_app_context

from app.core.audit.chain import format_time

EXTENSION = "flowlet_audit_masks"
REDACTED = "[REDACTED]"
PERSONAL_MARK = "[personal]"
ERASED_MARK = "[erased]"

NEUTRAL_SECRETS = frozenset(
    {
        "password",
        "password_hash",
        "new_password",
        "current_password",
        "token",
        "access_token",
        "refresh_token",
        "secret",
        "credentials",
    }
)

Hint = Callable[[str], str]


# --- hints: what is left of a personal value ---------------------------------------------------


def first_letter(value: str) -> str:
    """`Rent` → `R***` (the default hint)."""
    return f"{value[:1]}***" if value else value


def last_four(value: str) -> str:
    """`DE89370400440532013000` → `***3000` (numbers: IBANs, phones, documents)."""
    return f"***{value[-4:]}" if len(value) > 4 else "***"


def email_address(value: str) -> str:
    """`jane@example.com` → `j***@example.com`."""
    local, _, domain = value.partition("@")
    return f"{local[:1]}***@{domain}" if domain else f"{local[:1]}***"


def login_name(value: str) -> str:
    """A login or username: an e-mail address when it holds an `@`, else its first letter."""
    return email_address(value) if "@" in value else first_letter(value)


def birth_year(value: str) -> str:
    """`1990-04-01` → `1990-**-**`."""
    return f"{value[:4]}-**-**" if len(value) >= 4 else "***"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, float):
        # Floats have no canonical text; money never is one.
        return repr(value)
    return value


def _pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


class AuditMasks:
    """The keys of an audit document that are secrets, and the personal ones with their hint.

    Keys are matched without regard to case. A key named twice must be named alike: a secret
    cannot also be personal, and a personal key keeps one hint.
    """

    def __init__(self) -> None:
        self._secrets: set[str] = set(NEUTRAL_SECRETS)
        self._personal: dict[str, Hint] = {}

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(self._secrets)

    @property
    def personal_keys(self) -> dict[str, Hint]:
        return dict(self._personal)

    def secret(self, *keys: str) -> None:
        """Redact these keys' values wherever they appear."""
        for key in map(str.lower, keys):
            if key in self._personal:
                raise ValueError(f"audit mask: {key!r} is already a personal key")
            self._secrets.add(key)

    def personal(self, *keys: str, hint: Hint = first_letter) -> None:
        """Keep only `hint(value)` of these keys' values, beside the record (not hashed)."""
        for key in map(str.lower, keys):
            if key in self._secrets:
                raise ValueError(f"audit mask: {key!r} is already a secret")
            if self._personal.setdefault(key, hint) is not hint:
                raise ValueError(f"audit mask: {key!r} already has another hint")

    def mask(self, value: Any, key: str = "", *, hint: Hint | None = None) -> Any:
        """The document with secrets redacted and personal strings reduced to their hint."""
        lowered = key.lower()
        if lowered in self._secrets:
            return REDACTED
        hint = self._personal.get(lowered, hint)
        if isinstance(value, dict):
            return {k: self.mask(v, str(k), hint=hint) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.mask(v, key, hint=hint) for v in value]
        if hint is not None and isinstance(value, str):
            return hint(value)
        return _plain(value)

    def split(self, value: Any) -> tuple[Any, dict[str, Any]]:
        """Move the personal values out of a masked document.

        Returns the document with each personal value replaced by `[personal]`, and a map of
        JSON-pointer paths to the (masked) values taken out.
        """
        out: dict[str, Any] = {}
        return self._split(value, "", "", out), out

    def _split(self, value: Any, key: str, path: str, out: dict[str, Any]) -> Any:
        if key.lower() in self._personal and value is not None:
            out[path] = value
            return PERSONAL_MARK
        if isinstance(value, dict):
            return {
                k: self._split(v, str(k), f"{path}/{_pointer(str(k))}", out)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self._split(v, key, f"{path}/{i}", out) for i, v in enumerate(value)]
        return value


def masks(app: Flask) -> AuditMasks:
    """The app's audit masks (where the domains name their fields)."""
    found = app.extensions.get(EXTENSION)
    if not isinstance(found, AuditMasks):
        found = app.extensions[EXTENSION] = AuditMasks()
    return found


def current_masks() -> AuditMasks:
    """The masks of the app in context; without an app no record could be masked fully."""
    if not has_app_context():
        raise RuntimeError("audit masks belong to an app: record and mask inside an app context")
    return masks(current_app)


def mask_pii(value: Any) -> Any:
    """Mask personal data and redact secrets in an audit `changes` document (the app's masks)."""
    return current_masks().mask(value)


def join_personal(changes: Any, personal: dict[str, Any] | None) -> Any:
    """The record's `changes` as shown: personal values put back (or `[erased]`)."""
    personal = personal or {}

    def walk(value: Any, path: str) -> Any:
        if value == PERSONAL_MARK:
            return personal.get(path, ERASED_MARK)
        if isinstance(value, dict):
            return {k: walk(v, f"{path}/{_pointer(str(k))}") for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, f"{path}/{i}") for i, v in enumerate(value)]
        return value

    return walk(changes, "")
