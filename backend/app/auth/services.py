"""Identity services: creating users and looking them up."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.auth.passwords import hash_password
from app.core import audit
from app.core.db import utcnow
from app.core.errors import Conflict, ValidationError

VALID_ROLES = {role.value for role in Role}


def normalize_email(email: str) -> str:
    return email.strip().lower()


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(sa.select(User).where(User.email == normalize_email(email)))


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
    now = utcnow()
    user = User(
        email=email,
        username=username,
        password_hash=hash_password(password),
        first_name=first_name,
        last_name=last_name,
        email_verified=email_verified,
        terms_accepted_at=now,
        privacy_accepted_at=now,
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
