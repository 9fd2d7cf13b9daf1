"""Daily running counters per customer, direction and currency (what the limits count), and
their recount from the journal (`flask ledger verify`).

`activity.observe` keeps them in the movement's own transaction, under the customer's row lock,
so reading one row answers "how much did this customer send today" at a cost that does not grow
with history.

Outgoing (`out`): withdrawals and transfers that are completed, pending or held for review — a
movement counts from the moment it is placed and stops counting when it is rejected, released
or reversed (a partial capture counts what was captured). Incoming (`in`): completed deposits.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.ledger.accounts import Account
from app.ledger.models import JournalTransaction, TxnStatus, TxnType
from app.transactions.models import DailyCounter

OUT, IN = "out", "in"
OUTGOING_TYPES = (TxnType.TRANSFER.value, TxnType.WITHDRAWAL.value)
COUNTED_STATUSES = (
    TxnStatus.COMPLETED.value,
    TxnStatus.PENDING.value,
    TxnStatus.PENDING_REVIEW.value,
)

# A counter: user id (never NULL for a customer's account), currency, direction and day.
_Key = tuple[int | None, str, str, date]


def _day(session: Session, column: sa.SQLColumnExpression[datetime]) -> sa.ColumnElement[date]:
    if session.get_bind().dialect.name == "postgresql":
        return sa.cast(sa.func.timezone("UTC", column), sa.Date)
    return sa.func.date(column)


def verify(session: Session) -> list[str]:
    """Recount every daily counter from the journal; one problem per difference."""
    jt = JournalTransaction
    day = _day(session, jt.created_at)
    recount: dict[_Key, tuple[int, int]] = {}
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
    dc = DailyCounter
    kept: dict[_Key, tuple[int, int]] = {
        (user_id, currency, direction, on): (int(amount), int(count))
        for user_id, currency, direction, on, amount, count in session.execute(
            sa.select(dc.user_id, dc.currency, dc.direction, dc.day, dc.amount, dc.count)
        ).all()
        if amount or count
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
