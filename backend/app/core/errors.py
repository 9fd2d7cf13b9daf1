"""One error hierarchy and one envelope for every 4xx/5xx the API returns.

`{"error": {"code", "message", "details", "request_id"}}` — see API.md, "Error envelope".
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, jsonify
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import BadRequest, HTTPException, MethodNotAllowed

from app.core.extensions import db

log = logging.getLogger("flowlet.errors")


class DomainError(Exception):
    """Base of every business-rule failure; carries an HTTP status and a stable code."""

    status: int = 400
    code: str = "bad_request"
    message: str = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        code: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.details = details or {}
        self.headers = headers or {}
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class ValidationError(DomainError):
    status, code, message = 422, "validation_error", "The request body is not valid."


class NotFound(DomainError):
    status, code, message = 404, "not_found", "The resource was not found."


class Conflict(DomainError):
    status, code, message = 409, "conflict", "The request conflicts with the current state."


class Forbidden(DomainError):
    status, code, message = 403, "forbidden", "You do not have permission to do this."


class Unauthorized(DomainError):
    status, code, message = 401, "unauthorized", "Authentication is required."


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "validation_error",
    423: "account_locked",
    429: "rate_limited",
    431: "header_fields_too_large",
    500: "internal_error",
    503: "service_unavailable",
}


def request_id() -> str | None:
    return getattr(g, "request_id", None)


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Build the envelope response; the only place that shapes an error body."""
    body = {
        "error": {
            "code": code,
            "message": message,
            "details": details or {},
            "request_id": request_id(),
        }
    }
    response = jsonify(body)
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _flatten_webargs_messages(messages: Any) -> dict[str, list[str]]:
    """webargs nests messages by location ({"json": {"amount": [...]}}); clients want fields."""
    details: dict[str, list[str]] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                name = f"{prefix}.{key}" if prefix else str(key)
                walk(name, sub)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            details.setdefault(prefix or "_schema", []).extend(value)
        elif isinstance(value, list):
            for index, sub in enumerate(value):
                walk(f"{prefix}.{index}", sub)
        else:
            details.setdefault(prefix or "_schema", []).append(str(value))

    if isinstance(messages, dict):
        for location, fields in messages.items():
            if location in {"json", "query", "querystring", "form", "headers", "files", "path"}:
                walk("", fields)
            else:
                walk(str(location), fields)
    else:
        walk("", messages)
    return details


def handle_http_exception(exc: HTTPException) -> Response:
    """Routing errors, abort() and webargs/smorest validation errors, in our envelope."""
    status = exc.code or 500
    code = _HTTP_CODES.get(status, "error")
    data = getattr(exc, "data", None) or {}
    headers = dict(data.get("headers") or {})
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    if status == 422:
        details = _flatten_webargs_messages(data.get("messages", {}))
        return error_response(
            422, "validation_error", "The request is not valid.", details, headers
        )
    if status == 429:
        headers.setdefault("Retry-After", str(getattr(exc, "retry_after", None) or 60))
        return error_response(
            429, "rate_limited", "Too many requests; try again later.", None, headers
        )
    message = data.get("message") or exc.description or "Request failed."
    if status == 400 and message == BadRequest.description:
        message = "The request could not be read; is the body valid JSON?"
    if status == 404:
        message = "The requested resource was not found."
    elif status == 405:
        message = "The method is not allowed for this resource."
    return error_response(status, code, message, None, headers)


def handle_domain_error(exc: DomainError) -> Response:
    """The envelope of a `DomainError` (the error handler, and `@idempotent` for its outcome)."""
    if exc.status >= 500:
        log.error("domain error %s: %s", exc.code, exc.message)
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


def handle_integrity_error(exc: IntegrityError) -> Response:
    db.session.rollback()
    log.warning("integrity error: %s", type(exc.orig).__name__ if exc.orig else "unknown")
    return error_response(409, "conflict", "The request conflicts with existing data.")


def handle_unexpected(exc: Exception) -> Response:
    try:
        db.session.rollback()
    except Exception:
        log.exception("rollback after an unexpected error failed")
    log.exception("unhandled error", extra={"request_id": request_id()})
    return error_response(500, "internal_error", "An unexpected error occurred.")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(Exception, handle_unexpected)
