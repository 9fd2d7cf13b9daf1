"""KYC, sanctions screening, AML monitoring, alerts and case review."""

from __future__ import annotations

from flask import Flask

from app.auth import hooks
from app.compliance import engine_hooks, kyc


def init_app(app: Flask) -> None:
    """Plug compliance into the movement engine: review alerts, sanctions and AML rules."""
    engine_hooks.init_app(app)
    hooks.on_name_change(app, kyc.check_name_change)  # a new name is screened first
