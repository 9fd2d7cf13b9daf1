"""Fraud rules for outgoing transfers: small named rules, each with a score.

`assess` runs every rule; when the total reaches `FRAUD_REVIEW_THRESHOLD` the transfer is held
for a compliance officer (`pending_review`). The score and the names of the rules that fired
are stored on the transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.auth.models import User
from app.core.money import configured_amount
from app.ledger.models import JournalTransaction, TxnType
from app.transactions.activity import SENT_STATUSES, Activity


@dataclass
class TransferContext:
    session: Session
    user: User
    amount: int
    currency: str
    beneficiary_key: str
    own_beneficiary: bool
    now: datetime
    activity: Activity


@dataclass(frozen=True)
class Rule:
    name: str
    score: int
    check: Callable[[TransferContext], bool]


@dataclass
class Assessment:
    score: int = 0
    rules: list[str] = field(default_factory=list)

    @property
    def needs_review(self) -> bool:
        return self.score >= current_app.config["FRAUD_REVIEW_THRESHOLD"]


RULES: list[Rule] = []


def rule(name: str, score: int) -> Callable[[Callable[[TransferContext], bool]], Rule]:
    def register(check: Callable[[TransferContext], bool]) -> Rule:
        registered = Rule(name, score, check)
        RULES.append(registered)
        return registered

    return register


def _transfers(ctx: TransferContext) -> sa.Select:
    return sa.select(JournalTransaction).where(
        JournalTransaction.initiated_by_id == ctx.user.id,
        JournalTransaction.type == TxnType.TRANSFER.value,
    )


@rule("velocity", 50)
def velocity(ctx: TransferContext) -> bool:
    """Too many transfers in a short window."""
    return ctx.activity.transfers_in_window >= current_app.config["FRAUD_VELOCITY_MAX"]


@rule("unusual_amount", 40)
def unusual_amount(ctx: TransferContext) -> bool:
    """Far above what this customer usually sends."""
    history = ctx.activity
    if history.recent_count < current_app.config["FRAUD_AMOUNT_MIN_HISTORY"]:
        return False
    if not history.recent_average:
        return False
    return ctx.amount > current_app.config["FRAUD_AMOUNT_MULTIPLIER"] * history.recent_average


@rule("new_beneficiary_large_amount", 30)
def new_beneficiary_large_amount(ctx: TransferContext) -> bool:
    """A large amount to someone this customer never paid before."""
    threshold = configured_amount(current_app.config["FRAUD_NEW_BENEFICIARY_AMOUNT"], ctx.currency)
    if ctx.own_beneficiary or threshold is None or ctx.amount < threshold:
        return False
    paid_before = ctx.session.scalar(
        _transfers(ctx)
        .with_only_columns(JournalTransaction.id)
        .where(
            JournalTransaction.beneficiary_key == ctx.beneficiary_key,
            JournalTransaction.status.in_(SENT_STATUSES),
        )
        .limit(1)
    )
    return paid_before is None


@rule("recent_security_change", 50)
def recent_security_change(ctx: TransferContext) -> bool:
    """The first transfer right after a password or 2FA change."""
    changes = [t for t in (ctx.user.password_changed_at, ctx.user.mfa_changed_at) if t]
    if not changes:
        return False
    changed_at = max(changes)
    window = timedelta(seconds=current_app.config["FRAUD_SECURITY_CHANGE_WINDOW_SECONDS"])
    if ctx.now - changed_at > window:
        return False
    since = ctx.session.scalar(
        _transfers(ctx)
        .with_only_columns(JournalTransaction.id)
        .where(JournalTransaction.created_at >= changed_at)
        .limit(1)
    )
    return since is None


def assess(ctx: TransferContext) -> Assessment:
    """Run every rule; the sum of the scores of those that fire, and their names."""
    result = Assessment()
    for item in RULES:
        if item.check(ctx):
            result.score += item.score
            result.rules.append(item.name)
    return result
