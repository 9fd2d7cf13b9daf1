"""Daily running counters per customer, direction and currency (what the limits count).

An observer of the movement engine keeps them in the movement's own transaction, under the
customer's row lock, so reading one row answers "how much did this customer send today" at a
cost that does not grow with history. `verify` recounts them from the journal.

Outgoing (`out`): withdrawals and transfers that are completed, pending or held for review — a
movement counts from the moment it is placed and stops counting when it is rejected, released
or reversed (a partial capture counts what was captured). Incoming (`in`): completed deposits.
"""

from __future__ import annotations

from datetime import UTC, date

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.accounts.models import Account
from app.ledger.engine import PolicyContext
from app.ledger.models import JournalTransaction, TxnStatus, TxnType
from app.transactions.models import DailyCounter

OUT, IN = "out", "in"
OUTGOING_TYPES = (TxnType.TRANSFER.value, TxnType.WITHDRAWAL.value)
COUNTED_STATUSES = (
    TxnStatus.COMPLETED.value,
    TxnStatus.PENDING.value,
    TxnStatus.PENDING_REVIEW.value,
)
COUNTED_KINDS = (*OUTGOING_TYPES, TxnType.DEPOSIT.value)

_T = DailyCounter.__table__
_READ = sa.select(_T.c.direction, _T.c.amount).where(
    _T.c.user_id == sa.bindparam("user_id"),
    _T.c.currency == sa.bindparam("currency"),
    _T.c.day == sa.bindparam("day"),
)


def _build_add(insert) -> sa.Insert:
    stmt = insert(_T).values(
        user_id=sa.bindparam("user_id"),
        currency=sa.bindparam("currency"),
        direction=sa.bindparam("direction"),
        day=sa.bindparam("day"),
        amount=sa.bindparam("amount"),
        count=sa.bindparam("count"),
    )
    return stmt.on_conflict_do_update(
        index_elements=["user_id", "currency", "direction", "day"],
        set_={
            "amount": _T.c.amount + stmt.excluded.amount,
            "count": _T.c.count + stmt.excluded.count,
        },
    )


_ADD = {"postgresql": _build_add(postgresql.insert), "sqlite": _build_add(sqlite.insert)}


def today(ctx: PolicyContext) -> date:
    return ctx.now.astimezone(UTC).date()


def read(ctx: PolicyContext, direction: str) -> int:
    """What the locked customer moved today in the movement's currency (`out` or `in`)."""
    totals = ctx.shared.get("daily_totals")
    if totals is None:
        rows = ctx.session.connection().execute(
            _READ,
            {"user_id": ctx.customer.id, "currency": ctx.movement.currency, "day": today(ctx)},
        )
        totals = ctx.shared["daily_totals"] = {row.direction: int(row.amount) for row in rows}
    return totals.get(direction, 0)


def _add(session: Session, *, user_id: int, currency: str, direction: str, day: date,
         amount: int, count: int) -> None:  # fmt: skip
    conn = session.connection()
    conn.execute(
        _ADD[conn.dialect.name],
        {
            "user_id": user_id,
            "currency": currency,
            "direction": direction,
            "day": day,
            "amount": amount,
            "count": count,
        },
    )


def observe(ctx: PolicyContext, txn: JournalTransaction) -> None:
    """Keep the counters in step with what `txn` just became (an engine observer)."""
    incoming = txn.type == TxnType.DEPOSIT
    account = txn.to_account if incoming else txn.from_account
    if account is None or account.user_id is None:
        return
    sign, count = 0, 0
    if ctx.event in ("completed", "held", "review"):
        sign, count = 1, 1
    elif ctx.event in ("released", "rejected", "reversed"):
        sign, count = -1, -1
    elif ctx.event == "captured":
        # A partial capture: the part released no longer counts.
        held = ctx.shared.get("held_amount", txn.amount)
        if held != txn.amount:
            _add(
                ctx.session,
                user_id=account.user_id,
                currency=txn.currency,
                direction=OUT,
                day=txn.created_at.astimezone(UTC).date(),
                amount=txn.amount - held,
                count=0,
            )
        return
    if not sign:
        return
    _add(
        ctx.session,
        user_id=account.user_id,
        currency=txn.currency,
        direction=IN if incoming else OUT,
        day=txn.created_at.astimezone(UTC).date(),
        amount=sign * txn.amount,
        count=count,
    )


def _day(session: Session, column) -> sa.ColumnElement:
    if session.get_bind().dialect.name == "postgresql":
        return sa.cast(sa.func.timezone("UTC", column), sa.Date)
    return sa.func.date(column)


def verify(session: Session) -> list[str]:
    """Recount every daily counter from the journal; one problem per difference."""
    jt = JournalTransaction
    day = _day(session, jt.created_at)
    recount: dict[tuple, tuple[int, int]] = {}
    for direction, account_column, kinds, statuses in (
        (OUT, jt.from_account_id, OUTGOING_TYPES, COUNTED_STATUSES),
        (IN, jt.to_account_id, (TxnType.DEPOSIT.value,), (TxnStatus.COMPLETED.value,)),
    ):
        rows = session.execute(
            sa.select(Account.user_id, jt.currency, day, sa.func.sum(jt.amount), sa.func.count())
            .join(Account, Account.id == account_column)
            .where(jt.type.in_(kinds), jt.status.in_(statuses), Account.user_id.is_not(None))
            .group_by(Account.user_id, jt.currency, day)
        )
        for user_id, currency, on, amount, count in rows:
            if isinstance(on, str):
                on = date.fromisoformat(on)
            recount[(user_id, currency, direction, on)] = (int(amount), int(count))
    kept = {
        (r.user_id, r.currency, r.direction, r.day): (int(r.amount), int(r.count))
        for r in session.execute(sa.select(_T)).all()
        if r.amount or r.count
    }
    problems = []
    for key in sorted(set(recount) | set(kept), key=str):
        if recount.get(key, (0, 0)) != kept.get(key, (0, 0)):
            user_id, currency, direction, on = key
            problems.append(
                f"counter user {user_id} {currency} {direction} {on}: kept "
                f"{kept.get(key, (0, 0))} != recount {recount.get(key, (0, 0))}"
            )
    return problems
