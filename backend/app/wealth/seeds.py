"""Demo data of the wealth domain (`flask seed-demo`)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.users import get_user_by_email
from app.wealth.models import LinkedAccount
from app.wealth.services import link_account


def seed_demo_linked_account(session: Session) -> None:
    """Alice links the sandbox broker (once); its first sync runs as a job."""
    alice = get_user_by_email(session, "alice@flowlet.test")
    if alice is None or session.scalar(
        sa.select(LinkedAccount.id).where(LinkedAccount.user_id == alice.id).limit(1)
    ):
        return
    link_account(
        session,
        user=alice,
        broker_code="sandbox",
        credentials={"username": "alice-demo", "password": "sandbox"},
    )
