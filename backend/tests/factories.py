"""Test helpers shared by every domain: users with roles and their bearer headers."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session

from app.auth.models import User
from app.auth.users import create_user
from app.core import uow
from tests.conftest import unique_email

DEFAULT_PASSWORD = "Sturdy-Ledger-Pass-42"


def make_user(
    session: Session, *, role: str = "customer", email: str | None = None, **fields
) -> User:
    """Create and commit a user with one role."""
    user = create_user(
        session,
        email=email or unique_email(role),
        password=fields.pop("password", DEFAULT_PASSWORD),
        first_name=fields.pop("first_name", "Test"),
        last_name=fields.pop("last_name", role.title()),
        roles=[role],
        email_verified=True,
    )
    for key, value in fields.items():
        setattr(user, key, value)
    uow.commit(session)
    return user


def auth_headers(app: Flask, user: User, *, fresh: bool = False) -> dict[str, str]:
    """`Authorization: Bearer …` for `user`, as a login would issue it.

    Opens a real session (token family) through the auth service, so the token passes the
    revocation check like any other.
    """
    return {"Authorization": f"Bearer {login_tokens(app, user, fresh=fresh).access_token}"}


def login_tokens(app: Flask, user: User, *, fresh: bool = False):
    """A new session for `user` and its `TokenPair` (access and refresh token)."""
    from app.auth.tokens import start_session
    from app.core.extensions import db

    user_id = user.id
    with app.app_context():
        session = db.session
        try:
            owner = session.get(User, user_id)
            tokens = start_session(session, user=owner, ip=None, user_agent="tests", fresh=fresh)
            uow.commit(session)
            session.refresh(owner)
            return tokens
        finally:
            db.session.remove()
