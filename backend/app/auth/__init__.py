"""Identity and access: users, roles, credentials, tokens."""

from __future__ import annotations

from flask import Flask

from app.auth import privacy
from app.auth.seeds import seed_demo_users
from app.core import audit
from app.core.schedule import Entry, schedule_of
from app.core.seeds import seeders


def init_app(app: Flask) -> None:
    """The profile, consents, sessions and e-mails in the personal-data export and erasure;
    the one-time codes and the person's identity for the audit log's masks; the hourly purge
    of spent WebAuthn challenges."""
    privacy.register(app)
    seeders(app).add(demo=seed_demo_users)
    schedule_of(app).add(
        Entry(
            "webauthn-challenge-purge",
            "app.auth.tasks.purge_webauthn_challenges",
            "maintenance",
            interval=3600,
        )
    )
    masks = audit.masks(app)
    masks.secret("code", "totp_secret", "backup_codes")
    masks.personal("email", hint=audit.email_address)
    masks.personal("username", "login", hint=audit.login_name)
    masks.personal("phone", hint=audit.last_four)
    masks.personal("first_name", "last_name")
