"""User administration: list, lock, unlock, set roles — each change audited."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.models import User, UserRole
from app.auth.tokens import now, revoke_sessions
from app.auth.users import get_user
from app.core import audit, uow
from app.core.db import for_update
from app.core.errors import Conflict
from app.core.pagination import Page, paginate


def user_status(user: User) -> str:
    if not user.is_active:
        return "inactive"
    if user.admin_locked_at is not None or (user.locked_until and user.locked_until > now()):
        return "locked"
    return "active"


def _with_status(user: User) -> User:
    user.status = user_status(user)  # type: ignore[attr-defined]
    return user


def list_users(
    session: Session,
    *,
    q: str | None = None,
    role: str | None = None,
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page:
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
    page = paginate(session, query, model=User, limit=limit, cursor=cursor)
    page.items = [_with_status(user) for user in page.items]
    return page


def _target(session: Session, public_id: uuid.UUID, actor: User) -> User:
    user = get_user(session, public_id=public_id)
    return session.scalars(for_update(sa.select(User).where(User.id == user.id))).one()


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
    uow.commit(session)
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
    uow.commit(session)
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
    uow.commit(session)
    return _with_status(user)
