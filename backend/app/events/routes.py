"""HTTP routes of the event stream (`/api/v1/events`).

In production the proxy sends `/api/v1/events/stream` to the stream server
(`flask events serve`); this app's own `/stream` answers where none is deployed.
"""

import re

from flask import Response, request
from flask_jwt_extended import get_jwt

from app.auth.permissions import current_principal, require
from app.core.api import Blueprint
from app.core.extensions import db
from app.core.streaming import stream
from app.events import services
from app.events.schemas import StreamArgsSchema, TicketSchema
from app.events.stream import CONTENT_TYPE, HEADERS

blp = Blueprint(
    "events",
    __name__,
    url_prefix="/api/v1/events",
    description="Your events as they happen (Server-Sent Events).",
)


@blp.route("/ticket", methods=["POST"])
@require("events")
@blp.response(201, TicketSchema)
def create_ticket():
    """A single-use ticket that opens your event stream within 60 seconds."""
    principal = current_principal()
    return services.open_ticket(
        db.session(),
        user_id=principal.user_id,
        roles=frozenset(principal.roles),
        session_id=get_jwt().get("sid"),
    )


@blp.route("/stream", methods=["GET"])
@blp.arguments(StreamArgsSchema, location="query")
@blp.response(200, content_type="text/event-stream")
def open_stream(args):
    """Your events as they happen; resumes after `Last-Event-ID` (401 for a bad ticket)."""
    _keep_ticket_out_of_access_logs(request.environ)
    opened = services.open_stream(
        db.session(),
        ticket=args["ticket"],
        last_event_id=request.headers.get("Last-Event-ID"),
        resume_after=args.get("last_event_id"),
    )
    return Response(stream(opened.body), content_type=CONTENT_TYPE, headers=HEADERS)


_TICKET = re.compile(r"(^|[?&])ticket=[^&]*")


def _keep_ticket_out_of_access_logs(environ: dict) -> None:
    """gunicorn writes its access-log line from the request's environ once the response is
    done; the query string must not carry the ticket into it (the ticket is read already)."""
    for key in ("RAW_URI", "REQUEST_URI", "QUERY_STRING"):
        value = environ.get(key)
        if isinstance(value, str):
            environ[key] = _TICKET.sub(r"\1ticket=-", value)
