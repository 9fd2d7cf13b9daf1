"""Identity and access: users, roles, credentials, tokens."""

from __future__ import annotations

from flask import Flask

from app.auth import privacy


def init_app(app: Flask) -> None:
    """The profile, consents, sessions and e-mails in the personal-data export and erasure."""
    privacy.register(app)
