"""User administration: list, lock, unlock, set roles — each change audited."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.models import User, UserRole
from app.auth.services import get_user
from app.auth.tokens import now, revoke_sessions
from app.core import audit
from app.core.errors import Conflict, ValidationError


def user_status(user: User) -> str:
    if not user.is_active:
        return "inactive"
    if user.admin_locked_at is not None or (user.locked_until and user.locked_until > now()):
        return "locked"
    return "active"


def _with_status(user: User) -> User:
    user.status = user_status(user)  # type: ignore[attr-defined]
    return user


def _encode_cursor(user: User) -> str:
    raw = f"{user.created_at.isoformat()}|{user.public_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        created, _, public_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(created), uuid.UUID(public_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValidationError("Bad cursor.", details={"cursor": ["Not a valid cursor."]}) from exc


def list_users(
    session: Session,
    *,
    q: str | None = None,
    role: str | None = None,
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[User], str | None]:
    """Users matching the filters, newest first, keyset-paginated."""
    query = sa.select(User)
    if q:
        pattern = f"%{q.strip().lower()}%"
        query = query.where(
            sa.or_(
                sa.func.lower(User.email).like(pattern),
                sa.func.lower(User.username).like(pattern),
                sa.func.lower(User.first_name).like(pattern),
                sa.func.lower(User.last_name).like(pattern),
            )
        )
    if role:
        query = query.where(sa.exists().where(UserRole.user_id == User.id, UserRole.role == role))
    moment = now()
    locked = sa.or_(User.admin_locked_at.is_not(None), User.locked_until > moment)
    if status == "inactive":
        query = query.where(User.is_active.is_(False))
    elif status == "locked":
        query = query.where(User.is_active.is_(True), locked)
    elif status == "active":
        query = query.where(User.is_active.is_(True), sa.not_(locked))
    if cursor:
        created, public_id = _decode_cursor(cursor)
        query = query.where(sa.tuple_(User.created_at, User.public_id) < (created, public_id))
    rows = list(
        session.scalars(
            query.order_by(User.created_at.desc(), User.public_id.desc()).limit(limit + 1)
        )
    )
    next_cursor = _encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return [_with_status(user) for user in rows[:limit]], next_cursor


def _target(session: Session, public_id: uuid.UUID, actor: User) -> User:
    user = get_user(session, public_id=public_id)
    return session.scalars(
        sa.select(User)
        .where(User.id == user.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def lock_user(session: Session, *, actor: User, public_id: uuid.UUID, reason: str | None) -> User:
    """Lock a login until unlocked; all of the user's tokens are revoked at once."""
    user = _target(session, public_id, actor)
    if user.id == actor.id:
        raise Conflict("You cannot lock your own account.")
    if user.admin_locked_at is None:
        user.admin_locked_at = now()
    revoked = revoke_sessions(session, user_id=user.id, reason="admin_locked")
    audit.record(
        session,
        "admin.user_locked",
        resource_type="user",
        resource=user,
        changes={"reason": reason, "sessions_revoked": len(revoked)},
    )
    session.commit()
    return _with_status(user)


def unlock_user(session: Session, *, actor: User, public_id: uuid.UUID) -> User:
    """Lift an administrator's lock and any automatic lockout."""
    user = _target(session, public_id, actor)
    before = {
        "admin_locked": user.admin_locked_at is not None,
        "locked_until": user.locked_until,
        "failed_login_count": user.failed_login_count,
    }
    user.admin_locked_at = None
    user.locked_until = None
    user.failed_login_count = 0
    user.lockout_count = 0
    audit.record(
        session, "admin.user_unlocked", resource_type="user", resource=user, changes=before
    )
    session.commit()
    return _with_status(user)


def set_roles(session: Session, *, actor: User, public_id: uuid.UUID, roles: list[str]) -> User:
    """Replace a user's roles; an administrator cannot drop their own admin role."""
    user = _target(session, public_id, actor)
    wanted = sorted(set(roles))
    if user.id == actor.id and "admin" not in wanted:
        raise Conflict("You cannot remove your own admin role.")
    before = user.roles
    user.set_roles(wanted)
    audit.record(
        session,
        "admin.user_roles_set",
        resource_type="user",
        resource=user,
        changes={"before": before, "after": wanted},
    )
    session.commit()
    return _with_status(user)
