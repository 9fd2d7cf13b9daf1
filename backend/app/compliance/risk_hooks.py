"""Where the customer risk rating meets the movement engine.

For a transfer or withdrawal from a customer's account, the facts reader `customer_risk`
reads, with the movement's other facts, the customer's risk level, their enhanced due
diligence and whether a periodic review is open past its grace. Then:

- a customer rated high whose due diligence is not approved, and who holds a KYC level above
  basic, is held to the basic level's limits (`ctx.limits_level`, read by the transfer limits);
- with `RISK_OVERDUE_ACTION=block_outgoing`, the policy `risk_review_overdue` refuses the
  movement, 403 `risk_review_overdue` (with `none` it does nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app

from app.compliance.reviews import OPEN, overdue_before
from app.compliance.risk_models import CustomerRisk, EddStatus, RiskLevel, RiskReview
from app.core.db import utcnow
from app.core.errors import DomainError
from app.ledger import engine
from app.ledger.engine import PolicyContext, Review

KINDS = ("transfer", "withdrawal")
BASIC = "basic"
_OVERDUE = "risk_review_overdue"  # ctx.shared: an open review is past its grace


class RiskReviewOverdue(DomainError):
    status, code = 403, "risk_review_overdue"
    message = "A periodic review of your account is overdue; outgoing payments are paused."


def _statement() -> sa.Select[Any]:
    user: sa.BindParameter[int] = sa.bindparam("risk_user_id")
    rating = sa.select(CustomerRisk.level, CustomerRisk.edd_status).where(
        CustomerRisk.user_id == user
    )
    overdue = sa.exists().where(
        RiskReview.user_id == user,
        RiskReview.status.in_(OPEN),
        RiskReview.due_on < sa.bindparam("risk_overdue_before"),
    )
    return sa.select(
        rating.with_only_columns(CustomerRisk.level).scalar_subquery().label("level"),
        rating.with_only_columns(CustomerRisk.edd_status).scalar_subquery().label("edd"),
        overdue.label("overdue"),
    )


def _outgoing_customer(ctx: PolicyContext) -> int | None:
    customer = ctx.customer
    if customer is None or ctx.debit is None or ctx.debit.user_id != customer.id:
        return None
    return customer.id


def risk_facts(ctx: PolicyContext) -> engine.Facts | None:
    """Engine facts reader: the rating, the due diligence and an overdue review."""
    user_id = _outgoing_customer(ctx)
    if user_id is None:
        return None
    params = {"risk_user_id": user_id, "risk_overdue_before": overdue_before(utcnow().date())}
    customer_level = ctx.customer.kyc_level if ctx.customer is not None else None

    def take(row: Sequence[Any]) -> None:
        level, edd, overdue = row
        held_back = level == RiskLevel.HIGH.value and edd != EddStatus.APPROVED.value
        if held_back and customer_level not in (None, "none", BASIC):
            ctx.limits_level = BASIC
        ctx.shared[_OVERDUE] = bool(overdue)

    return engine.Facts("customer_risk", _statement, params, take)


def overdue_policy(ctx: PolicyContext) -> Review | None:
    """Engine policy: refuse an outgoing movement while a review is overdue (if so set)."""
    if current_app.config["RISK_OVERDUE_ACTION"] != "block_outgoing":
        return None
    if ctx.shared.get(_OVERDUE):
        raise RiskReviewOverdue()
    return None


def init_app(app: Flask) -> None:
    """Register the risk facts and the overdue policy with the movement engine."""
    engine.register_facts(app, "customer_risk", risk_facts, kinds=KINDS)
    engine.register_policy(app, "risk_review_overdue", overdue_policy, kinds=KINDS)
