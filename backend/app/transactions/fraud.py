"""Fraud rules for outgoing transfers: small named rules, each with a score.

`assess` is a policy of the movement engine: it runs every rule, records those that fire on the
transaction, and when their total reaches `FRAUD_REVIEW_THRESHOLD` holds the transfer for a
compliance officer (`pending_review`).

The rules read the customer's running activity and payees (`activity.snapshot`, one query shared
with the limits), kept in the transfer's own transaction by `activity.observe` — never the
customer's history, so a transfer costs the same after 100,000 others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from flask import current_app

from app.core.money import configured_amount
from app.ledger.engine import PolicyContext, Review
from app.ledger.errors import SuspectedFraud
from app.ledger.models import TxnType
from app.ledger.owners import Customer
from app.transactions import activity

KINDS = (TxnType.TRANSFER.value,)


@dataclass(frozen=True)
class Rule:
    name: str
    score: int
    check: Callable[[PolicyContext], bool]


RULES: list[Rule] = []


def rule(name: str, score: int) -> Callable[[Callable[[PolicyContext], bool]], Rule]:
    def register(check: Callable[[PolicyContext], bool]) -> Rule:
        registered = Rule(name, score, check)
        RULES.append(registered)
        return registered

    return register


def _customer(ctx: PolicyContext) -> Customer:
    if ctx.customer is None:  # a transfer is always a customer's
        raise RuntimeError("a transfer without a customer")
    return ctx.customer


# --- the rules -----------------------------------------------------------------------------------


@rule("velocity", 50)
def velocity(ctx: PolicyContext) -> bool:
    """Too many transfers in a short window."""
    window = timedelta(seconds=current_app.config["FRAUD_VELOCITY_WINDOW_SECONDS"])
    since = ctx.now - window
    recent = [
        t for t in activity.snapshot(ctx).transfer_times if datetime.fromisoformat(t) >= since
    ]
    most: int = current_app.config["FRAUD_VELOCITY_MAX"]
    return len(recent) >= most


@rule("unusual_amount", 40)
def unusual_amount(ctx: PolicyContext) -> bool:
    """Far above what this customer usually sends."""
    amounts = activity.snapshot(ctx).recent_amounts.get(ctx.movement.currency, [])
    if len(amounts) < current_app.config["FRAUD_AMOUNT_MIN_HISTORY"] or not amounts:
        return False
    average = Decimal(sum(amounts)) / len(amounts)
    if not average:
        return False
    multiplier: int = current_app.config["FRAUD_AMOUNT_MULTIPLIER"]
    return ctx.movement.amount > multiplier * average


@rule("new_beneficiary_large_amount", 30)
def new_beneficiary_large_amount(ctx: PolicyContext) -> bool:
    """A large amount to someone this customer never paid before."""
    currency = ctx.movement.currency
    threshold = configured_amount(current_app.config["FRAUD_NEW_BENEFICIARY_AMOUNT"], currency)
    if threshold is None or ctx.movement.amount < threshold:
        return False
    if not ctx.credit.is_system and ctx.credit.user_id == _customer(ctx).id:
        return False  # between the customer's own accounts
    return not activity.snapshot(ctx).paid_before


@rule("recent_security_change", 50)
def recent_security_change(ctx: PolicyContext) -> bool:
    """The first transfer right after a password or 2FA change."""
    user = _customer(ctx)
    changes = [t for t in (user.password_changed_at, user.mfa_changed_at) if t]
    if not changes:
        return False
    changed_at = max(changes)
    window = timedelta(seconds=current_app.config["FRAUD_SECURITY_CHANGE_WINDOW_SECONDS"])
    if ctx.now - changed_at > window:
        return False
    last = activity.snapshot(ctx).last_transfer_at
    return last is None or last < changed_at


def decline(ctx: PolicyContext) -> None:
    """The fraud rules for a payment that cannot wait for a review (a card network needs its
    answer now): a score that would hold a transfer declines it."""
    if assess(ctx) is not None:
        raise SuspectedFraud(details={"risk_rules": list(ctx.risk_rules)})


def assess(ctx: PolicyContext) -> Review | None:
    """Run every rule; hold the transfer when the scores of those that fire reach the threshold."""
    if ctx.customer is None:
        return None
    fired = [item for item in RULES if item.check(ctx)]
    for item in fired:
        ctx.flag(item.name, item.score)
    total = sum(item.score for item in fired)
    if total < current_app.config["FRAUD_REVIEW_THRESHOLD"]:
        return None
    top = max(fired, key=lambda item: item.score)
    return Review(top.name, top.score, f"risk score {total}: {', '.join(i.name for i in fired)}")
