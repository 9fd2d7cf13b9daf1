"""Customer accounts: opening, renaming, closing, statements."""

from __future__ import annotations

from flask import Flask

from app.core import audit


def init_app(app: Flask) -> None:
    """Name the account's numbers and its name for the audit log's masks."""
    masks = audit.masks(app)
    masks.personal("iban", "account_number", hint=audit.last_four)
    masks.personal("name")
