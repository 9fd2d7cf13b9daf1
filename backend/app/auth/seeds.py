"""Demo users for local development (`flask seed-demo`, run by `make run`)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.auth.users import create_user, get_user_by_email

DEMO_PASSWORD = "Flowlet-Demo-Pass-2026"
DEMO_USERS = (
    ("admin@flowlet.test", "admin", "Ada", "Admin"),
    ("officer@flowlet.test", "compliance_officer", "Olive", "Officer"),
    ("alice@flowlet.test", "customer", "Alice", "Customer"),
    ("bob@flowlet.test", "customer", "Bob", "Customer"),
    ("processor@flowlet.test", "card_processor", "Card", "Network"),
)


def seed_demo_users(session: Session) -> None:
    """Create the demo users once; existing ones are left as they are."""
    for email, role, first, last in DEMO_USERS:
        if get_user_by_email(session, email) is None:
            create_user(
                session,
                email=email,
                password=DEMO_PASSWORD,
                first_name=first,
                last_name=last,
                roles=[role],
                email_verified=True,
            )
