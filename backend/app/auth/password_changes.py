"""Password change and reset (a reset link by e-mail); both end every other session.

Every public function is one use case and owns its unit of work (it commits), except the
helpers documented as flushing only. Failed security events are audited in a transaction that
commits before the error is raised.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.auth import attempts
from app.auth.errors import (
    InvalidCredentials,
)
from app.auth.mail import link, queue_email
from app.auth.models import OneTimeToken, User
from app.auth.one_time import PASSWORD_RESET, bad_link, find_one_time, issue_one_time
from app.auth.passwords import hash_password, verify_password
from app.auth.tokens import now, revoke_sessions
from app.auth.users import enforce_password_policy, get_user_by_email, lock_user
from app.core import audit, uow

# --- passwords ---------------------------------------------------------------------------------


def _set_password(user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    user.password_changed_at = now()


def change_password(
    session: Session, *, user: User, session_id: str, current_password: str, new_password: str
) -> None:
    """Change the caller's password; every other session is revoked."""
    user = lock_user(session, user.id)
    attempts.refuse_if_locked(session, user, method="change_password")
    if not verify_password(user.password_hash, current_password):
        attempts.failed(
            session,
            user,
            reason="wrong_password",
            method="change_password",
            error=InvalidCredentials("The current password is not correct."),
            action="auth.password_changed",
        )
    attempts.reset(user)
    enforce_password_policy(new_password, user=user)
    _set_password(user, new_password)
    revoked = revoke_sessions(
        session, user_id=user.id, reason="password_changed", keep=uuid.UUID(str(session_id))
    )
    audit.record(
        session,
        "auth.password_changed",
        resource_type="user",
        resource=user,
        changes={"sessions_revoked": len(revoked)},
    )
    queue_email(
        session,
        to=user.email,
        subject="Your Flowlet password was changed",
        body=(
            f"Hello {user.first_name},\n\nyour password was just changed. If this was not you, "
            "reset your password now and contact support.\n"
        ),
        kind="password_changed",
        user_id=user.id,
    )
    uow.commit(session)


def request_password_reset(session: Session, *, email: str) -> None:
    """E-mail a reset link if the address belongs to an active account; silent otherwise."""
    user = get_user_by_email(session, email)
    if user is None or not user.is_active:
        uow.commit(session)
        return
    session.execute(
        sa.update(OneTimeToken)
        .where(
            OneTimeToken.user_id == user.id,
            OneTimeToken.purpose == PASSWORD_RESET,
            OneTimeToken.used_at.is_(None),
        )
        .values(used_at=now())
        .execution_options(synchronize_session=False)
    )
    token = issue_one_time(
        session,
        user=user,
        purpose=PASSWORD_RESET,
        seconds=current_app.config["PASSWORD_RESET_SECONDS"],
    )
    queue_email(
        session,
        to=user.email,
        subject="Reset your Flowlet password",
        body=(
            f"Hello {user.first_name},\n\nreset your password with this link (valid "
            f"{current_app.config['PASSWORD_RESET_SECONDS'] // 60} minutes, once):\n"
            f"{link('/reset-password', token)}\n\nIf you did not ask for this, ignore it.\n"
        ),
        kind=PASSWORD_RESET,
        user_id=user.id,
    )
    audit.record(session, "auth.password_reset_requested", resource_type="user", resource=user)
    uow.commit(session)


def confirm_password_reset(session: Session, *, token: str, new_password: str) -> None:
    """Set a new password with a reset token (single use); every session is revoked."""
    row = find_one_time(session, token=token, purpose=PASSWORD_RESET)
    if row is None:
        uow.commit(session)
        raise bad_link()
    user = lock_user(session, row.user_id)
    enforce_password_policy(new_password, user=user)
    row.used_at = now()
    _set_password(user, new_password)
    # Proving control of the mailbox ends an automatic lockout (not an administrator's).
    user.failed_login_count = 0
    user.locked_until = None
    revoke_sessions(session, user_id=user.id, reason="password_reset")
    audit.record(session, "auth.password_reset", resource_type="user", resource=user)
    uow.commit(session)
