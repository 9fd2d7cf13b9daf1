"""Linked broker accounts, wealth summary and exchange rates."""

from __future__ import annotations

from flask import Flask

from app.wealth import privacy


def init_app(app: Flask) -> None:
    """The wealth section of the personal data."""
    privacy.register(app)
