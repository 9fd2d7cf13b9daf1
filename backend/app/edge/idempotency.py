"""`@idempotent()`: the HTTP side of idempotency keys (claim, run the view, store or replay).

The claims themselves live in `app.core.idempotency`; this decorator ties them to a request.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Response, current_app, request
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from app.core.errors import DomainError, ValidationError, handle_domain_error
from app.core.idempotency import (
    _NOT_A_DECISION,
    ARMED_KEY,
    HEADER,
    REPLAYED_HEADER,
    IdempotencyKeyRequired,
    _Stored,
    claim,
    fingerprint,
    release,
    store,
)
from app.edge.permissions import current_user


def replay(stored: _Stored) -> Response:
    response = Response(stored.body, status=stored.status)
    for name, value in stored.headers.items():
        response.headers[name] = value
    response.headers[REPLAYED_HEADER] = "true"
    return response


def _end_read_transaction(session: Session) -> None:
    """Commit what is only a read transaction, keeping loaded objects loaded."""
    previous = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = previous


def _is_decision(exc: DomainError) -> bool:
    return exc.status < 500 and exc.code not in _NOT_A_DECISION


def idempotent(*, required: bool = True) -> Callable:
    """Make a view idempotent per user and `Idempotency-Key` (place under `@require`)."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = request.headers.get(HEADER)
            if key is None:
                if required:
                    raise IdempotencyKeyRequired()
                return view(*args, **kwargs)
            if not 1 <= len(key) <= 255:
                raise ValidationError(
                    "The Idempotency-Key is not valid.",
                    details={HEADER: ["Between 1 and 255 characters."]},
                )
            from app.extensions import db

            user_id = current_user().id
            session = db.session()
            if session.get_bind().dialect.name != "postgresql":
                # SQLite: the claim takes the one writable connection; end the read first.
                # (On PostgreSQL the claim has a pool of its own and commits by itself.)
                _end_read_transaction(session)
            outcome = claim(
                user_id=user_id,
                key=key,
                fingerprint=fingerprint(request.method, request.path, request.get_data()),
            )
            if isinstance(outcome, _Stored):
                return replay(outcome)
            session.info[ARMED_KEY] = outcome
            try:
                try:
                    response = current_app.make_response(view(*args, **kwargs))
                except DomainError as exc:
                    db.session.rollback()
                    if not _is_decision(exc) and release(outcome):
                        raise
                    response = handle_domain_error(exc)
                except (HTTPException, Exception):
                    db.session.rollback()
                    release(outcome)  # a no-op when the movement committed: the key stays spent
                    raise
                _end_read_transaction(session)
            finally:
                session.info.pop(ARMED_KEY, None)
            if response.status_code >= 500 and release(outcome):
                return response
            store(outcome, response)
            return response

        wrapper._idempotency_key = required  # documented by core.api.Blueprint
        return wrapper

    return decorator
