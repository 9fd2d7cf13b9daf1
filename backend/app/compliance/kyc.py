"""Know your customer: submission with automatic checks, officer decisions, levels.

Automatic checks on every submission:

- age at least `KYC_MIN_AGE` (18);
- the document number has the format of its type in the issuing country (`documents.py`);
- nationality and address country are ISO 3166 countries known to pycountry;
- the name and date of birth are screened against the sanctions list.

Outcome: `rejected` when a hard check fails (under age, unknown country, bad document
number); `manual_review` on a sanctions hit (which also raises an alert) or when the `full`
level is requested (documents are reviewed by an officer); `approved` at `basic` otherwise.

Levels (`User.kyc_level`): none → basic → full. The transfer limits read the level
(`TRANSFER_LIMITS`). A pending upgrade or a rejected one never lowers a level already granted.

Every submission and decision re-rates the customer's risk (`rating.rerate`); a customer may
declare themselves a politically exposed person (`politically_exposed`), a risk factor.

Officers decide manual cases under maker-checker: never their own KYC, never a case they
submitted. Document numbers are sealed with AES-GCM (`core.crypto`, bound to the case) and
only ever shown masked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

import pycountry
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.auth.models import User
from app.compliance import sanctions
from app.compliance.documents import document_number_valid, mask_number, normalize_number
from app.compliance.models import KycCase, KycCaseStatus, KycLevel
from app.compliance.rating import rerate
from app.core import audit, crypto, events, uow
from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden, NotFound, ValidationError
from app.core.pagination import Page, paginate

LEVEL_ORDER = [level.value for level in KycLevel]


class KycCaseNotFound(NotFound):
    message = "The KYC case was not found."


def _aad(case: KycCase) -> bytes:
    return f"kyc_document:{case.public_id}".encode()


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _country_known(code: str) -> bool:
    return (
        bool(code) and len(code) == 2 and pycountry.countries.get(alpha_2=code.upper()) is not None
    )


def _lock_user(session: Session, user_id: int) -> User:
    return session.scalars(
        sa.select(User)
        .where(User.id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def submit(
    session: Session,
    *,
    user: User,
    first_name: str,
    last_name: str,
    date_of_birth: date,
    nationality: str,
    address: dict[str, str],
    document_type: str,
    document_number: str,
    level: str = KycLevel.BASIC.value,
    document_country: str | None = None,
    politically_exposed: bool = False,
) -> KycView:
    """Check a customer's identity data and record the outcome (one commit)."""
    customer = _lock_user(session, user.id)
    _refuse_resubmission(session, customer, level)
    case = KycCase(
        public_id=uuid.uuid4(),
        user_id=customer.id,
        submitted_by_id=user.id,
        requested_level=level,
        first_name=first_name,
        last_name=last_name,
        date_of_birth=date_of_birth,
        nationality=nationality.upper(),
        address={**address, "country": str(address.get("country", "")).upper()},
        document_type=document_type,
        politically_exposed=politically_exposed,
    )
    matches = _check(session, case, document_number, document_country=document_country)
    approved = case.status == KycCaseStatus.APPROVED.value
    case.level = level if approved else customer.kyc_level
    number = normalize_number(document_number)
    case.document_last4 = number[-4:]
    case.document_number_sealed = crypto.encrypt_str(number, aad=_aad(case))
    session.add(case)
    session.flush()
    customer.kyc_status = case.status
    if approved:
        customer.kyc_level = level
    if matches:
        _alert_sanctions_match(session, customer, case, matches)
    _audit_submission(session, case, number=number, matches=matches)
    if case.status in (KycCaseStatus.APPROVED.value, KycCaseStatus.REJECTED.value):
        kyc_event(session, case, customer)  # decided at once, by the automatic checks
    rerate(session, user_id=customer.id, reason="kyc_submitted")
    uow.commit(session)
    return view(case, customer)


def _check(
    session: Session, case: KycCase, document_number: str, *, document_country: str | None
) -> list[sanctions.ScreeningMatch]:
    """Run the automatic checks and the screening over a new case: its status, reasons and
    screening are set; the sanctions matches are returned."""
    address_country = case.address["country"]
    default = address_country if case.document_type == "driving_licence" else case.nationality
    reasons = _automatic_checks(
        date_of_birth=case.date_of_birth,
        nationality=case.nationality,
        address_country=address_country,
        issuing=(document_country or default).upper(),
        document_type=case.document_type,
        document_number=document_number,
    )
    matches = sanctions.screen(
        session,
        name=f"{case.first_name} {case.last_name}",
        date_of_birth=case.date_of_birth,
        country=case.nationality,
        subject="customer",
        context="kyc",
        user_id=case.user_id,
    )
    case.status = _decide(reasons, matches, case.requested_level).value
    case.reasons = reasons
    case.screening = sanctions.matches_as_details(matches)
    return matches


def _audit_submission(
    session: Session, case: KycCase, *, number: str, matches: list[sanctions.ScreeningMatch]
) -> None:
    audit.record(
        session,
        "kyc.submitted",
        resource_type="kyc_case",
        resource=case,
        changes={
            "status": case.status,
            "level": case.level,
            "requested_level": case.requested_level,
            "reasons": [r["code"] for r in case.reasons],
            "document_number": mask_number(number),
            "sanctions_matches": len(matches),
            "politically_exposed": case.politically_exposed,
        },
    )


def _refuse_resubmission(session: Session, customer: User, level: str) -> None:
    """409 while a case waits for an officer, or when the level asked for is held already."""
    pending = session.scalar(
        sa.select(KycCase.id).where(
            KycCase.user_id == customer.id, KycCase.status == KycCaseStatus.MANUAL_REVIEW.value
        )
    )
    if pending is not None:
        raise Conflict("A KYC case is already waiting for a decision.")
    if LEVEL_ORDER.index(level) <= LEVEL_ORDER.index(customer.kyc_level or "none"):
        raise Conflict(f"Your KYC level is already {customer.kyc_level}.")


def _automatic_checks(
    *,
    date_of_birth: date,
    nationality: str,
    address_country: str,
    issuing: str,
    document_type: str,
    document_number: str,
) -> list[dict[str, str]]:
    """The reasons (code and message) the automatic checks reject the data for; [] if none."""
    reasons: list[dict[str, str]] = []
    today = utcnow().date()
    if _age(date_of_birth, today) < current_app.config["KYC_MIN_AGE"]:
        reasons.append({"code": "underage", "message": "The customer must be at least 18."})
    if date_of_birth > today or _age(date_of_birth, today) > 120:
        reasons.append(
            {"code": "date_of_birth_invalid", "message": "The date of birth is not plausible."}
        )
    if not _country_known(nationality):
        reasons.append(
            {"code": "nationality_unknown", "message": f"{nationality!r} is not a known country."}
        )
    if not _country_known(address_country):
        reasons.append(
            {
                "code": "address_country_unknown",
                "message": f"{address_country!r} is not a known country.",
            }
        )
    if not _country_known(issuing) or not document_number_valid(
        document_type, issuing, document_number
    ):
        reasons.append(
            {
                "code": "document_number_invalid",
                "message": f"The number is not the format of a {document_type} from {issuing}.",
            }
        )
    return reasons


def _decide(
    reasons: list[dict[str, str]], matches: list[sanctions.ScreeningMatch], level: str
) -> KycCaseStatus:
    """Rejected on any automatic reason; an officer's review for a sanctions match or the full
    level (its reason appended); approved otherwise."""
    if reasons:
        return KycCaseStatus.REJECTED
    if matches:
        reasons.append(
            {
                "code": "sanctions_match",
                "message": "The name matches the sanctions list; an officer will review it.",
            }
        )
        return KycCaseStatus.MANUAL_REVIEW
    if level == KycLevel.FULL.value:
        reasons.append(
            {
                "code": "document_review",
                "message": "The full level needs an officer to review the documents.",
            }
        )
        return KycCaseStatus.MANUAL_REVIEW
    return KycCaseStatus.APPROVED


def _alert_sanctions_match(
    session: Session, customer: User, case: KycCase, matches: list[sanctions.ScreeningMatch]
) -> None:
    sanctions.alert_hit(
        session,
        user_id=customer.id,
        matches=matches,
        lead="KYC: the customer's name matches",
        context="kyc",
        kyc_case=str(case.public_id),
    )


def current_case(session: Session, *, user: User) -> KycCase | None:
    """The customer's latest KYC case (None before any submission)."""
    return session.scalar(
        sa.select(KycCase)
        .where(KycCase.user_id == user.id)
        .order_by(KycCase.created_at.desc(), KycCase.id.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class KycView:
    """What a customer sees of their KYC."""

    status: str
    level: str
    reasons: list[dict[str, str]]
    public_id: uuid.UUID | None = None
    requested_level: str | None = None
    document_type: str | None = None
    document_last4: str | None = None
    created_at: datetime | None = None
    decided_at: datetime | None = None


def view(case: KycCase | None, user: User) -> KycView:
    if case is None:
        return KycView(status=user.kyc_status, level=user.kyc_level, reasons=[])
    return KycView(
        status=case.status,
        level=user.kyc_level,  # the level in force: a pending upgrade does not lower it
        reasons=case.reasons,
        public_id=case.public_id,
        requested_level=case.requested_level,
        document_type=case.document_type,
        document_last4=case.document_last4,
        created_at=case.created_at,
        decided_at=case.decided_at,
    )


def status_of(session: Session, *, user: User) -> KycView:
    """The customer's KYC: the latest case, or `none` before any submission."""
    return view(current_case(session, user=user), user)


def list_reviews(
    session: Session, *, status: str | None = None, limit: int = 50, cursor: str | None = None
) -> Page:
    """KYC cases, by default those waiting for an officer, newest first."""
    stmt = sa.select(KycCase).where(KycCase.status == (status or KycCaseStatus.MANUAL_REVIEW.value))
    return paginate(session, stmt, model=KycCase, limit=limit, cursor=cursor)


def decide(
    session: Session, *, officer: User, case_id: uuid.UUID, decision: str, reason: str
) -> KycCase:
    """An officer approves or rejects a case in manual review (maker-checker)."""
    case = _case_to_decide(session, officer=officer, case_id=case_id)
    if decision not in {"approve", "reject"}:
        raise ValidationError(details={"decision": ["approve or reject."]})
    customer = _lock_user(session, case.user_id)
    case.decided_by_id = officer.id
    case.decided_at = utcnow()
    case.decision_reason = reason
    if decision == "approve":
        case.status = KycCaseStatus.APPROVED.value
        case.level = case.requested_level
        if LEVEL_ORDER.index(case.level) > LEVEL_ORDER.index(customer.kyc_level or "none"):
            customer.kyc_level = case.level
        customer.kyc_status = KycCaseStatus.APPROVED.value
    else:
        case.status = KycCaseStatus.REJECTED.value
        # A rejected upgrade leaves the level already granted in place.
        customer.kyc_status = (
            KycCaseStatus.APPROVED.value
            if customer.kyc_level != KycLevel.NONE.value
            else KycCaseStatus.REJECTED.value
        )
    audit.record(
        session,
        "kyc.decided",
        resource_type="kyc_case",
        resource=case,
        changes={
            "decision": decision,
            "reason": reason,
            "status": case.status,
            "level": customer.kyc_level,
            "customer_id": str(customer.public_id),
        },
    )
    kyc_event(session, case, customer)
    rerate(session, user_id=customer.id, reason="kyc_decided")
    uow.commit(session)
    return case


def kyc_event(session: Session, case: KycCase, customer: User) -> None:
    """`kyc.decided` for the customer: the case's outcome and the level now held."""
    events.emit(
        session,
        "kyc.decided",
        {
            "case_id": str(case.public_id),
            "status": case.status,
            "kyc_status": customer.kyc_status,
            "level": customer.kyc_level,
        },
        user_id=customer.id,
    )


def _case_to_decide(session: Session, *, officer: User, case_id: uuid.UUID) -> KycCase:
    """The case, locked, once the officer may decide it: not their own KYC, not a case they
    submitted, and one waiting for a decision."""
    case = session.scalar(
        sa.select(KycCase)
        .where(KycCase.public_id == case_id)
        .with_for_update(of=KycCase)
        .execution_options(populate_existing=True)
    )
    if case is None:
        raise KycCaseNotFound()
    if case.user_id == officer.id:
        raise Forbidden("You may not decide your own KYC.")
    if case.submitted_by_id == officer.id:
        raise Forbidden("You may not decide a case you submitted.")
    if case.status != KycCaseStatus.MANUAL_REVIEW.value:
        raise Conflict(f"The case is {case.status}, not waiting for a decision.")
    return case


def reveal_document_number(case: KycCase) -> str:
    """The full number (for a regulator's request; never sent by the API)."""
    return crypto.decrypt_str(case.document_number_sealed, aad=_aad(case))


# --- a change of name ------------------------------------------------------------------------


def check_name_change(
    session: Session, *, user: User, first_name: str | None, last_name: str | None
) -> None:
    """Screen a customer's new name before it is saved (called by PATCH /auth/me).

    On a hit the change is refused (403 `sanctions_hit`) and an alert is raised; the alert and
    its audit record are committed before the refusal, nothing else is.
    """
    new_first = first_name if first_name is not None else user.first_name
    new_last = last_name if last_name is not None else user.last_name
    if (new_first, new_last) == (user.first_name, user.last_name):
        return
    latest = current_case(session, user=user)
    matches = sanctions.screen(
        session,
        name=f"{new_first} {new_last}",
        date_of_birth=latest.date_of_birth if latest else None,
        country=latest.nationality if latest else None,
    )
    if not matches:
        return
    audit.refuse(
        session,
        sanctions.SanctionsHit("The new name matches the sanctions list; the change is refused."),
        "user.profile_update_refused",
        also=lambda: sanctions.alert_hit(
            session,
            user_id=user.id,
            matches=matches,
            lead="Change of name: the new name matches",
            tail="; the change was refused",
            context="name_change",
        ),
        resource_type="user",
        resource_id=user.public_id,
        changes={"reason": "sanctions_hit", "first_name": new_first, "last_name": new_last},
    )
