"""Net worth in one currency: Flowlet accounts plus the latest snapshots of linked accounts.

Every value is converted at the rate of its own day (the snapshot's date, today for Flowlet
balances) or the closest earlier published day, and the rate and its day are returned with it.
A value whose currency has no known rate is listed without a converted value and named in
`missing_rates`; it is left out of the totals rather than guessed.

History walks the days from `from` to `to`: a linked account counts with its newest snapshot on
or before the day; a Flowlet account with its balance at the end of that day (today's balance
minus the ledger entries booked after it). Cost grows with the number of days × accounts and
with the ledger entries inside the range, not with the whole ledger.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.models import User
from app.core.db import utcnow
from app.core.errors import ValidationError
from app.core.money import format_amount
from app.ledger.accounts import Account, AccountStatus
from app.ledger.models import LedgerEntry
from app.wealth import rates
from app.wealth.models import LinkedAccount, LinkStatus, WealthPosition, WealthSnapshot

MAX_HISTORY_DAYS = 366


@dataclass
class _Converter:
    session: Session
    base: str
    missing: set[str] = field(default_factory=set)
    cache: dict[tuple[str, date], rates.Rate | None] = field(default_factory=dict)

    def rate(self, currency: str, day: date) -> rates.Rate | None:
        key = (currency, day)
        if key not in self.cache:
            try:
                self.cache[key] = rates.rate_for(
                    self.session, base=currency, quote=self.base, day=day
                )
            except rates.RatesUnavailable:
                self.cache[key] = None
                self.missing.add(f"{currency}/{self.base}")
        return self.cache[key]

    def value(self, amount: int, currency: str, day: date) -> tuple[int | None, rates.Rate | None]:
        rate = self.rate(currency, day)
        if rate is None:
            return None, None
        return (
            rates.convert_minor(
                amount, from_currency=currency, to_currency=self.base, rate=rate.rate
            ),
            rate,
        )


def _internal_accounts(session: Session, user: User) -> list[Account]:
    return list(
        session.scalars(
            sa.select(Account)
            .where(Account.user_id == user.id, Account.status != AccountStatus.CLOSED.value)
            .order_by(Account.id)
        )
    )


def _latest_snapshots(session: Session, user: User, day: date) -> list[WealthSnapshot]:
    """The newest snapshot on or before `day` of each outside account of the user's links."""
    ranked = (
        sa.select(
            WealthSnapshot.id,
            sa.func.row_number()
            .over(
                partition_by=(WealthSnapshot.linked_account_id, WealthSnapshot.account_ref),
                order_by=WealthSnapshot.snapshot_date.desc(),
            )
            .label("n"),
        )
        .join(LinkedAccount, LinkedAccount.id == WealthSnapshot.linked_account_id)
        .where(
            LinkedAccount.user_id == user.id,
            LinkedAccount.status != LinkStatus.DELETED.value,
            WealthSnapshot.snapshot_date <= day,
        )
        .subquery()
    )
    return list(
        session.scalars(
            sa.select(WealthSnapshot)
            .join(ranked, ranked.c.id == WealthSnapshot.id)
            .where(ranked.c.n == 1)
            .order_by(WealthSnapshot.linked_account_id, WealthSnapshot.account_ref)
        )
    )


def _rate_out(rate: rates.Rate | None) -> dict[str, Any]:
    if rate is None:
        return {"rate": None, "rate_date": None, "rate_source": None}
    return {
        "rate": str(rate.rate.normalize())
        if rate.rate == rate.rate.to_integral()
        else str(rate.rate),
        "rate_date": rate.rate_date,
        "rate_source": rate.source,
    }


@dataclass
class _Tally:
    """The running total and the value per asset class, in the base currency."""

    total: int = 0
    classes: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def summary(session: Session, *, user: User, base_currency: str | None = None) -> dict[str, Any]:
    """Net worth today by account and by asset class, in `base_currency` (default: the user's)."""
    base = base_currency or user.base_currency
    today = utcnow().date()
    conv = _Converter(session, base)
    tally = _Tally()
    accounts = [
        _flowlet_line(account, today, conv, tally) for account in _internal_accounts(session, user)
    ]
    links = _live_links(session, user)
    for snap in _latest_snapshots(session, user, today):
        accounts.append(_linked_line(session, snap, links[snap.linked_account_id], conv, tally))
    return {
        "base_currency": base,
        "as_of": today,
        "total": format_amount(tally.total, base),
        "accounts": accounts,
        "asset_classes": [
            {"asset_class": name, "value": format_amount(amount, base)}
            for name, amount in sorted(tally.classes.items(), key=lambda kv: -kv[1])
        ],
        "missing_rates": sorted(conv.missing),
    }


def _flowlet_line(account: Account, today: date, conv: _Converter, tally: _Tally) -> dict[str, Any]:
    """A Flowlet account at today's rate; its balance counts as cash."""
    value, rate = conv.value(account.balance, account.currency, today)
    if value is not None:
        tally.total += value
        tally.classes["cash"] += value
    return {
        "source": "flowlet",
        "id": str(account.public_id),
        "linked_account_id": None,
        "name": account.name,
        "currency": account.currency,
        "balance": format_amount(account.balance, account.currency),
        "value": format_amount(value, conv.base) if value is not None else None,
        "as_of": today,
        **_rate_out(rate),
    }


def _live_links(session: Session, user: User) -> dict[int, LinkedAccount]:
    return {
        link.id: link
        for link in session.scalars(
            sa.select(LinkedAccount).where(
                LinkedAccount.user_id == user.id, LinkedAccount.status != LinkStatus.DELETED.value
            )
        )
    }


def _linked_line(
    session: Session, snap: WealthSnapshot, link: LinkedAccount, conv: _Converter, tally: _Tally
) -> dict[str, Any]:
    """An outside account's latest snapshot, valued as stored when it is in the base currency."""
    value, rate = _snapshot_value(snap, conv)
    if value is not None:
        tally.total += value
        _count_positions(session, snap, value, conv, tally)
    return {
        "source": "linked",
        "id": snap.account_ref,
        "linked_account_id": str(link.public_id),
        "broker_code": link.broker.code,
        "name": snap.account_name,
        "currency": snap.currency,
        "balance": format_amount(snap.balance, snap.currency),
        "value": format_amount(value, conv.base) if value is not None else None,
        "as_of": snap.snapshot_date,
        **_rate_out(rate),
    }


def _snapshot_value(snap: WealthSnapshot, conv: _Converter) -> tuple[int | None, rates.Rate | None]:
    if snap.base_currency != conv.base:
        return conv.value(snap.balance, snap.currency, snap.snapshot_date)
    stored = rates.Rate(
        snap.currency, conv.base, Decimal(snap.rate), snap.rate_date, snap.snapshot_date, "stored"
    )
    return snap.base_value, stored


def _count_positions(
    session: Session, snap: WealthSnapshot, value: int, conv: _Converter, tally: _Tally
) -> None:
    """Each position counts in its asset class; what the positions leave of `value` is cash."""
    in_positions = 0
    for position in session.scalars(
        sa.select(WealthPosition).where(WealthPosition.snapshot_id == snap.id)
    ):
        pvalue, _ = conv.value(position.value, position.currency, snap.snapshot_date)
        if pvalue is None:
            continue
        tally.classes[position.asset_class] += pvalue
        in_positions += pvalue
    tally.classes["cash"] += value - in_positions


def _day_end(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)


def history(
    session: Session,
    *,
    user: User,
    start: date,
    end: date,
    base_currency: str | None = None,
) -> dict[str, Any]:
    """One point a day from `start` to `end`: total, Flowlet part and linked part."""
    end = min(end, utcnow().date())
    _check_range(start, end)
    base = base_currency or user.base_currency
    conv = _Converter(session, base)
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    internal = _internal_accounts(session, user)
    flowlet_by_day = _flowlet_by_day(session, internal, days, conv)
    snaps = _linked_snapshots(session, user, end)
    points = []
    latest: dict[tuple[int, str], Any] = {}
    snap_index = 0
    for day in days:
        while snap_index < len(snaps) and snaps[snap_index].snapshot_date <= day:
            row = snaps[snap_index]
            latest[(row.linked_account_id, row.account_ref)] = row
            snap_index += 1
        linked = 0
        for row in latest.values():
            if row.base_currency == base:
                linked += row.base_value
            else:
                value, _ = conv.value(row.balance, row.currency, row.snapshot_date)
                linked += value or 0
        points.append(
            {
                "date": day,
                "total": format_amount(flowlet_by_day[day] + linked, base),
                "flowlet": format_amount(flowlet_by_day[day], base),
                "linked": format_amount(linked, base),
            }
        )
    return {"base_currency": base, "points": points, "missing_rates": sorted(conv.missing)}


def _check_range(start: date, end: date) -> None:
    if start > end:
        raise ValidationError("`from` must not be after `to`.", details={"from": ["After `to`."]})
    if (end - start).days + 1 > MAX_HISTORY_DAYS:
        raise ValidationError(
            f"At most {MAX_HISTORY_DAYS} days per request.", details={"to": ["Range too long."]}
        )


def _moved_per_day(
    session: Session, internal: list[Account], start: date
) -> dict[int, dict[date, int]]:
    """What each Flowlet account's entries moved per UTC day since `start` (one query)."""
    per_day: dict[int, dict[date, int]] = defaultdict(dict)
    if not internal:
        return per_day
    day_col: sa.ColumnElement[date]
    if session.get_bind().dialect.name == "postgresql":
        day_col = sa.cast(sa.func.timezone("UTC", LedgerEntry.created_at), sa.Date)
    else:
        day_col = sa.func.date(LedgerEntry.created_at, type_=sa.Date)
    moved = session.execute(
        sa.select(LedgerEntry.account_id, day_col.label("day"), sa.func.sum(LedgerEntry.amount))
        .where(
            LedgerEntry.account_id.in_([a.id for a in internal]),
            LedgerEntry.created_at >= _day_end(start),
        )
        .group_by(LedgerEntry.account_id, day_col)
    ).all()
    for account_id, day, amount in moved:
        day = day if isinstance(day, date) else date.fromisoformat(str(day))
        per_day[account_id][day] = int(amount)
    return per_day


def _flowlet_by_day(
    session: Session, internal: list[Account], days: list[date], conv: _Converter
) -> dict[date, int]:
    """The Flowlet accounts' end-of-day total in the base currency, walking back from today's
    balance."""
    per_day = _moved_per_day(session, internal, days[0])
    balances = {a.id: a.balance for a in internal}
    for account in internal:  # rolled back to the end of the last day
        balances[account.id] -= sum(v for d, v in per_day[account.id].items() if d > days[-1])
    by_day: dict[date, int] = {}
    for day in reversed(days):
        flowlet = 0
        for account in internal:
            value, _ = conv.value(balances[account.id], account.currency, day)
            flowlet += value or 0
            balances[account.id] -= per_day[account.id].get(day, 0)
        by_day[day] = flowlet
    return by_day


_Snapshot = sa.Row[int, str, date, int, str, str, int]


def _linked_snapshots(session: Session, user: User, end: date) -> Sequence[_Snapshot]:
    """Every snapshot of the user's linked accounts up to `end`, oldest first."""
    return session.execute(
        sa.select(
            WealthSnapshot.linked_account_id,
            WealthSnapshot.account_ref,
            WealthSnapshot.snapshot_date,
            WealthSnapshot.balance,
            WealthSnapshot.currency,
            WealthSnapshot.base_currency,
            WealthSnapshot.base_value,
        )
        .join(LinkedAccount, LinkedAccount.id == WealthSnapshot.linked_account_id)
        .where(
            LinkedAccount.user_id == user.id,
            LinkedAccount.status != LinkStatus.DELETED.value,
            WealthSnapshot.snapshot_date <= end,
        )
        .order_by(WealthSnapshot.snapshot_date)
    ).all()
