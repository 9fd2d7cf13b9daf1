"""The one counter of failed secret checks: a password, a TOTP code, a backup code.

Every place that checks a secret the user proves they hold (signing in, its second step,
step-up, changing the password, turning 2FA off) refuses while the account is locked
(`refuse_if_locked`) and counts a wrong answer here (`failed`): after `LOCKOUT_THRESHOLD`
wrong answers in a row, wherever they were given, the account locks for `LOCKOUT_SECONDS`,
doubling each time up to `LOCKOUT_MAX_SECONDS`. Every wrong answer and every lockout is
audited. A right answer resets the count where the caller says so (`sessions._succeeded`).
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import NoReturn

from flask import current_app
from sqlalchemy.orm import Session

from app.auth.errors import AccountLocked
from app.auth.models import User
from app.auth.tokens import now
from app.core import audit


def _lock_remaining(user: User) -> int | None:
    """Seconds until an automatic lockout ends, None if not locked."""
    if user.locked_until is None:
        return None
    remaining = (user.locked_until - now()).total_seconds()
    return math.ceil(remaining) if remaining > 0 else None


def _locked_for(seconds: int) -> AccountLocked:
    """The refusal of a login while an automatic lockout lasts `seconds` more."""
    return AccountLocked(
        "Too many failed attempts; the account is locked for a while.",
        headers={"Retry-After": str(seconds)},
        details={"retry_after": seconds},
    )


def refuse_if_locked(session: Session, user: User, *, method: str) -> None:
    """Refuse (423, audited) any check of a secret while the account is locked."""
    if user.admin_locked_at is not None:
        audit.fail(
            session,
            AccountLocked("The account is locked; contact support."),
            "auth.login",
            resource_type="user",
            resource=user,
            changes={"reason": "admin_locked", "method": method},
        )
    remaining = _lock_remaining(user)
    if remaining is not None:
        audit.fail(
            session,
            _locked_for(remaining),
            "auth.login",
            resource_type="user",
            resource=user,
            changes={"reason": "locked", "method": method},
        )


def failed(
    session: Session,
    user: User,
    *,
    reason: str,
    method: str,
    error: Exception,
    action: str = "auth.login",
) -> NoReturn:
    """Count a failed attempt (locking the account at the threshold), audit `action` as a
    failure, commit, raise `error` (or 423 when this attempt locks the account)."""
    config = current_app.config
    user.failed_login_count += 1
    changes = {"reason": reason, "method": method, "failed_attempts": user.failed_login_count}
    if user.failed_login_count < config["LOCKOUT_THRESHOLD"]:
        audit.fail(session, error, action, resource_type="user", resource=user, changes=changes)
    audit.record(
        session,
        action,
        resource_type="user",
        resource=user,
        outcome="failure",
        changes=changes,
    )
    user.lockout_count += 1
    seconds = min(
        config["LOCKOUT_SECONDS"] * 2 ** (user.lockout_count - 1), config["LOCKOUT_MAX_SECONDS"]
    )
    user.locked_until = now() + timedelta(seconds=seconds)
    user.failed_login_count = 0
    audit.fail(
        session,
        _locked_for(seconds),
        "auth.lockout",
        resource_type="user",
        resource=user,
        changes={"locked_seconds": seconds, "lockout_count": user.lockout_count},
    )


def reset(user: User) -> None:
    """A right answer: the count of wrong ones starts again."""
    if user.failed_login_count:
        user.failed_login_count = 0
