"""Users: creation (CLI and registration), registration, profile, e-mail verification.

Every public function is one use case and owns its unit of work (it commits), except the
helpers documented as flushing only. Failed security events are audited in a transaction that
commits before the error is raised.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.auth import hooks
from app.auth.mail import send_verification
from app.auth.models import Role, User
from app.auth.one_time import VERIFY_EMAIL, bad_link, find_one_time
from app.auth.password_policy import check_password
from app.auth.passwords import hash_password
from app.auth.tokens import now
from app.core import audit, uow
from app.core.db import for_update
from app.core.errors import Conflict, NotFound, ValidationError

log = logging.getLogger("flowlet.auth")

VALID_ROLES = {role.value for role in Role}


def normalize_email(email: str) -> str:
    return email.strip().lower()


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(sa.select(User).where(User.email == normalize_email(email)))


def get_user(session: Session, *, public_id: uuid.UUID | str) -> User:
    """A user by public id, or NotFound."""
    try:
        key = uuid.UUID(str(public_id))
    except ValueError as exc:
        raise NotFound("The user was not found.") from exc
    user = session.scalar(sa.select(User).where(User.public_id == key))
    if user is None:
        raise NotFound("The user was not found.")
    return user


def lock_user(session: Session, user_id: int) -> User:
    return session.scalars(for_update(sa.select(User).where(User.id == user_id))).one()


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    roles: list[str] | None = None,
    username: str | None = None,
    email_verified: bool = False,
    policy_version: str | None = None,
) -> User:
    """Create a user with the given roles (flushes; the caller commits)."""
    roles = roles or [Role.CUSTOMER.value]
    unknown = set(roles) - VALID_ROLES
    if unknown:
        raise ValidationError(
            "Unknown role.", details={"roles": [f"unknown role(s): {', '.join(sorted(unknown))}"]}
        )
    email = normalize_email(email)
    clash = sa.select(User.id).where(
        sa.or_(User.email == email, User.username == username) if username else User.email == email
    )
    if session.scalar(clash) is not None:
        raise Conflict("An account with these details already exists.")
    moment = now()
    user = User(
        email=email,
        username=username,
        password_hash=hash_password(password),
        first_name=first_name,
        last_name=last_name,
        email_verified=email_verified,
        email_verified_at=moment if email_verified else None,
        terms_accepted_at=moment,
        privacy_accepted_at=moment,
        policy_version=policy_version,
    )
    user.set_roles(roles)
    session.add(user)
    session.flush()
    audit.record(
        session,
        "user.created",
        resource_type="user",
        resource=user,
        changes={"email": email, "roles": roles, "username": username},
    )
    return user


def enforce_password_policy(
    password: str, *, user: User | None = None, **identity: str | None
) -> None:
    """Raise a 422 naming every reason `password` fails the policy (for `user`, or identity)."""
    if user is not None:
        identity = {
            "email": user.email,
            "username": user.username,
            "first_name": user.first_name,
            "last_name": user.last_name,
        }
    reasons = check_password(password, **identity)
    if reasons:
        field = "new_password" if user is not None else "password"
        raise ValidationError("The password does not meet the policy.", details={field: reasons})


# --- registration and profile ------------------------------------------------------------------


def register(
    session: Session,
    *,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    username: str | None = None,
) -> User:
    """Register a customer (terms and privacy accepted); e-mails a verification link."""
    enforce_password_policy(
        password, email=email, username=username, first_name=first_name, last_name=last_name
    )
    user = create_user(
        session,
        email=email,
        password=password,
        first_name=first_name,
        last_name=last_name,
        username=username,
        policy_version=current_app.config["POLICY_VERSION"],
    )
    audit.record(
        session,
        "auth.registered",
        resource_type="user",
        resource=user,
        changes={"policy_version": user.policy_version, "terms_accepted": True},
    )
    send_verification(session, user)
    uow.commit(session)
    return user


def update_profile(session: Session, *, user: User, changes: dict[str, Any]) -> User:
    """Change the caller's names, phone or base currency."""
    if "first_name" in changes or "last_name" in changes:  # a new name is screened first
        hooks.check_name_change(
            session,
            user=user,
            first_name=changes.get("first_name"),
            last_name=changes.get("last_name"),
        )
    before = {key: getattr(user, key) for key in changes}
    for key, value in changes.items():
        setattr(user, key, value)
    audit.record(
        session,
        "user.profile_updated",
        resource_type="user",
        resource=user,
        changes={"before": before, "after": changes},
    )
    uow.commit(session)
    return user


def verify_email(session: Session, *, token: str) -> None:
    """Mark the e-mail address verified with a link token (single use)."""
    row = find_one_time(session, token=token, purpose=VERIFY_EMAIL)
    if row is None:
        uow.commit(session)
        raise bad_link()
    row.used_at = now()
    user = lock_user(session, row.user_id)
    user.email_verified = True
    user.email_verified_at = now()
    audit.record(session, "auth.email_verified", resource_type="user", resource=user)
    uow.commit(session)
