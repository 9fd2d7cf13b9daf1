"""KYC, sanctions screening, AML monitoring, alerts and case review."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Plug compliance into the movement engine (policies and observers)."""
    from app.compliance.engine_hooks import init_app as init_engine_hooks

    init_engine_hooks(app)
