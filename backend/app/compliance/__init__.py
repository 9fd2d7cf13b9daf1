"""Compliance: alerts on movements held for review, and the officers' decisions."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Open an alert for every movement held for review, and close it with the decision."""
    from app.compliance import services
    from app.ledger import engine

    engine.register_observer("review_alerts", services.observe_reviews)
