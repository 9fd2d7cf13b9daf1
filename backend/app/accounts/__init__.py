"""Customer accounts: opening, renaming, closing, statements."""

from __future__ import annotations

from flask import Flask

from app.accounts import privacy


def init_app(app: Flask) -> None:
    """The accounts in the personal-data export, erasure and legal hold."""
    privacy.register(app)
