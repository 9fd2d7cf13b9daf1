"""What the limits and the fraud rules know about a customer, read and kept in one statement each.

`snapshot` reads, under the customer's lock, today's running counters (`daily_counters`), the
running activity (`recent_activity`) and whether the beneficiary was paid before (`payees`) in
one round trip. `observe`, an engine observer, writes what a movement changes in all three in
one statement (a data-modifying CTE on PostgreSQL). Neither looks at the customer's history, so
a movement costs the same after 100,000 others.

Counted (see `counters`): outgoing withdrawals and transfers from the moment they are placed
(completed, pending or held for review) until they are rejected, released or reversed;
completed deposits. The fraud rules' activity: every transfer's instant (velocity, first
transfer after a security change), the amounts of sent ones (completed or pending: "the usual
amount") and their beneficiaries (payees).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from app.ledger.engine import PolicyContext
from app.ledger.models import JournalTransaction, TxnStatus, TxnType
from app.transactions.models import DailyCounter, Payee, RecentActivity

OUT, IN = "out", "in"
RECENT = 20  # how many sent amounts make "the usual amount"

_C, _A, _P = DailyCounter.__table__, RecentActivity.__table__, Payee.__table__


@dataclass(frozen=True)
class Snapshot:
    sent_today: int
    deposited_today: int
    last_transfer_at: datetime | None
    transfer_times: list[str]  # ISO instants of the latest transfers, oldest first
    recent_amounts: dict[str, list[int]]  # currency → latest sent amounts, oldest first
    paid_before: bool


def _build_read() -> sa.Select:
    uid = sa.bindparam("user_id")

    def today(direction: str) -> sa.ScalarSelect:
        return (
            sa.select(_C.c.amount)
            .where(
                _C.c.user_id == uid,
                _C.c.currency == sa.bindparam("currency"),
                _C.c.day == sa.bindparam("day", type_=sa.Date),
                _C.c.direction == direction,
            )
            .scalar_subquery()
        )

    def kept(column: sa.Column) -> sa.ScalarSelect:
        return sa.select(column).where(_A.c.user_id == uid).scalar_subquery()

    paid = sa.exists().where(_P.c.user_id == uid, _P.c.beneficiary_key == sa.bindparam("key"))
    return sa.select(
        today(OUT),
        today(IN),
        kept(_A.c.last_transfer_at),
        kept(_A.c.transfer_times),
        kept(_A.c.recent_amounts),
        paid,
    )


_READ = _build_read()


def snapshot(ctx: PolicyContext) -> Snapshot:
    """The locked customer's counters and activity (one query, once per movement)."""
    found = ctx.shared.get("activity")
    if found is None:
        row = (
            ctx.session.connection()
            .execute(
                _READ,
                {
                    "user_id": ctx.customer.id,
                    "currency": ctx.movement.currency,
                    "day": ctx.now.astimezone(UTC).date(),
                    "key": ctx.movement.metadata.get("beneficiary_key") or "",
                },
            )
            .one()
        )
        found = ctx.shared["activity"] = Snapshot(
            sent_today=int(row[0] or 0),
            deposited_today=int(row[1] or 0),
            last_transfer_at=row[2],
            transfer_times=list(row[3] or []),
            recent_amounts=dict(row[4] or {}),
            paid_before=bool(row[5]),
        )
    return found


# --- keeping them --------------------------------------------------------------------------------


def _counter_insert(insert) -> Any:
    stmt = insert(_C).values(
        user_id=sa.bindparam("c_user_id"),
        currency=sa.bindparam("c_currency"),
        direction=sa.bindparam("c_direction"),
        day=sa.bindparam("c_day", type_=sa.Date),
        amount=sa.bindparam("c_amount", type_=sa.BigInteger),
        count=sa.bindparam("c_count", type_=sa.Integer),
    )
    return stmt.on_conflict_do_update(
        index_elements=["user_id", "currency", "direction", "day"],
        set_={
            "amount": _C.c.amount + stmt.excluded.amount,
            "count": _C.c.count + stmt.excluded.count,
        },
    )


def _activity_insert(insert) -> Any:
    stmt = insert(_A).values(
        user_id=sa.bindparam("a_user_id"),
        last_transfer_at=sa.bindparam("a_last", type_=_A.c.last_transfer_at.type),
        transfer_times=sa.bindparam("a_times", type_=_A.c.transfer_times.type),
        recent_amounts=sa.bindparam("a_amounts", type_=_A.c.recent_amounts.type),
    )
    return stmt.on_conflict_do_update(
        index_elements=["user_id"],
        set_={
            "last_transfer_at": stmt.excluded.last_transfer_at,
            "transfer_times": stmt.excluded.transfer_times,
            "recent_amounts": stmt.excluded.recent_amounts,
        },
    )


def _payee_insert(insert) -> Any:
    return (
        insert(_P)
        .values(
            user_id=sa.bindparam("p_user_id"),
            beneficiary_key=sa.bindparam("p_key"),
            first_paid_at=sa.bindparam("p_at", type_=_P.c.first_paid_at.type),
        )
        .on_conflict_do_nothing(index_elements=["user_id", "beneficiary_key"])
    )


_PARTS = {"c": _counter_insert, "a": _activity_insert, "p": _payee_insert}
_COMBINED: dict[tuple[str, ...], Any] = {}


def _combined(parts: tuple[str, ...]) -> Any:
    """One PostgreSQL statement for the given parts: the last is the statement, the others
    data-modifying CTEs (built once per combination)."""
    stmt = _COMBINED.get(parts)
    if stmt is None:
        *ctes, main = (_PARTS[p](postgresql.insert) for p in parts)
        stmt = main
        for i, cte in enumerate(ctes):
            stmt = stmt.add_cte(cte.cte(f"w{i}"))
        _COMBINED[parts] = stmt
    return stmt


def _counter_change(ctx: PolicyContext, txn: JournalTransaction) -> tuple[int, int] | None:
    """(amount, count) to add to the day's counter of `txn`, or None."""
    if txn.type == TxnType.DEPOSIT:  # deposits count once the money has arrived
        if txn.status == TxnStatus.COMPLETED and ctx.event in ("completed", "approved"):
            return txn.amount, 1
        return (-txn.amount, -1) if ctx.event == "reversed" else None
    if ctx.event in ("completed", "held", "review"):
        return txn.amount, 1
    if ctx.event in ("released", "rejected", "reversed"):
        return -txn.amount, -1
    if ctx.event == "captured":  # a partial capture: the part released no longer counts
        held = ctx.shared.get("held_amount", txn.amount)
        return (txn.amount - held, 0) if held != txn.amount else None
    return None


def observe(ctx: PolicyContext, txn: JournalTransaction) -> None:
    """Keep the counters, the running activity and the payees in step with `txn`."""
    incoming = txn.type == TxnType.DEPOSIT
    account = txn.to_account if incoming else txn.from_account
    if account is None or account.user_id is None:
        return
    user_id = account.user_id
    params: dict[str, Any] = {}
    parts: list[str] = []
    change = _counter_change(ctx, txn)
    if change is not None:
        parts.append("c")
        params.update(
            c_user_id=user_id,
            c_currency=txn.currency,
            c_direction=IN if incoming else OUT,
            c_day=txn.created_at.astimezone(UTC).date(),
            c_amount=change[0],
            c_count=change[1],
        )
    if txn.type == TxnType.TRANSFER and ctx.customer is not None:
        sent = txn.status in (TxnStatus.COMPLETED.value, TxnStatus.PENDING.value)
        if ctx.event in ("completed", "held", "review"):
            seen = snapshot(ctx)
            keep = max(int(current_app.config["FRAUD_VELOCITY_MAX"]), RECENT)
            amounts = dict(seen.recent_amounts)
            if sent:
                amounts[txn.currency] = [*amounts.get(txn.currency, []), txn.amount][-RECENT:]
            parts.append("a")
            params.update(
                a_user_id=user_id,
                a_last=ctx.now,
                a_times=[*seen.transfer_times, ctx.now.isoformat()][-keep:],
                a_amounts=amounts,
            )
        if sent and txn.beneficiary_key and ctx.event in ("completed", "held", "approved"):
            parts.append("p")
            params.update(p_user_id=user_id, p_key=txn.beneficiary_key, p_at=ctx.now)
    if not parts:
        return
    conn = ctx.session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(_combined(tuple(parts)), params)
        return
    for part in parts:
        mine = {k: v for k, v in params.items() if k.startswith(f"{part}_")}
        conn.execute(_PARTS[part](sqlite.insert), mine)
