"""Input hygiene at the edge, once, for every route.

Every body and query string goes through `HygienicParser` (flask-smorest's argument parser for
all our blueprints) and every request through `init_app`'s hook:

* the request line and headers: a URL (path and query) of at most `MAX_URL_LENGTH` bytes (414),
  at most `MAX_HEADER_COUNT` header fields of at most `MAX_HEADER_FIELD_SIZE` bytes each (431),
  below gunicorn's own limits (gunicorn.conf.py), so the client gets our envelope;
* bodies: at most `MAX_CONTENT_LENGTH` bytes, chunked or not (413); a route that reads a JSON
  body refuses a body of any other Content-Type (415); JSON that parses, nested at most
  `MAX_JSON_DEPTH` levels (400);
* strings, in bodies, query strings and headers: no NUL and no lone UTF-16 surrogate (422,
  naming the field);
* what the schemas load: dates and times between 1900 and 2999, integers inside a signed
  64-bit column, decimals finite and below 10^15 (422, naming the field).

Failures are answered in the error envelope and logged as one line, without a traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import marshmallow as ma
from flask import Flask, Request, request
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import RequestEntityTooLarge

from app.core.errors import DomainError, ValidationError

log = logging.getLogger("flowlet.hygiene")

MAX_JSON_DEPTH = 32
MIN_DATE, MAX_DATE = date(1900, 1, 1), date(2999, 12, 31)
MAX_INT = 2**63 - 1
MAX_DECIMAL = Decimal(10) ** 15
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class MalformedBody(DomainError):
    status, code, message = 400, "bad_request", "The request body is not valid JSON."


class PayloadTooLarge(DomainError):
    status, code, message = 413, "payload_too_large", "The request body is too large."


class UnsupportedMediaType(DomainError):
    status, code = 415, "unsupported_media_type"
    message = "The request body must be JSON (Content-Type: application/json)."


class UriTooLong(DomainError):
    status, code, message = 414, "uri_too_long", "The URL is too long."


class HeaderFieldsTooLarge(DomainError):
    status, code = 431, "header_fields_too_large"
    message = "The request has too many header fields, or one that is too large."


def _bad_text(value: str) -> str | None:
    if "\x00" in value:
        return "Text may not contain NUL characters."
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "Text may not contain unpaired UTF-16 surrogates."
    return None


def check_strings(value: Any, path: str = "") -> dict[str, list[str]]:
    """Field path → reason for every bad string (keys included) in a parsed JSON value."""
    problems: dict[str, list[str]] = {}
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            reason = _bad_text(item)
            if reason:
                problems.setdefault(where or "_schema", []).append(reason)
        elif isinstance(item, dict):
            for key, sub in item.items():
                name = f"{where}.{key}" if where else str(key)
                reason = _bad_text(str(key))
                if reason:
                    problems.setdefault(where or "_schema", []).append(reason)
                    name = f"{where}.<key>" if where else "<key>"
                stack.append((sub, name))
        elif isinstance(item, list):
            stack.extend((sub, f"{where}.{i}") for i, sub in enumerate(item))
    return problems


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest in a parsed JSON value (iteratively)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:
                break
            stack.extend(
                (sub, depth) for sub in (item.values() if isinstance(item, dict) else item)
            )
    return deepest


def parse_json(data: bytes | str) -> Any:
    """Parse a body under the limits above; raises MalformedBody or ValidationError."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise MalformedBody("The request body is not UTF-8.") from exc
    too_deep = MalformedBody(f"JSON may nest at most {MAX_JSON_DEPTH} levels.")
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError as exc:
        raise too_deep from exc
    except ValueError as exc:
        raise MalformedBody("The request body is not valid JSON.") from exc
    if _depth(value) > MAX_JSON_DEPTH:
        raise too_deep
    problems = check_strings(value)
    if problems:
        raise ValidationError("The request contains text that cannot be stored.", details=problems)
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_or_none() -> Any:
    """The request's JSON body if it passes the limits, else None (rate-limit key functions)."""
    if not request.is_json:
        return None
    try:
        return parse_json(request.get_data(cache=True))
    except (DomainError, RequestEntityTooLarge):
        return None


def check_bounds(value: Any, path: str = "") -> dict[str, list[str]]:
    """Field path → reason for loaded values outside what we store (dates, ints, decimals)."""
    problems: dict[str, list[str]] = {}
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        reason = None
        if isinstance(item, bool):
            continue
        if isinstance(item, datetime):
            if not MIN_DATE <= item.date() <= MAX_DATE:
                reason = "The time must be between 1900 and 2999."
        elif isinstance(item, date):
            if not MIN_DATE <= item <= MAX_DATE:
                reason = "The date must be between 1900 and 2999."
        elif isinstance(item, int):
            if not -MAX_INT <= item <= MAX_INT:
                reason = "The number is out of range."
        elif isinstance(item, Decimal):
            if not item.is_finite() or abs(item) >= MAX_DECIMAL:
                reason = "The number is out of range."
        elif isinstance(item, dict):
            stack.extend(
                (sub, f"{where}.{key}" if where else str(key)) for key, sub in item.items()
            )
        elif isinstance(item, list | tuple):
            stack.extend((sub, f"{where}.{i}") for i, sub in enumerate(item))
        if reason:
            problems.setdefault(where or "_schema", []).append(reason)
    return problems


class HygienicParser(FlaskParser):
    """webargs' Flask parser with the limits above on what it reads and what it loads."""

    def _raw_load_json(self, req: Request) -> Any:
        try:
            data = req.get_data(cache=True)
        except RequestEntityTooLarge as exc:
            raise PayloadTooLarge() from exc
        if not data:
            return core.missing
        if not is_json_request(req):
            # A form or text body would otherwise be ignored and the route run without it.
            raise UnsupportedMediaType()
        return parse_json(data)

    def _process_location_data(
        self,
        location_data: Any,
        schema: ma.Schema,
        req: Request,
        location: str,
        unknown: str | None,
        validators: list[Callable[..., Any]],
    ) -> Any:
        result = super()._process_location_data(
            location_data, schema, req, location, unknown, validators
        )
        problems = check_bounds(result)
        if problems:
            # Name fields as the client sent them (`to`, not the attribute `end`).
            wire = {name: field.data_key or name for name, field in schema.fields.items()}
            problems = {
                ".".join([wire.get(head, head), *rest]): reasons
                for path, reasons in problems.items()
                for head, *rest in [path.split(".")]
            }
            raise ValidationError("A value is out of range.", details=problems)
        return result


def init_app(app: Flask) -> None:
    """Checks that need no schema: body size (chunked too), header and query text."""

    @app.before_request
    def _hygiene() -> None:
        _check_request_head(app)
        for name, value in request.headers.items():
            if "\x00" in value:
                raise MalformedBody(f"The {name} header contains a NUL character.")
        if request.method in _BODY_METHODS and request.content_length is None:
            # A chunked body has no Content-Length: read it (bounded) to enforce the limit.
            limit = app.config.get("MAX_CONTENT_LENGTH")
            try:
                data = request.get_data(cache=True)
                # The bounded stream stops at the limit; one more byte means the body is larger.
                if limit is not None and len(data) >= limit and request.stream.read(1):
                    raise PayloadTooLarge()
            except RequestEntityTooLarge as exc:
                raise PayloadTooLarge() from exc
        for key, value in request.args.items(multi=True):
            reason = _bad_text(key) or _bad_text(value)
            if reason:
                raise ValidationError(
                    "The query string contains text that cannot be used.", details={key: [reason]}
                )
        return None


def _check_request_head(app: Flask) -> None:
    """414 for a URL longer than `MAX_URL_LENGTH`, 431 for more header fields than
    `MAX_HEADER_COUNT` or one (name and value) longer than `MAX_HEADER_FIELD_SIZE` bytes."""
    environ = request.environ
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if target is None:
        query = environ.get("QUERY_STRING", "")
        target = request.full_path if query else request.path
    url_limit = app.config["MAX_URL_LENGTH"]
    if len(target.encode("latin-1", "replace")) > url_limit:
        raise UriTooLong(f"The URL is longer than {url_limit} bytes.")
    count_limit = app.config["MAX_HEADER_COUNT"]
    size_limit = app.config["MAX_HEADER_FIELD_SIZE"]
    headers = list(request.headers.items())
    if len(headers) > count_limit:
        raise HeaderFieldsTooLarge(f"The request has more than {count_limit} header fields.")
    for name, value in headers:
        if len(name) + len(value) > size_limit:
            raise HeaderFieldsTooLarge(
                f"The {name} header is longer than {size_limit} bytes.",
                details={name: [f"At most {size_limit} bytes."]},
            )
