"""KYC, sanctions screening, AML monitoring, alerts and case review."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Plug compliance into the movement engine (review alerts, sanctions and AML rules) and
    into the personal-data sections."""
    from app.compliance import privacy, services
    from app.compliance.engine_hooks import init_app as init_engine_hooks
    from app.ledger import engine

    engine.register_observer("review_alerts", services.observe_reviews)
    init_engine_hooks(app)
    privacy.register(app)
