"""An officer's view of one customer: KYC, accounts, alerts, cases, risk, due diligence,
reviews. Read only."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.compliance import edd
from app.compliance.models import ComplianceAlert
from app.compliance.rating import CASE_RESOLUTIONS, current, find_customer, latest_case
from app.compliance.risk_models import RiskReview
from app.ledger.accounts import Account

RECENT = 20  # alerts, cases and reviews shown


def _alerts(session: Session, user_id: int, *, cases: bool) -> list[ComplianceAlert]:
    stmt = sa.select(ComplianceAlert).where(ComplianceAlert.user_id == user_id)
    if cases:
        stmt = stmt.where(ComplianceAlert.resolution.in_(CASE_RESOLUTIONS))
    order = (ComplianceAlert.created_at.desc(), ComplianceAlert.id.desc())
    return list(session.scalars(stmt.order_by(*order).limit(RECENT)))


def _reviews(session: Session, user_id: int) -> list[RiskReview]:
    return list(
        session.scalars(
            sa.select(RiskReview)
            .where(RiskReview.user_id == user_id)
            .order_by(RiskReview.created_at.desc(), RiskReview.id.desc())
            .limit(RECENT)
        )
    )


def overview(session: Session, *, customer_id: uuid.UUID) -> dict[str, Any]:
    """Everything an officer reviews about a customer, in one answer."""
    user = find_customer(session, customer_id)
    accounts = session.scalars(
        sa.select(Account).where(Account.user_id == user.id).order_by(Account.id)
    ).all()
    return {
        "id": user.public_id,
        "name": f"{user.first_name} {user.last_name}".strip(),
        "email": user.email,
        "kyc_status": user.kyc_status,
        "kyc_level": user.kyc_level,
        "kyc_case": latest_case(session, user.id),
        "accounts": accounts,
        "alerts": _alerts(session, user.id, cases=False),
        "cases": _alerts(session, user.id, cases=True),
        "risk": current(session, user=user),
        "edd": edd.latest(session, user.id),
        "reviews": _reviews(session, user.id),
    }
