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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from app.core import uow
from app.core.db import table_of
from app.ledger import engine
from app.ledger.engine import Movement, PolicyContext
from app.ledger.models import JournalTransaction, TxnStatus, TxnType
from app.transactions.models import DailyCounter, Payee, RecentActivity

OUT, IN = "out", "in"
RECENT = 20  # how many sent amounts make "the usual amount"

_C, _A, _P = table_of(DailyCounter), table_of(RecentActivity), table_of(Payee)

# Upserts are built for PostgreSQL and for SQLite (tests), with each dialect's `insert`.
_Insert = postgresql.Insert | sqlite.Insert
_InsertFactory = Callable[[sa.Table], _Insert]


@dataclass(frozen=True)
class Snapshot:
    sent_today: int
    deposited_today: int
    last_transfer_at: datetime | None
    transfer_times: list[str]  # ISO instants of the latest transfers, oldest first
    recent_amounts: dict[str, list[int]]  # currency → latest sent amounts, oldest first
    paid_before: bool


def _build_read() -> sa.Select[Any]:
    uid: sa.BindParameter[int] = sa.bindparam("act_user_id")

    def today(direction: str) -> sa.ScalarSelect[Any]:
        return (
            sa.select(_C.c.amount)
            .where(
                _C.c.user_id == uid,
                _C.c.currency == sa.bindparam("act_currency"),
                _C.c.day == sa.bindparam("act_day", type_=sa.Date),
                _C.c.direction == direction,
            )
            .scalar_subquery()
        )

    def kept(column: sa.Column[Any]) -> sa.ScalarSelect[Any]:
        return sa.select(column).where(_A.c.user_id == uid).scalar_subquery()

    paid = sa.exists().where(_P.c.user_id == uid, _P.c.beneficiary_key == sa.bindparam("act_key"))
    return sa.select(
        today(OUT),
        today(IN),
        kept(_A.c.last_transfer_at),
        kept(_A.c.transfer_times),
        kept(_A.c.recent_amounts),
        paid,
    )


_READ = _build_read()


def load(row: Sequence[Any]) -> Snapshot:
    return Snapshot(
        sent_today=int(row[0] or 0),
        deposited_today=int(row[1] or 0),
        last_transfer_at=row[2],
        transfer_times=list(row[3] or []),
        recent_amounts=dict(row[4] or {}),
        paid_before=bool(row[5]),
    )


def params(movement: Movement, customer_id: int, now: datetime) -> dict[str, Any]:
    return {
        "act_user_id": customer_id,
        "act_currency": movement.currency,
        "act_day": now.astimezone(UTC).date(),
        "act_key": movement.metadata.get("beneficiary_key") or "",
    }


def facts(ctx: PolicyContext) -> engine.Facts | None:
    """The engine's facts reader: the snapshot is read with the movement's other facts."""
    if ctx.customer is None or "activity" in ctx.shared:
        return None

    def take(row: Sequence[Any]) -> None:
        ctx.shared["activity"] = load(row)

    return engine.Facts(
        "activity", lambda: _READ, params(ctx.movement, ctx.customer.id, ctx.now), take
    )


def snapshot(ctx: PolicyContext) -> Snapshot:
    """The locked customer's counters and activity (one query, once per movement, read after
    the customer's lock is held; usually read already with the movement's other facts)."""
    found: Snapshot | None = ctx.shared.get("activity")
    if found is None:
        if ctx.customer is None:  # the rules and observers that ask have a customer
            raise RuntimeError("a movement without a customer has no activity")
        values = params(ctx.movement, ctx.customer.id, ctx.now)
        row = ctx.session.connection().execute(_READ, values).one()
        found = ctx.shared["activity"] = load(row)
    return found


# --- keeping them --------------------------------------------------------------------------------


def _counter_insert(insert: _InsertFactory, v: _Bound) -> _Insert:
    stmt = insert(_C).values(
        user_id=v["c_user_id"],
        currency=v["c_currency"],
        direction=v["c_direction"],
        day=v["c_day"],
        amount=v["c_amount"],
        count=v["c_count"],
    )
    return stmt.on_conflict_do_update(
        index_elements=["user_id", "currency", "direction", "day"],
        set_={
            "amount": _C.c.amount + stmt.excluded.amount,
            "count": _C.c.count + stmt.excluded.count,
        },
    )


def _activity_insert(insert: _InsertFactory, v: _Bound) -> _Insert:
    stmt = insert(_A).values(
        user_id=v["a_user_id"],
        last_transfer_at=v["a_last"],
        transfer_times=v["a_times"],
        recent_amounts=v["a_amounts"],
    )
    return stmt.on_conflict_do_update(
        index_elements=["user_id"],
        set_={
            "last_transfer_at": stmt.excluded.last_transfer_at,
            "transfer_times": stmt.excluded.transfer_times,
            "recent_amounts": stmt.excluded.recent_amounts,
        },
    )


def _payee_insert(insert: _InsertFactory, v: _Bound) -> _Insert:
    return (
        insert(_P)
        .values(user_id=v["p_user_id"], beneficiary_key=v["p_key"], first_paid_at=v["p_at"])
        .on_conflict_do_nothing(index_elements=["user_id", "beneficiary_key"])
    )


class _Bound(dict[str, "sa.BindParameter[Any]"]):
    """Named bind parameters (`prefix` before each name) for a statement built once and run
    with values bound per call."""

    def __init__(self, prefix: str = "") -> None:
        super().__init__()
        self.prefix = prefix

    _TYPES: ClassVar[dict[str, type[TypeEngine[Any]] | TypeEngine[Any]]] = {
        "c_day": sa.Date,
        "c_amount": sa.BigInteger,
        "c_count": sa.Integer,
        "a_last": _A.c.last_transfer_at.type,
        "a_times": _A.c.transfer_times.type,
        "a_amounts": _A.c.recent_amounts.type,
        "p_at": _P.c.first_paid_at.type,
    }

    def __missing__(self, name: str) -> sa.BindParameter[Any]:
        return sa.bindparam(f"{self.prefix}{name}", type_=self._TYPES.get(name))


_PARTS = {"c": _counter_insert, "a": _activity_insert, "p": _payee_insert}
# Built once per part and dialect; the values are bound per call.
_PREPARED = {
    (part, name): build(dialect.insert, _Bound())
    for part, build in _PARTS.items()
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


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
    for part in parts:
        mine = {k: v for k, v in params.items() if k.startswith(f"{part}_")}
        uow.of(ctx.session).stage(_write, (part, mine))


def _merged(items: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """One change per row: counter deltas of the same day added up, the latest activity kept,
    a payee once (a unit may observe several movements of one customer)."""
    merged: dict[tuple[object, ...], tuple[str, dict[str, Any]]] = {}
    key: tuple[object, ...]
    for part, values in items:
        if part == "c":
            key = ("c", values["c_user_id"], values["c_currency"], values["c_direction"])
            key += (values["c_day"],)
            if key in merged:
                seen = merged[key][1]
                values = {
                    **values,
                    "c_amount": seen["c_amount"] + values["c_amount"],
                    "c_count": seen["c_count"] + values["c_count"],
                }
        elif part == "a":
            key = ("a", values["a_user_id"])
        else:
            key = ("p", values["p_user_id"], values["p_key"])
            if key in merged:
                continue
        merged[key] = (part, values)
    return list(merged.values())


def _write(session: Session, items: list[tuple[str, dict[str, Any]]]) -> None:
    """Write the staged counters, activity and payees (the unit of work calls it)."""
    conn = session.connection()
    for part, values in _merged(items):
        conn.execute(_PREPARED[(part, conn.dialect.name)], values)


@uow.composes(_write)
def _compose(session: Session, items: list[tuple[str, dict[str, Any]]]) -> list[uow.Part]:
    """The same rows as parts of the unit's one write (PostgreSQL)."""
    parts: list[uow.Part] = []
    for part, values in _merged(items):

        def build(prefix: str, part: str = part) -> _Insert:
            return _PARTS[part](postgresql.insert, _Bound(prefix=prefix))

        def params(prefix: str, values: dict[str, Any] = values) -> dict[str, Any]:
            return {f"{prefix}{name}": value for name, value in values.items()}

        parts.append(uow.Part(("activity", part), build, params))
    return parts
