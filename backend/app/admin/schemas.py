"""Schemas of user administration."""

from __future__ import annotations

import marshmallow as ma

from app.auth.models import Role
from app.auth.schemas import UserSchema
from app.core.api import ArgsSchema, Schema
from app.core.fields import Cursor, UTCDateTime


class AdminUserSchema(UserSchema):
    status = ma.fields.String(metadata={"description": "active, locked or inactive"})
    locked_until = UTCDateTime(allow_none=True)
    admin_locked_at = UTCDateTime(allow_none=True)
    last_login_at = UTCDateTime(allow_none=True)


class AdminUserListSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(AdminUserSchema))
    next_cursor = Cursor(allow_none=True)


class UserQueryArgsSchema(ArgsSchema):
    q = ma.fields.String(validate=ma.validate.Length(min=1, max=100))
    role = ma.fields.String(validate=ma.validate.OneOf([r.value for r in Role]))
    status = ma.fields.String(validate=ma.validate.OneOf(["active", "locked", "inactive"]))
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=200))
    cursor = Cursor()


class RolesSchema(Schema):
    roles = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf([r.value for r in Role])),
        required=True,
        validate=ma.validate.Length(min=1, max=4),
    )


class LockSchema(Schema):
    reason = ma.fields.String(validate=ma.validate.Length(max=500))
