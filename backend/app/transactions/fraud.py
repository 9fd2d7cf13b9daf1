"""Fraud rules for outgoing transfers: small named rules, each with a score.

`assess` is a policy of the movement engine: it runs every rule, records those that fire on the
transaction, and when their total reaches `FRAUD_REVIEW_THRESHOLD` holds the transfer for a
compliance officer (`pending_review`).

The rules read the customer's running activity (one row, `RecentActivity`) and the payees they
have paid (`Payee`), which `observe` keeps in the transfer's own transaction — never the
customer's history, so a transfer costs the same after 100,000 others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from app.core.money import configured_amount
from app.ledger.engine import PolicyContext, Review
from app.ledger.models import JournalTransaction, TxnStatus, TxnType
from app.transactions.models import Payee, RecentActivity

KINDS = (TxnType.TRANSFER.value,)
RECENT = 20  # how many sent amounts make "the usual amount"


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


# --- the customer's running activity -------------------------------------------------------------

_A = RecentActivity.__table__
_READ = sa.select(_A.c.last_transfer_at, _A.c.transfer_times, _A.c.recent_amounts).where(
    _A.c.user_id == sa.bindparam("user_id")
)


def _build_upsert(insert) -> sa.Insert:
    stmt = insert(_A).values(
        user_id=sa.bindparam("user_id"),
        last_transfer_at=sa.bindparam("last_transfer_at", type_=_A.c.last_transfer_at.type),
        transfer_times=sa.bindparam("transfer_times", type_=_A.c.transfer_times.type),
        recent_amounts=sa.bindparam("recent_amounts", type_=_A.c.recent_amounts.type),
    )
    return stmt.on_conflict_do_update(
        index_elements=["user_id"],
        set_={
            c: stmt.excluded[c] for c in ("last_transfer_at", "transfer_times", "recent_amounts")
        },
    )


def _build_payee(insert) -> sa.Insert:
    return (
        insert(Payee.__table__)
        .values(
            user_id=sa.bindparam("user_id"),
            beneficiary_key=sa.bindparam("key"),
            first_paid_at=sa.bindparam("at", type_=Payee.__table__.c.first_paid_at.type),
        )
        .on_conflict_do_nothing(index_elements=["user_id", "beneficiary_key"])
    )


_UPSERT = {"postgresql": _build_upsert(postgresql.insert), "sqlite": _build_upsert(sqlite.insert)}
_ADD_PAYEE = {"postgresql": _build_payee(postgresql.insert), "sqlite": _build_payee(sqlite.insert)}
_IS_PAYEE = sa.select(sa.literal(1)).where(
    Payee.__table__.c.user_id == sa.bindparam("user_id"),
    Payee.__table__.c.beneficiary_key == sa.bindparam("key"),
)


@dataclass(frozen=True)
class Activity:
    last_transfer_at: datetime | None
    transfer_times: list[str]  # ISO instants of the latest transfers, oldest first
    recent_amounts: dict[str, list[int]]  # currency → latest sent amounts, oldest first


def activity(ctx: PolicyContext) -> Activity:
    """The locked customer's running activity (read once per movement)."""
    found = ctx.shared.get("activity")
    if found is None:
        row = ctx.session.connection().execute(_READ, {"user_id": ctx.customer.id}).one_or_none()
        found = ctx.shared["activity"] = (
            Activity(row.last_transfer_at, list(row.transfer_times), dict(row.recent_amounts))
            if row is not None
            else Activity(None, [], {})
        )
    return found


def _keep() -> int:
    return max(int(current_app.config["FRAUD_VELOCITY_MAX"]), RECENT)


def observe(ctx: PolicyContext, txn: JournalTransaction) -> None:
    """Record a transfer in the customer's running activity and payees (an engine observer)."""
    if ctx.event not in ("completed", "held", "review", "approved"):
        return
    account = txn.from_account
    if account is None or account.user_id is None or ctx.customer is None:
        return
    user_id = account.user_id
    conn = ctx.session.connection()
    sent = txn.status in (TxnStatus.COMPLETED.value, TxnStatus.PENDING.value)
    if ctx.event != "approved":
        seen = activity(ctx)
        times = [*seen.transfer_times, ctx.now.isoformat()][-_keep() :]
        amounts = dict(seen.recent_amounts)
        if sent:
            amounts[txn.currency] = [*amounts.get(txn.currency, []), txn.amount][-RECENT:]
        conn.execute(
            _UPSERT[conn.dialect.name],
            {
                "user_id": user_id,
                "last_transfer_at": ctx.now,
                "transfer_times": times,
                "recent_amounts": amounts,
            },
        )
    if sent and txn.beneficiary_key:
        conn.execute(
            _ADD_PAYEE[conn.dialect.name],
            {"user_id": user_id, "key": txn.beneficiary_key, "at": ctx.now},
        )


# --- the rules -----------------------------------------------------------------------------------


@rule("velocity", 50)
def velocity(ctx: PolicyContext) -> bool:
    """Too many transfers in a short window."""
    window = timedelta(seconds=current_app.config["FRAUD_VELOCITY_WINDOW_SECONDS"])
    since = ctx.now - window
    recent = [t for t in activity(ctx).transfer_times if datetime.fromisoformat(t) >= since]
    return len(recent) >= current_app.config["FRAUD_VELOCITY_MAX"]


@rule("unusual_amount", 40)
def unusual_amount(ctx: PolicyContext) -> bool:
    """Far above what this customer usually sends."""
    amounts = activity(ctx).recent_amounts.get(ctx.movement.currency, [])
    if len(amounts) < current_app.config["FRAUD_AMOUNT_MIN_HISTORY"] or not amounts:
        return False
    average = Decimal(sum(amounts)) / len(amounts)
    if not average:
        return False
    return ctx.movement.amount > current_app.config["FRAUD_AMOUNT_MULTIPLIER"] * average


@rule("new_beneficiary_large_amount", 30)
def new_beneficiary_large_amount(ctx: PolicyContext) -> bool:
    """A large amount to someone this customer never paid before."""
    currency = ctx.movement.currency
    threshold = configured_amount(current_app.config["FRAUD_NEW_BENEFICIARY_AMOUNT"], currency)
    if threshold is None or ctx.movement.amount < threshold:
        return False
    if not ctx.credit.is_system and ctx.credit.user_id == ctx.customer.id:
        return False  # between the customer's own accounts
    key = ctx.movement.metadata.get("beneficiary_key")
    paid_before = ctx.session.connection().execute(
        _IS_PAYEE, {"user_id": ctx.customer.id, "key": key}
    )
    return paid_before.first() is None


@rule("recent_security_change", 50)
def recent_security_change(ctx: PolicyContext) -> bool:
    """The first transfer right after a password or 2FA change."""
    user = ctx.customer
    changes = [t for t in (user.password_changed_at, user.mfa_changed_at) if t]
    if not changes:
        return False
    changed_at = max(changes)
    window = timedelta(seconds=current_app.config["FRAUD_SECURITY_CHANGE_WINDOW_SECONDS"])
    if ctx.now - changed_at > window:
        return False
    last = activity(ctx).last_transfer_at
    return last is None or last < changed_at


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
