"""Rate a customer: read the facts, weigh them (`risk.py`), keep the rating, audit a change.

`rerate` is called on the events that can change a rating (a new alert, a KYC submission or
decision, a completed review) and by the nightly batch; it flushes only, the caller's unit of
work commits. A rating whose level, score or factors changed is audited (`risk.rated`) with
the old level, the new one, the factors and the reason. Entering `high` makes enhanced due
diligence `required` (an earlier sign-off does not carry over); leaving it, `not_required`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.auth.models import User
from app.compliance import risk
from app.compliance.models import AlertResolution, ComplianceAlert, KycCase, MonitoredPosting
from app.compliance.risk_models import CustomerRisk, EddStatus, RiskLevel
from app.core import audit
from app.core.db import utcnow
from app.core.errors import NotFound
from app.core.products import products
from app.ledger.accounts import Account, AccountStatus

CASE_RESOLUTIONS = (AlertResolution.ESCALATED.value, AlertResolution.SAR_FILED.value)


def settings() -> risk.Settings:
    return risk.Settings.from_config(current_app.config)


def latest_case(session: Session, user_id: int) -> KycCase | None:
    """The customer's latest KYC case: nationality, residence and the PEP declaration."""
    return session.scalar(
        sa.select(KycCase)
        .where(KycCase.user_id == user_id)
        .order_by(KycCase.created_at.desc(), KycCase.id.desc())
        .limit(1)
    )


def _count(session: Session, stmt: sa.Select[Any]) -> int:
    return int(session.scalar(stmt) or 0)


def _open_accounts(session: Session, user_id: int) -> int:
    return _count(
        session,
        sa.select(sa.func.count())
        .select_from(Account)
        .where(Account.user_id == user_id, Account.status != AccountStatus.CLOSED.value),
    )


def _history(session: Session, user_id: int, now: datetime) -> tuple[int, int]:
    """(alerts raised, cases escalated or reported) over RISK_HISTORY_DAYS."""
    since = now - timedelta(days=current_app.config["RISK_HISTORY_DAYS"])
    alert = ComplianceAlert
    alerts = _count(
        session,
        sa.select(sa.func.count()).where(alert.user_id == user_id, alert.created_at >= since),
    )
    cases = _count(
        session,
        sa.select(sa.func.count()).where(
            alert.user_id == user_id,
            alert.resolution.in_(CASE_RESOLUTIONS),
            alert.resolved_at >= since,
        ),
    )
    return alerts, cases


def _cash_postings(session: Session, user_id: int, now: datetime) -> int:
    """Cash-like postings over RISK_CASH_WINDOW_DAYS (the AML feed's user/time index)."""
    config = current_app.config
    since = now - timedelta(days=config["RISK_CASH_WINDOW_DAYS"])
    posting = MonitoredPosting
    return _count(
        session,
        sa.select(sa.func.count()).where(
            posting.user_id == user_id,
            posting.occurred_at >= since,
            posting.channel.in_(config["RISK_CASH_CHANNELS"]),
        ),
    )


def read_facts(session: Session, user: User, *, now: datetime) -> risk.Facts:
    """Everything the rating weighs about the customer, read now."""
    case = latest_case(session, user.id)
    held = {"accounts": _open_accounts(session, user.id)}
    held.update(products(current_app).held(session, user.id))
    alerts, cases = _history(session, user.id, now)
    return risk.Facts(
        nationality=case.nationality if case else None,
        residence=(case.address or {}).get("country") if case else None,
        kyc_level=user.kyc_level or "none",
        politically_exposed=bool(case and case.politically_exposed),
        products=held,
        alerts=alerts,
        cases=cases,
        cash_postings=_cash_postings(session, user.id, now),
    )


def _locked(session: Session, user_id: int) -> CustomerRisk | None:
    return session.scalar(
        sa.select(CustomerRisk)
        .where(CustomerRisk.user_id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _first(session: Session, user_id: int, rated: risk.Rating, now: datetime) -> CustomerRisk:
    """Insert the customer's first rating; a concurrent first rating's row is taken instead."""
    today = now.date()
    row = CustomerRisk(
        user_id=user_id,
        level=RiskLevel.LOW.value,
        score=0,
        factors=[],
        rated_at=now,
        reviewed_on=today,
        next_review_due=risk.next_review(today, rated.level, settings()),
        edd_status=EddStatus.NOT_REQUIRED.value,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        found = _locked(session, user_id)
        if found is None:
            raise
        return found
    return row


def _edd_after(row: CustomerRisk, new_level: str) -> str:
    high = RiskLevel.HIGH.value
    if new_level != high:
        return EddStatus.NOT_REQUIRED.value
    if row.level != high or row.edd_status == EddStatus.NOT_REQUIRED.value:
        return EddStatus.REQUIRED.value
    return row.edd_status


def rerate(
    session: Session,
    *,
    user_id: int,
    reason: str,
    now: datetime | None = None,
    reviewed: bool = False,
) -> CustomerRisk:
    """Rate the customer again and keep the rating; audit it when it changed (flushes only).
    `reviewed`: a periodic review was just completed, the next counts from today."""
    now = now or utcnow()
    user = session.get(User, user_id)
    if user is None:
        raise LookupError(f"no user {user_id}")
    rated = risk.rate(read_facts(session, user, now=now), settings())
    row = _locked(session, user_id)
    first = row is None
    if row is None:
        row = _first(session, user_id, rated, now)
    old = (row.level, row.score, row.factors)
    edd = _edd_after(row, rated.level)
    old_level = None if first else row.level
    row.level, row.score, row.factors = rated.level, rated.score, rated.factors
    row.rated_at, row.edd_status = now, edd
    if reviewed:
        row.reviewed_on = now.date()
    row.next_review_due = risk.next_review(row.reviewed_on, rated.level, settings())
    session.flush()
    if reviewed or first or old != (rated.level, rated.score, rated.factors):
        _audit(session, user, row, old_level=old_level, reason=reason)
    return row


def _audit(
    session: Session, user: User, row: CustomerRisk, *, old_level: str | None, reason: str
) -> None:
    audit.record(
        session,
        "risk.rated",
        resource_type="customer_risk",
        resource_id=user.public_id,
        changes={
            "reason": reason,
            "old_level": old_level,
            "new_level": row.level,
            "score": row.score,
            "factors": {f["factor"]: {"value": f["value"], "weight": f["weight"]}
                        for f in row.factors},
            "next_review_due": row.next_review_due.isoformat(),
            "edd_status": row.edd_status,
        },
    )  # fmt: skip


@dataclass(frozen=True)
class RiskView:
    """A customer's rating as an officer sees it."""

    level: str
    score: int
    factors: list[dict[str, Any]]
    rated_at: datetime
    next_review_due: date
    edd_status: str


def current(session: Session, *, user: User) -> RiskView:
    """The customer's kept rating; for one never rated, the rating computed now (not kept:
    the next event or the nightly batch keeps it)."""
    row = session.get(CustomerRisk, user.id)
    if row is not None:
        return RiskView(
            row.level, row.score, row.factors, row.rated_at, row.next_review_due, row.edd_status
        )
    now = utcnow()
    rated = risk.rate(read_facts(session, user, now=now), settings())
    high = rated.level == RiskLevel.HIGH.value
    return RiskView(
        rated.level,
        rated.score,
        rated.factors,
        now,
        risk.next_review(now.date(), rated.level, settings()),
        EddStatus.REQUIRED.value if high else EddStatus.NOT_REQUIRED.value,
    )


class CustomerNotFound(NotFound):
    message = "The customer was not found."


def find_customer(session: Session, public_id: uuid.UUID) -> User:
    """The customer with this public id (404 otherwise)."""
    user = session.scalar(sa.select(User).where(User.public_id == public_id))
    if user is None:
        raise CustomerNotFound()
    return user
