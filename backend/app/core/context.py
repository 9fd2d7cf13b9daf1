"""Who is acting and from where: request id, actor, IP and user agent.

Set by the request hooks (and by the worker for jobs); read by the audit log and the logs.
Services never read `flask.request` themselves.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, g, has_request_context, request

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


@dataclass
class ActorContext:
    actor_id: str | None = None
    actor_role: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


_job_context: ContextVar[ActorContext | None] = ContextVar("flowlet_job_context", default=None)


def set_job_context(ctx: ActorContext | None) -> None:
    """Worker jobs have no request: they set their own context (actor `system`)."""
    _job_context.set(ctx)


def set_actor(actor_id: str | None, actor_role: str | None, user_id: int | None = None) -> None:
    """Record the authenticated actor of this request (called by the auth layer): its public
    id and roles for the audit log, and its internal user id for what the request keys by it."""
    if has_request_context():
        g.actor_id = actor_id
        g.actor_role = actor_role
        g.actor_user_id = user_id


def actor_user_id() -> int | None:
    """The internal id of this request's authenticated user (None before authentication)."""
    return getattr(g, "actor_user_id", None) if has_request_context() else None


def current() -> ActorContext:
    """The actor context of this request or job."""
    if has_request_context():
        return ActorContext(
            actor_id=getattr(g, "actor_id", None),
            actor_role=getattr(g, "actor_role", None),
            ip=request.remote_addr,
            user_agent=request.headers.get("User-Agent") or None,
            request_id=getattr(g, "request_id", None),
        )
    job_ctx = _job_context.get()
    if job_ctx is not None:
        return job_ctx
    return ActorContext(actor_role="system")


def init_app(app: Flask) -> None:
    @app.before_request
    def _assign_request_id() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID_RE.match(incoming) else str(uuid.uuid4())

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        rid = getattr(g, "request_id", None) or str(uuid.uuid4())
        response.headers["X-Request-ID"] = rid
        return response
