"""Schemas of the event stream's routes."""

import marshmallow as ma

from app.core.api import ArgsSchema, Schema
from app.events.tickets import TICKET_LENGTH


class TicketSchema(Schema):
    ticket = ma.fields.String(
        required=True, metadata={"description": "Opens one stream (`/stream?ticket=`), once."}
    )
    expires_in = ma.fields.Integer(required=True, metadata={"description": "Seconds"})


class StreamArgsSchema(ArgsSchema):
    ticket = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=2 * TICKET_LENGTH),
        metadata={"description": "A ticket from `POST /events/ticket` (single use)."},
    )
    last_event_id = ma.fields.Integer(
        validate=ma.validate.Range(min=0, max=2**63 - 1),
        metadata={
            "description": "Resume after this event (for clients that cannot send the "
            "`Last-Event-ID` header; the header wins)."
        },
    )
