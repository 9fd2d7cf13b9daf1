"""Periodic KYC reviews: opened when a rating's review falls due, completed by an officer.

A rating's `next_review_due` counts from its `reviewed_on` (the first rating, then each
completed review) by level (`RISK_REVIEW_INTERVAL_DAYS`). The nightly run (`nightly`) re-rates
the customers, opens a review for each rating that fell due (`risk.review_opened`) and marks
the reviews still open `RISK_REVIEW_GRACE_DAYS` after their due date overdue
(`risk.review_overdue`). A review's status is read from its dates, so the list, the console
and the overdue policy agree even before the nightly run: `due` until the grace ends,
`overdue` after, `completed` once an officer completed it (`risk.review_completed`, then the
customer is re-rated and the next review counts from today).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.auth.models import User
from app.compliance.models import KycCase
from app.compliance.rating import rerate
from app.compliance.risk_models import CustomerRisk, ReviewStatus, RiskReview
from app.core import audit, uow
from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden, NotFound
from app.core.pagination import Page, paginate

BATCH = 200
OPEN = (ReviewStatus.DUE.value, ReviewStatus.OVERDUE.value)


class ReviewNotFound(NotFound):
    message = "The review was not found."


class ReviewCompleted(Conflict):
    code, message = "review_completed", "The review is completed already."


def overdue_before(today: date) -> date:
    """An open review due before this date is overdue."""
    return today - timedelta(days=current_app.config["RISK_REVIEW_GRACE_DAYS"])


def status_of(review: RiskReview, today: date | None = None) -> str:
    """completed, overdue (open past its grace) or due."""
    if review.status == ReviewStatus.COMPLETED.value:
        return review.status
    if review.due_on < overdue_before(today or utcnow().date()):
        return ReviewStatus.OVERDUE.value
    return ReviewStatus.DUE.value


def list_reviews(
    session: Session, *, status: str | None = None, limit: int = 50, cursor: str | None = None
) -> Page:
    """Reviews newest first; bare: the open ones (due and overdue)."""
    before = overdue_before(utcnow().date())
    stmt = sa.select(RiskReview)
    if status == ReviewStatus.COMPLETED.value:
        stmt = stmt.where(RiskReview.status == status)
    else:
        stmt = stmt.where(RiskReview.status.in_(OPEN))
    if status == ReviewStatus.OVERDUE.value:
        stmt = stmt.where(RiskReview.due_on < before)
    elif status == ReviewStatus.DUE.value:
        stmt = stmt.where(RiskReview.due_on >= before)
    return paginate(session, stmt, model=RiskReview, limit=limit, cursor=cursor)


def complete(session: Session, *, officer: User, review_id: uuid.UUID, notes: str) -> RiskReview:
    """An officer completes an open review; the customer is re-rated from today (one commit)."""
    review = session.scalar(
        sa.select(RiskReview)
        .where(RiskReview.public_id == review_id)
        .with_for_update(of=RiskReview)
        .execution_options(populate_existing=True)
    )
    if review is None:
        raise ReviewNotFound()
    if review.user_id == officer.id:
        raise Forbidden("You may not review yourself.")
    if review.status == ReviewStatus.COMPLETED.value:
        raise ReviewCompleted()
    now = utcnow()
    was = status_of(review, now.date())
    review.status, review.completed_by_id = ReviewStatus.COMPLETED.value, officer.id
    review.completed_at, review.notes = now, notes
    rated = rerate(
        session, user_id=review.user_id, reason="review_completed", now=now, reviewed=True
    )
    audit.record(
        session,
        "risk.review_completed",
        resource_type="risk_review",
        resource=review,
        changes={"was": was, "notes": notes, "level": rated.level,
                 "next_review_due": rated.next_review_due.isoformat()},
    )  # fmt: skip
    uow.commit(session)
    return review


def open_due(session: Session, *, today: date) -> int:
    """Open a review for every rating due by `today` that has none open (one commit per batch)."""
    opened = 0
    while True:
        rows = session.scalars(
            sa.select(CustomerRisk)
            .where(
                CustomerRisk.next_review_due <= today,
                ~sa.exists().where(
                    RiskReview.user_id == CustomerRisk.user_id, RiskReview.status.in_(OPEN)
                ),
            )
            .limit(BATCH)
        ).all()
        for row in rows:
            review = RiskReview(
                user_id=row.user_id,
                level=row.level,
                due_on=row.next_review_due,
                status=ReviewStatus.DUE.value,
            )
            session.add(review)
            changes = {"level": row.level, "due_on": row.next_review_due.isoformat()}
            audit.record(
                session,
                "risk.review_opened",
                resource_type="risk_review",
                resource=review,
                changes=changes,
            )
        uow.commit(session)
        opened += len(rows)
        if len(rows) < BATCH:
            return opened


def mark_overdue(session: Session, *, today: date) -> int:
    """Mark the open reviews past their grace overdue, each audited (one commit)."""
    reviews = session.scalars(
        sa.select(RiskReview)
        .where(
            RiskReview.status == ReviewStatus.DUE.value,
            RiskReview.due_on < overdue_before(today),
        )
        .with_for_update(of=RiskReview, skip_locked=True)
    ).all()
    for review in reviews:
        review.status = ReviewStatus.OVERDUE.value
        audit.record(
            session,
            "risk.review_overdue",
            resource_type="risk_review",
            resource=review,
            changes={"due_on": review.due_on.isoformat(),
                     "action": current_app.config["RISK_OVERDUE_ACTION"]},
        )  # fmt: skip
    uow.commit(session)
    return len(reviews)


def rerate_all(session: Session, *, now: datetime) -> int:
    """Re-rate every customer with a KYC case or a rating, a batch per commit."""
    after, done = 0, 0
    rated = sa.union(sa.select(KycCase.user_id), sa.select(CustomerRisk.user_id)).subquery()
    while True:
        ids = list(
            session.scalars(
                sa.select(rated.c.user_id)
                .where(rated.c.user_id > after)
                .order_by(rated.c.user_id)
                .limit(BATCH)
            )
        )
        for user_id in ids:
            rerate(session, user_id=user_id, reason="nightly", now=now)
        uow.commit(session)
        done += len(ids)
        if len(ids) < BATCH:
            return done
        after = ids[-1]


def nightly(session: Session, *, now: datetime | None = None) -> dict[str, Any]:
    """Re-rate, open the reviews that fell due, mark the overdue ones."""
    now = now or utcnow()
    rated = rerate_all(session, now=now)
    opened = open_due(session, today=now.date())
    overdue = mark_overdue(session, today=now.date())
    return {"rated": rated, "opened": opened, "overdue": overdue}
