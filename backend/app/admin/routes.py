"""HTTP routes of the admin domain (`/api/v1/admin`)."""

from __future__ import annotations

import uuid
from typing import Any

from app.admin import services
from app.admin.schemas import (
    AdminUserListSchema,
    AdminUserSchema,
    LockSchema,
    RolesSchema,
    UserQueryArgsSchema,
)
from app.auth.models import User
from app.auth.permissions import current_user, require
from app.core.api import Blueprint
from app.core.extensions import db
from app.core.pagination import Page

blp = Blueprint(
    "admin", __name__, url_prefix="/api/v1/admin", description="User and account administration."
)


@blp.route("/users", methods=["GET"])
@require("admin:users")
@blp.arguments(UserQueryArgsSchema, location="query")
@blp.response(200, AdminUserListSchema)
def list_users(args: dict[str, Any]) -> Page:
    """Users, filtered by text, role and status (paginated)."""
    return services.list_users(db.session(), **args)


@blp.route("/users/<uuid:user_id>/lock", methods=["POST"])
@require("admin:users")
@blp.arguments(LockSchema, required=False)
@blp.response(200, AdminUserSchema)
def lock_user(data: dict[str, Any] | None, user_id: uuid.UUID) -> User:
    """Lock a user's login and revoke all of their sessions."""
    return services.lock_user(
        db.session(), actor=current_user(), public_id=user_id, reason=(data or {}).get("reason")
    )


@blp.route("/users/<uuid:user_id>/unlock", methods=["POST"])
@require("admin:users")
@blp.response(200, AdminUserSchema)
def unlock_user(user_id: uuid.UUID) -> User:
    """Unlock a user's login (administrator lock and automatic lockout)."""
    return services.unlock_user(db.session(), actor=current_user(), public_id=user_id)


@blp.route("/users/<uuid:user_id>/roles", methods=["PUT"])
@require("admin:users")
@blp.arguments(RolesSchema)
@blp.response(200, AdminUserSchema)
def set_roles(data: dict[str, Any], user_id: uuid.UUID) -> User:
    """Replace a user's roles."""
    return services.set_roles(db.session(), actor=current_user(), public_id=user_id, **data)
