"""The broker catalogue: loaded from `fixtures/brokers.json` by `init-db`, read by the API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.core.errors import ValidationError
from app.wealth.models import Broker, IntegrationType

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "brokers.json"
_REQUIRED = ("code", "name", "integration_type", "country", "supports_2fa", "credentials_schema")


def _check_entry(entry: dict[str, Any]) -> None:
    missing = [k for k in _REQUIRED if k not in entry]
    if missing:
        raise ValueError(f"broker {entry.get('code')!r} lacks {', '.join(missing)}")
    IntegrationType(entry["integration_type"])
    # The credentials schema must itself be a valid JSON Schema (draft 2020-12).
    jsonschema.Draft202012Validator.check_schema(entry["credentials_schema"])


def load_catalogue(session: Session, path: Path = FIXTURE) -> int:
    """Insert or update every broker of the fixture; returns how many. Flushes only."""
    entries = json.loads(path.read_text())
    for entry in entries:
        _check_entry(entry)
        broker = session.scalar(sa.select(Broker).where(Broker.code == entry["code"]))
        if broker is None:
            broker = Broker(code=entry["code"])
            session.add(broker)
        broker.name = entry["name"]
        broker.integration_type = entry["integration_type"]
        broker.country = entry["country"]
        broker.supports_2fa = bool(entry["supports_2fa"])
        broker.credentials_schema = entry["credentials_schema"]
        broker.settings = entry.get("settings", {})
        broker.active = bool(entry.get("active", True))
    session.flush()
    return len(entries)


def seed_broker_catalogue(session: Session) -> None:
    """`init-db`: the broker catalogue from the fixture (safe to run again)."""
    load_catalogue(session)


def list_brokers(session: Session) -> list[Broker]:
    """The active brokers, by name."""
    return list(
        session.scalars(sa.select(Broker).where(Broker.active.is_(True)).order_by(Broker.name))
    )


def get_broker(session: Session, *, code: str) -> Broker:
    broker = session.scalar(sa.select(Broker).where(Broker.code == code, Broker.active.is_(True)))
    if broker is None:
        raise ValidationError(
            "Unknown broker.", details={"broker_code": ["No active broker has this code."]}
        )
    return broker


def validate_credentials(broker: Broker, credentials: dict[str, Any]) -> None:
    """Check credentials against the broker's JSON Schema; 422 naming fields, never values."""
    validator = jsonschema.Draft202012Validator(broker.credentials_schema)
    errors = sorted(validator.iter_errors(credentials), key=lambda e: list(e.path))
    if not errors:
        return
    details: dict[str, list[str]] = {}
    for error in errors:
        where = ".".join(str(p) for p in ("credentials", *error.path))
        # The validator's message quotes the offending value; name the rule instead.
        details.setdefault(where, []).append(_describe(error))
    raise ValidationError("The credentials do not match what this broker needs.", details=details)


def _describe(error: jsonschema.ValidationError) -> str:
    rule = error.validator
    if rule == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "a field"
        return f"Missing required field {missing}."
    if rule == "additionalProperties":
        return "Unknown fields are not accepted."
    if rule == "type":
        return f"Must be of type {error.validator_value}."
    if rule in ("minLength", "maxLength"):
        return f"Violates {rule} {error.validator_value}."
    return f"Violates the {rule} rule."
