"""What other domains may add to identity's changes, registered when the app is created.

A customer's new name is screened before it is saved: compliance registers its check with
`on_name_change`, and `update_profile` runs every registered check. A check refuses the change
by raising a `DomainError`.
"""

from __future__ import annotations

from typing import Protocol

from flask import Flask, current_app
from sqlalchemy.orm import Session

from app.auth.models import User

EXTENSION = "flowlet_auth_name_checks"


class NameCheck(Protocol):
    def __call__(
        self, session: Session, *, user: User, first_name: str | None, last_name: str | None
    ) -> None: ...


def on_name_change(app: Flask, check: NameCheck) -> None:
    """Run `check` before a customer's first or last name changes."""
    app.extensions.setdefault(EXTENSION, []).append(check)


def check_name_change(
    session: Session, *, user: User, first_name: str | None, last_name: str | None
) -> None:
    """Run the registered checks of a change of name (None: that part is unchanged)."""
    for check in current_app.extensions.get(EXTENSION, ()):
        check(session, user=user, first_name=first_name, last_name=last_name)
