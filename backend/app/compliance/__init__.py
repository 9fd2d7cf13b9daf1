"""KYC, sanctions screening, AML monitoring, alerts and case review."""

from __future__ import annotations

from flask import Flask

from app.core import audit


def init_app(app: Flask) -> None:
    """Plug compliance into the movement engine: review alerts, sanctions and AML rules; name
    the KYC data for the audit log's masks."""
    from app.compliance import services
    from app.compliance.engine_hooks import init_app as init_engine_hooks
    from app.ledger import engine

    engine.register_observer("review_alerts", services.observe_reviews)
    init_engine_hooks(app)
    masks = audit.masks(app)
    masks.personal("email", hint=audit.email_address)
    masks.personal("phone", "document_number", hint=audit.last_four)
    masks.personal("date_of_birth", hint=audit.birth_year)
    masks.personal("first_name", "last_name", "name")
    masks.personal("address", "line1", "line2", "city", "postal_code")
