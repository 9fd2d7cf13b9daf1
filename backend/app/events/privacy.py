"""The events' part in the personal data export and in erasure.

A person's export lists the events written for them (type, time, payload; the payloads carry
ids, amounts and statuses, never a secret). Erasure deletes them, and any stream ticket of
theirs: an event is a notification, not a record the bank must keep (the ledger and the
audit trail are those, and stay). Events for the compliance queue name no person
(`user_id` is empty) and are not touched.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from app.auth.models import User
from app.core.events import Event
from app.core.personal_data import Section, personal_data, time_text
from app.events.models import EventTicket

# Bounded: the export is one JSON document; older events go with the retention anyway.
EXPORT_LIMIT = 10_000


def register(app: Flask) -> None:
    """Add the section to the app's personal-data registry."""
    personal_data(app).add(Section("events", 900, export=_export, erase=_erase))


def _export(session: Session, user: User) -> list[dict[str, Any]]:
    rows = session.scalars(
        sa.select(Event)
        .where(Event.user_id == user.id, Event.audience == "customer")
        .order_by(Event.id)
        .limit(EXPORT_LIMIT)
    )
    return [
        {
            "id": str(row.public_id),
            "type": row.type,
            "version": row.version,
            "occurred_at": time_text(row.occurred_at),
            "data": row.data,
        }
        for row in rows
    ]


def _erase(session: Session, user: User, pseudonym: str) -> None:
    session.execute(sa.delete(Event).where(Event.user_id == user.id))
    session.execute(sa.delete(EventTicket).where(EventTicket.user_id == user.id))
