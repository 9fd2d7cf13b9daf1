"""Personal data export and erasure requests."""

from __future__ import annotations

from flask import Flask

from app.privacy import sections


def init_app(app: Flask) -> None:
    """The privacy domain's own sections: the audit records and the erasure requests."""
    sections.register(app)
