"""KYC, sanctions screening, AML monitoring, alerts and case review."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Plug compliance into the movement engine: review alerts, sanctions and AML rules."""
    from app.auth import hooks
    from app.compliance import kyc, services
    from app.compliance.engine_hooks import init_app as init_engine_hooks
    from app.ledger import engine

    engine.register_observer(app, "review_alerts", services.observe_reviews)
    hooks.on_name_change(app, kyc.check_name_change)  # a new name is screened first
    init_engine_hooks(app)
