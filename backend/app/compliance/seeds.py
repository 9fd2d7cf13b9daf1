"""Demo data: the invented sanctions list (`seed-demo`, development only)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.compliance.sanctions import active_list, load_fixture


def seed_demo_sanctions_list(session: Session) -> None:
    """Load the invented demo sanctions list once."""
    if active_list(session, "flowlet-csv") is None:
        load_fixture(session)
