"""`@idempotent()`: the HTTP side of idempotency keys (look up, run the view, store or replay).

The key store lives in `app.core.idempotency`; this decorator ties it to a request. The view runs
in a unit of work held by the edge (`core.uow`): the movement, its audit record, its jobs and the
key with the exact response are written in one transaction and committed once, here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import Response, current_app, request
from flask.typing import ResponseReturnValue

from app.core import context, uow
from app.core.errors import DomainError, Unauthorized, ValidationError, handle_domain_error
from app.core.extensions import db
from app.core.idempotency import (
    HEADER,
    NOT_A_DECISION,
    REPLAYED_HEADER,
    IdempotencyKeyRequired,
    KeyRequest,
    Stored,
    fingerprint,
    lookup,
    stage,
)

P = ParamSpec("P")
R = TypeVar("R", bound="ResponseReturnValue")


def replay(stored: Stored) -> Response:
    response = Response(stored.body, status=stored.status)
    for name, value in stored.headers.items():
        response.headers[name] = value
    response.headers[REPLAYED_HEADER] = "true"
    return response


def _is_decision(exc: DomainError) -> bool:
    return exc.status < 500 and exc.code not in NOT_A_DECISION


def _key_request() -> KeyRequest | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= 255:
        raise ValidationError(
            "The Idempotency-Key is not valid.",
            details={HEADER: ["Between 1 and 255 characters."]},
        )
    user_id = context.actor_user_id()
    if user_id is None:  # @idempotent() goes under @require(...)
        raise Unauthorized("Authentication is required.")
    return KeyRequest(
        user_id=user_id,
        key=key,
        fingerprint=fingerprint(request.method, request.path, request.get_data()),
    )


def _run(view: Callable[[], ResponseReturnValue], key: KeyRequest) -> Response:
    work = uow.of(db.session())
    stored = lookup(work.session, key)
    if stored is not None:
        work.rollback()  # only a read
        return replay(stored)
    work.hold()
    try:
        try:
            response = current_app.make_response(view())
        except DomainError as exc:
            # A refusal the service recorded (`audit.refuse`) is in the unit; anything else
            # the view changed before raising is not kept.
            if not work.refused:
                work.rollback()
            if not _is_decision(exc):
                work.release(commit=True)  # the refusal's record, and no key: retry with it
                raise
            response = handle_domain_error(exc)
        if response.status_code >= 500:
            work.release(commit=False)
            return response
        written = stage(work.session, key, response)
        work.flush()  # the change's staged rows and the key with its answer: one statement
        if not written.inserted:
            # A concurrent request with this key committed first: ours never happened.
            work.release(commit=False)
            stored = lookup(work.session, key)
            work.rollback()
            return replay(stored) if stored is not None else response
        work.release(commit=True)
        return response
    except BaseException:
        if work.held:
            work.release(commit=False)
        raise


def idempotent(*, required: bool = True) -> Callable[[Callable[P, R]], Callable[P, R | Response]]:
    """Make a view idempotent per user and `Idempotency-Key` (place under `@require`)."""

    def decorator(view: Callable[P, R]) -> Callable[P, R | Response]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | Response:
            key = _key_request()
            if key is None:
                if required:
                    raise IdempotencyKeyRequired()
                return view(*args, **kwargs)
            return _run(lambda: view(*args, **kwargs), key)

        # Documented by core.api.Blueprint. A function attribute: typeshed's `_Wrapped` declares
        # none, so it is set in the function's namespace.
        wrapper.__dict__["_idempotency_key"] = required
        return wrapper

    return decorator
