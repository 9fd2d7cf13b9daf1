"""The compliance domain's part in the personal data export, in erasure and in the legal hold.

KYC cases are exported with the document number masked and pseudonymized on erasure; the
person's name is replaced in the alerts about them (explanations, structured details, notes).
A compliance case about the person that is still open is a legal hold.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from app.auth.models import User
from app.compliance.models import AlertNote, ComplianceAlert, KycCase, SanctionsScreening
from app.core.personal_data import Section, personal_data, time_text


def register(app: Flask) -> None:
    """Add the sections to the app's personal-data registry.

    The alerts and KYC erasers come first (orders 10 and 20): the scrubber needs the person's
    names as they were, before the profile is pseudonymized.
    """
    registry = personal_data(app)
    registry.add(Section("alerts", 10, erase=_alerts_erase))
    registry.add(
        Section("sanctions_screenings", 15, export=_screenings_export, erase=_screenings_erase)
    )
    registry.add(Section("kyc", 20, export=_kyc_export, erase=_kyc_erase))
    registry.add(Section("cases", 400, hold=_open_case_hold))


def _kyc_export(session: Session, user: User) -> list[dict[str, Any]]:
    cases = session.scalars(
        sa.select(KycCase).where(KycCase.user_id == user.id).order_by(KycCase.id)
    )
    return [
        {
            "id": str(case.public_id),
            "status": case.status,
            "level": case.level,
            "first_name": case.first_name,
            "last_name": case.last_name,
            "date_of_birth": case.date_of_birth.isoformat(),
            "nationality": case.nationality,
            "address": case.address,
            "document_type": case.document_type,
            "document_number": f"***{case.document_last4}",
            "reasons": case.reasons,
            "submitted_at": time_text(case.created_at),
            "decided_at": time_text(case.decided_at),
        }
        for case in cases
    ]


def _kyc_erase(session: Session, user: User, pseudonym: str) -> None:
    for case in session.scalars(sa.select(KycCase).where(KycCase.user_id == user.id)):
        case.first_name = "Erased"
        case.last_name = "Person"
        case.date_of_birth = date(1900, 1, 1)
        case.address = {}
        case.document_number_sealed = ""
        case.document_last4 = "****"
        case.screening = []
        case.decision_reason = None


def _scrubber(user: User, pseudonym: str):
    names = [n for n in (user.first_name, user.last_name, user.email) if n and len(n) > 1]
    if not names:
        return lambda text: text
    pattern = re.compile("|".join(re.escape(n) for n in names), re.IGNORECASE)

    def scrub(value: Any) -> Any:
        if isinstance(value, str):
            return pattern.sub(pseudonym, value)
        if isinstance(value, dict):
            return {k: scrub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [scrub(v) for v in value]
        return value

    return scrub


def _alerts_erase(session: Session, user: User, pseudonym: str) -> None:
    """The person's name and e-mail leave the alerts about them; the alerts stay."""
    scrub = _scrubber(user, pseudonym)
    alerts = session.scalars(sa.select(ComplianceAlert).where(ComplianceAlert.user_id == user.id))
    for alert in alerts:
        alert.explanation = scrub(alert.explanation)
        alert.details = scrub(alert.details)
        alert.notes = scrub(alert.notes)
        for note in session.scalars(sa.select(AlertNote).where(AlertNote.alert_id == alert.id)):
            note.body = scrub(note.body)


def _own_screenings(user: User) -> sa.Select[SanctionsScreening]:
    return sa.select(SanctionsScreening).where(
        SanctionsScreening.user_id == user.id, SanctionsScreening.subject == "customer"
    )


def _screenings_export(session: Session, user: User) -> list[dict[str, Any]]:
    """When the person was screened, why, against which list versions, with what result."""
    return [
        {
            "screened_at": time_text(s.screened_at),
            "context": s.context,
            "name": s.name,
            "list_versions": s.list_ids,
            "matches": s.match_count,
        }
        for s in session.scalars(_own_screenings(user).order_by(SanctionsScreening.id))
    ]


def _screenings_erase(session: Session, user: User, pseudonym: str) -> None:
    """The person's name leaves the record of their screenings; the record stays (which
    versions they were screened against). Payees they named are not theirs to erase."""
    scrub = _scrubber(user, pseudonym)
    for screening in session.scalars(_own_screenings(user)):
        screening.name = scrub(screening.name)


def _open_case_hold(session: Session, user: User) -> list[str]:
    count = session.scalar(
        sa.select(sa.func.count())
        .select_from(ComplianceAlert)
        .where(ComplianceAlert.user_id == user.id, ComplianceAlert.status != "resolved")
    )
    return [f"{count} compliance case(s) about the person are open"] if count else []
