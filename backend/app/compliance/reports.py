"""Regulatory reports: the currency transaction report (CTR) and SAR drafts. Both are audited.

CTR: for each customer, day (UTC) and currency, the cash deposits (deposits whose movement
carried `channel: cash`) that are completed; a customer whose total of a day is over
`CTR_CASH_THRESHOLD` (default 10,000 in the account's currency) is reported with those
transactions. Totals are summed by the database; only the reported days' transactions are
read.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.auth.models import User
from app.core import audit, uow
from app.core.db import utcnow
from app.core.errors import ValidationError
from app.core.money import configured_amount, format_amount
from app.ledger.accounts import Account
from app.ledger.models import JournalTransaction, TxnStatus, TxnType


def _day(column: sa.ColumnExpressionArgument[datetime], dialect: str) -> sa.ColumnElement[date]:
    """The UTC calendar day of a timestamp."""
    if dialect == "postgresql":
        return sa.cast(sa.func.timezone("UTC", column), sa.Date)
    return sa.func.date(column)


def _cash_deposits(start: datetime, end: datetime) -> list[sa.ColumnElement[bool]]:
    txn = JournalTransaction
    return [
        txn.type == TxnType.DEPOSIT.value,
        txn.status == TxnStatus.COMPLETED.value,
        txn.attributes["channel"].as_string() == "cash",
        txn.created_at >= start,
        txn.created_at < end,
    ]


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    if end < start:
        raise ValidationError("`to` must not be before `from`.", details={"to": ["Before `from`."]})
    if (end - start).days > 366:
        raise ValidationError(
            "A report covers at most a year.", details={"to": ["More than 366 days."]}
        )
    return (
        datetime.combine(start, time(0), tzinfo=UTC),
        datetime.combine(end + timedelta(days=1), time(0), tzinfo=UTC),
    )


_Key = tuple[int, str, str]  # (user id, UTC day, currency)


def currency_transaction_report(
    session: Session,
    *,
    officer: User,
    start: date,
    end: date,
    fmt: str = "json",
    reader: Session | None = None,
) -> dict[str, Any]:
    """Customers over the daily cash threshold in [start, end] (whole UTC days), audited.

    The deposits are read with `reader` (by default `session`), which may be a replica's; the
    report's audit record is written with `session`.
    """
    reader = reader or session
    lower, upper = _bounds(start, end)
    day = _day(JournalTransaction.created_at, reader.get_bind().dialect.name).label("day")
    setting = current_app.config["CTR_CASH_THRESHOLD"]
    over = _days_over_threshold(reader, lower, upper, day, setting)
    users, entries = _reported_transactions(reader, over, lower, upper, day)
    customers = [
        _customer_day(users[key[0]], key, over[key], setting, entries[key])
        for key in sorted(over, key=lambda k: (k[1], k[0], k[2]))
    ]
    report = {
        "report": "ctr",
        "from": start.isoformat(),
        "to": end.isoformat(),
        "threshold": setting,
        "generated_at": audit.format_time(utcnow()),
        "customers": customers,
    }
    audit.record(
        session,
        "report.ctr_generated",
        resource_type="report",
        resource_id=f"ctr:{start.isoformat()}:{end.isoformat()}",
        changes={
            "from": start.isoformat(),
            "to": end.isoformat(),
            "format": fmt,
            "customers": len(customers),
            "transactions": sum(len(c["transactions"]) for c in customers),
        },
    )
    uow.commit(session)
    return report


def _days_over_threshold(
    session: Session, lower: datetime, upper: datetime, day: sa.Label[date], setting: str
) -> dict[_Key, int]:
    """The customers' cash days over the threshold, with their totals (summed by the database)."""
    txn = JournalTransaction
    totals = session.execute(
        sa.select(Account.user_id, day, txn.currency, sa.func.sum(txn.amount).label("total"))
        .join(Account, Account.id == txn.to_account_id)
        .where(*_cash_deposits(lower, upper), Account.user_id.is_not(None))
        .group_by(Account.user_id, day, txn.currency)
    ).all()
    over = {}
    for row in totals:
        threshold = configured_amount(setting, row.currency)
        if threshold is not None and int(row.total) > threshold:
            over[(row.user_id, str(row.day), row.currency)] = int(row.total)
    return over


def _reported_transactions(
    session: Session, over: dict[_Key, int], lower: datetime, upper: datetime, day: sa.Label[date]
) -> tuple[dict[int, User], dict[_Key, list[dict[str, Any]]]]:
    """The reported customers by id, and the cash deposits of each reported day (only those
    customers' deposits are read)."""
    entries: dict[_Key, list[dict[str, Any]]] = defaultdict(list)
    if not over:
        return {}, entries
    txn = JournalTransaction
    user_ids = {key[0] for key in over}
    users = {u.id: u for u in session.scalars(sa.select(User).where(User.id.in_(user_ids)))}
    rows = session.execute(
        sa.select(txn, Account.user_id, Account.account_number, day)
        .join(Account, Account.id == txn.to_account_id)
        .where(*_cash_deposits(lower, upper), Account.user_id.in_(user_ids))
        .order_by(txn.created_at, txn.id)
    ).all()
    for t, user_id, account_number, row_day in rows:
        key = (user_id, str(row_day), t.currency)
        if key in over:
            entries[key].append(
                {
                    "id": str(t.public_id),
                    "account_number": account_number,
                    "amount": format_amount(t.amount, t.currency),
                    "currency": t.currency,
                    "reference": t.reference,
                    "created_at": audit.format_time(t.created_at),
                }
            )
    return users, entries


def _customer_day(
    person: User, key: _Key, total: int, setting: str, transactions: list[dict[str, Any]]
) -> dict[str, Any]:
    """One line of the report: a customer's cash day over the threshold."""
    _, day_text, currency = key
    return {
        "customer": {
            "id": str(person.public_id),
            "first_name": person.first_name,
            "last_name": person.last_name,
            "email": person.email,
            "kyc_status": person.kyc_status,
        },
        "date": day_text,
        "currency": currency,
        "total": format_amount(total, currency),
        "threshold": format_amount(configured_amount(setting, currency) or 0, currency),
        "transactions": transactions,
    }


CTR_CSV_COLUMNS = (
    "date",
    "customer_id",
    "first_name",
    "last_name",
    "email",
    "currency",
    "day_total",
    "transaction_id",
    "account_number",
    "amount",
    "reference",
    "created_at",
)


def ctr_csv(report: dict[str, Any]) -> str:
    """The CTR as CSV: one line per reported transaction, with its customer and day total."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CTR_CSV_COLUMNS)
    for entry in report["customers"]:
        person = entry["customer"]
        for t in entry["transactions"]:
            writer.writerow(
                [
                    entry["date"],
                    person["id"],
                    person["first_name"],
                    person["last_name"],
                    person["email"],
                    entry["currency"],
                    entry["total"],
                    t["id"],
                    t["account_number"],
                    t["amount"],
                    t["reference"] or "",
                    t["created_at"],
                ]
            )
    return buffer.getvalue()
