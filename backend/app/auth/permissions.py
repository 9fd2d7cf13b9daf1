"""Role-based access: one permission table and one decorator on every protected route.

`@require("accounts:write")` verifies the bearer token (signature, expiry, freshness when
asked, and that its session is not revoked), refuses a staff token used from outside
`STAFF_ALLOWED_NETWORKS` (403 `network_not_allowed`, audited; `auth.networks`), checks that one
of the principal's roles grants the permission (403 `forbidden` otherwise) and records the actor
for the audit log. Views then call `current_user_id()` when the caller's id is enough, or
`current_user()` for the user row (loaded on the first call, one query).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import sqlalchemy as sa
from flask import Flask, Response, g
from flask_jwt_extended import get_jwt, verify_jwt_in_request
from sqlalchemy.orm import joinedload

from app.auth import networks
from app.auth.errors import InvalidToken
from app.auth.models import Role, User
from app.auth.tokens import LiveSessions, Principal, is_token_revoked
from app.core import context
from app.core.errors import Forbidden, Unauthorized, error_response
from app.core.extensions import db, jwt

C, OFF, A, P = Role.CUSTOMER, Role.COMPLIANCE_OFFICER, Role.ADMIN, Role.CARD_PROCESSOR

_Params = ParamSpec("_Params")
_Result = TypeVar("_Result")

PERMISSIONS: dict[str, frozenset[Role]] = {
    "profile": frozenset({C, OFF, A, P}),
    "accounts:read": frozenset({C}),
    "accounts:write": frozenset({C}),
    "transactions:read": frozenset({C}),
    "transactions:write": frozenset({C}),
    "transactions:reverse": frozenset({OFF, A}),
    "cards:read": frozenset({C}),
    "cards:write": frozenset({C}),
    "card_network": frozenset({P}),
    "kyc:submit": frozenset({C}),
    "compliance:review": frozenset({OFF}),
    "audit:read": frozenset({OFF}),
    "privacy": frozenset({C, OFF, A}),
    "privacy:decide": frozenset({OFF}),
    "wealth": frozenset({C}),
    "admin:users": frozenset({A}),
    "admin:accounts": frozenset({A}),
    "admin:webhooks": frozenset({A}),
    "events": frozenset({C, OFF}),
}


def roles_for(permission: str) -> frozenset[Role]:
    try:
        return PERMISSIONS[permission]
    except KeyError as exc:  # a typo in a decorator must fail loudly at import time
        raise KeyError(f"unknown permission {permission!r}") from exc


def require(
    permission: str, *, fresh: bool = False
) -> Callable[[Callable[_Params, _Result]], Callable[_Params, _Result]]:
    """Protect a view: a valid (and, when `fresh`, fresh) token whose user holds the permission."""
    allowed = frozenset(role.value for role in roles_for(permission))

    def decorator(view: Callable[_Params, _Result]) -> Callable[_Params, _Result]:
        @functools.wraps(view)
        def wrapper(*args: _Params.args, **kwargs: _Params.kwargs) -> _Result:
            verify_jwt_in_request(fresh=fresh)
            principal = current_principal()
            networks.enforce_for_token(subject=principal.subject, roles=principal.roles)
            if allowed.isdisjoint(principal.roles):
                raise Forbidden("Your role does not allow this action.")
            return view(*args, **kwargs)

        wrapper._flowlet_permission = permission  # type: ignore[attr-defined]
        return wrapper

    return decorator


def token_is_fresh() -> bool:
    """Whether this request's access token is fresh (a login or step-up issued it just now).

    For rules where only some requests need a fresh token (transfers above a threshold);
    `require(..., fresh=True)` covers the endpoints that always do.
    """
    fresh = get_jwt().get("fresh", False)
    if isinstance(fresh, bool):
        return fresh
    return time.time() < float(fresh)


def current_principal() -> Principal:
    """Whom this request's token speaks for (after `@require`): ids and roles, no query."""
    principal: Principal | None = getattr(g, "principal", None)
    if principal is None:
        raise Unauthorized("Authentication is required.")
    return principal


def current_user_id() -> int:
    """The authenticated user's id (after `@require`), without loading the user."""
    return current_principal().user_id


# The caller's row with its roles, built once (the id is bound per call).
_USER = sa.select(User).options(joinedload(User.role_links)).where(User.id == sa.bindparam("uid"))


def current_user() -> User:
    """The authenticated user of this request (after `@require`), loaded on the first call.

    The row is read now, so a login disabled or locked since the token's session was last
    checked is refused here (401 `invalid_token`).
    """
    user: User | None = getattr(g, "current_user", None)
    if user is None:
        principal = current_principal()
        user = db.session.execute(_USER, {"uid": principal.user_id}).unique().scalar_one_or_none()
        if user is None or not user.is_active or user.admin_locked_at is not None:
            raise InvalidToken("The token's user is no longer active.")
        g.current_user = user
    return user


def init_jwt(app: Flask) -> None:
    """Identity loading and the envelope for every token error."""
    # A malformed STAFF_ALLOWED_NETWORKS stops the app from starting, not a sign-in.
    try:
        networks.parse_networks(str(app.config.get("STAFF_ALLOWED_NETWORKS") or ""))
    except ValueError as exc:
        raise RuntimeError(f"STAFF_ALLOWED_NETWORKS is not a list of CIDRs: {exc}") from exc
    app.extensions["flowlet_live_sessions"] = LiveSessions(
        float(app.config["AUTH_SESSION_CACHE_SECONDS"])
    )

    @jwt.user_identity_loader
    def _identity(user: User | str) -> str:
        return str(user.public_id) if isinstance(user, User) else str(user)

    @jwt.user_lookup_loader
    def _lookup(_header: dict[str, Any], payload: dict[str, Any]) -> Principal | None:
        g.pop("current_user", None)  # a test may share `g` between requests: load anew
        # Set by the revocation check of this request.
        principal: Principal | None = g.get("principal")
        if principal is None or not principal.active:
            return None
        context.set_actor(
            principal.subject, ",".join(principal.roles) or None, user_id=principal.user_id
        )
        return principal

    @jwt.token_in_blocklist_loader
    def _revoked_check(_header: dict[str, Any], payload: dict[str, Any]) -> bool:
        # Every request: the token's session must exist and be live (the database decides;
        # a live one is remembered for AUTH_SESSION_CACHE_SECONDS, see auth.tokens).
        return is_token_revoked(payload)

    @jwt.user_lookup_error_loader
    def _lookup_error(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
        return error_response(401, "invalid_token", "The token's user is no longer active.")

    @jwt.unauthorized_loader
    def _missing(reason: str) -> Response:
        return error_response(401, "unauthorized", "A bearer access token is required.")

    @jwt.invalid_token_loader
    def _invalid(reason: str) -> Response:
        return error_response(401, "invalid_token", "The token is not valid.")

    @jwt.expired_token_loader
    def _expired(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
        return error_response(401, "token_expired", "The token has expired.")

    @jwt.revoked_token_loader
    def _revoked(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
        return error_response(401, "token_revoked", "The token has been revoked.")

    @jwt.needs_fresh_token_loader
    def _not_fresh(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
        return error_response(
            401, "fresh_token_required", "This action needs a fresh token; use /auth/step-up."
        )
