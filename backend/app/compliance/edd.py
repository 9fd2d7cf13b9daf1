"""Enhanced due diligence: a high-risk customer's sign-off, under maker-checker.

Until it is approved, a customer rated high keeps the transfer limits of the basic KYC level
(`risk_hooks`). One officer proposes the sign-off (`risk.edd_proposed`); another approves or
rejects it (`risk.edd_decided`). The proposer deciding is refused, 403 `edd_same_officer`; a
customer not rated high needs none, 409 `edd_not_required`.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.models import User
from app.compliance.rating import find_customer
from app.compliance.risk_models import CustomerRisk, EddReview, EddStatus, RiskLevel
from app.core import audit, uow
from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden


class EddNotRequired(Conflict):
    code, message = "edd_not_required", "The customer is not rated high; no sign-off is needed."


class EddAlreadyProposed(Conflict):
    code, message = "edd_already_proposed", "A sign-off is already waiting for a decision."


class EddNotProposed(Conflict):
    code, message = "edd_not_proposed", "No sign-off is waiting for a decision."


class EddSameOfficer(Forbidden):
    code, message = "edd_same_officer", "Another officer must decide the sign-off you proposed."


def _rating(session: Session, user_id: int) -> CustomerRisk | None:
    return session.scalar(
        sa.select(CustomerRisk)
        .where(CustomerRisk.user_id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _not_self(officer: User, customer: User) -> None:
    if officer.id == customer.id:
        raise Forbidden("You may not sign off your own due diligence.")


def pending(session: Session, user_id: int) -> EddReview | None:
    """The sign-off waiting for a decision, if any."""
    return session.scalar(
        sa.select(EddReview).where(EddReview.user_id == user_id, EddReview.status == "proposed")
    )


def latest(session: Session, user_id: int) -> EddReview | None:
    """The customer's latest sign-off, proposed or decided."""
    return session.scalar(
        sa.select(EddReview)
        .where(EddReview.user_id == user_id)
        .order_by(EddReview.created_at.desc(), EddReview.id.desc())
        .limit(1)
    )


def propose(session: Session, *, officer: User, customer_id: uuid.UUID, reason: str) -> EddReview:
    """An officer proposes the sign-off of a high-risk customer (one commit)."""
    customer = find_customer(session, customer_id)
    _not_self(officer, customer)
    rating = _rating(session, customer.id)
    if rating is None or rating.level != RiskLevel.HIGH.value:
        raise EddNotRequired()
    if pending(session, customer.id) is not None:
        raise EddAlreadyProposed()
    review = EddReview(
        user_id=customer.id,
        status=EddStatus.PROPOSED.value,
        reason=reason,
        proposed_by_id=officer.id,
    )
    session.add(review)
    rating.edd_status = EddStatus.PROPOSED.value
    session.flush()
    audit.record(
        session,
        "risk.edd_proposed",
        resource_type="edd_review",
        resource=review,
        changes={"customer_id": str(customer.public_id), "reason": reason,
                 "score": rating.score},
    )  # fmt: skip
    uow.commit(session)
    return review


def decide(
    session: Session, *, officer: User, customer_id: uuid.UUID, decision: str, reason: str
) -> EddReview:
    """Another officer approves or rejects the proposed sign-off (one commit)."""
    customer = find_customer(session, customer_id)
    _not_self(officer, customer)
    rating = _rating(session, customer.id)
    review = session.scalar(
        sa.select(EddReview)
        .where(EddReview.user_id == customer.id, EddReview.status == EddStatus.PROPOSED.value)
        .with_for_update(of=EddReview)
        .execution_options(populate_existing=True)
    )
    if review is None:
        raise EddNotProposed()
    if review.proposed_by_id == officer.id:
        raise EddSameOfficer()
    status = EddStatus.APPROVED if decision == "approve" else EddStatus.REJECTED
    review.status, review.decided_by_id = status.value, officer.id
    review.decision_reason, review.decided_at = reason, utcnow()
    if rating is not None and rating.level == RiskLevel.HIGH.value:
        rating.edd_status = status.value
    audit.record(
        session,
        "risk.edd_decided",
        resource_type="edd_review",
        resource=review,
        changes={"customer_id": str(customer.public_id), "decision": decision,
                 "reason": reason, "proposed_by": str(review.proposed_by.public_id)},
    )  # fmt: skip
    uow.commit(session)
    return review
