"""KYC, sanctions screening, AML monitoring, alerts and case review."""

from __future__ import annotations

from flask import Flask

from app.auth import hooks
from app.compliance import engine_hooks, kyc
from app.core import audit


def init_app(app: Flask) -> None:
    """Plug compliance into the movement engine (review alerts, sanctions and AML rules) and
    the screening of a change of name; name the KYC data for the audit log's masks."""
    engine_hooks.init_app(app)
    hooks.on_name_change(app, kyc.check_name_change)  # a new name is screened first
    masks = audit.masks(app)
    masks.personal("email", hint=audit.email_address)
    masks.personal("phone", "document_number", hint=audit.last_four)
    masks.personal("date_of_birth", hint=audit.birth_year)
    masks.personal("first_name", "last_name", "name")
    masks.personal("address", "line1", "line2", "city", "postal_code")
