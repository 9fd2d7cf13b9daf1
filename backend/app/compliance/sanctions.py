"""The sanctions lists, as the rest of compliance uses them: one front for loading a version
(`lists`), screening a name against the active versions (`screening`) and re-screening
(`rescreen`).

`screen` is the one screening call: officers (`POST /compliance/screenings`), KYC, a change
of name, IBAN beneficiaries and the re-screenings all use it; each caller raises its own alert
on a hit (a change of name is refused with `SanctionsHit`, a transfer held for review).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from app.compliance.lists import (
    FIXTURE,
    KINDS,
    load_entries,
    load_fixture,
    load_list,
    retire,
)
from app.compliance.rescreen import (
    RESCREEN_QUEUE,
    enqueue_rescreen,
    rescreen_all,
    rescreen_changes,
    rescreen_customers,
)
from app.compliance.screening import (
    SanctionsHit,
    ScreeningMatch,
    active_list,
    active_versions,
    alert_hit,
    matches_as_details,
    screen,
    threshold,
)
from app.core import audit, uow

__all__ = [
    "FIXTURE",
    "KINDS",
    "RESCREEN_QUEUE",
    "SanctionsHit",
    "ScreeningMatch",
    "active_list",
    "active_versions",
    "alert_hit",
    "enqueue_rescreen",
    "load_entries",
    "load_fixture",
    "load_list",
    "matches_as_details",
    "officer_screening",
    "rescreen_all",
    "rescreen_changes",
    "rescreen_customers",
    "retire",
    "screen",
    "threshold",
]


def officer_screening(
    session: Session, *, name: str, date_of_birth: date | None = None, country: str | None = None
) -> dict[str, Any]:
    """An officer's ad-hoc screening (audited and recorded, changes nothing else)."""
    matches = screen(
        session,
        name=name,
        date_of_birth=date_of_birth,
        country=country,
        subject="officer",
        context="officer",
    )
    audit.record(
        session,
        "sanctions.screening",
        resource_type="sanctions_list",
        changes={
            "name": name,
            "matches": len(matches),
            "top_score": matches[0].score if matches else None,
        },
    )
    uow.commit(session)
    return {"matches": matches, "threshold": threshold()}
