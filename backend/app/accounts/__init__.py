"""Customer accounts: opening, renaming, closing, statements."""

from __future__ import annotations

from flask import Flask

from app.accounts import privacy
from app.core import audit


def init_app(app: Flask) -> None:
    """The accounts in the personal-data export, erasure and legal hold; their numbers and
    name for the audit log's masks."""
    privacy.register(app)
    masks = audit.masks(app)
    masks.personal("iban", "account_number", hint=audit.last_four)
    masks.personal("name")
