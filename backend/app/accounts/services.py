"""Account use cases: open, list, rename, close, statements, and the admin's changes."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.accounts.errors import AccountNotEmpty
from app.auth.models import User
from app.core import audit, uow
from app.core.db import for_update, utcnow
from app.core.errors import Conflict, ValidationError
from app.core.money import MoneyError, format_amount, parse_amount
from app.core.pagination import Keyset, Page
from app.core.reads import one_statement
from app.ledger.accounts import Account, AccountStatus, AccountType
from app.ledger.errors import AccountNotFound
from app.ledger.models import Hold, JournalTransaction, LedgerEntry
from app.ledger.queries import get_own_account

STATEMENT_BATCH = 5000  # statement lines fetched per round trip, at most


# The columns `AccountSchema` shows, as rows: one statement outside any transaction.
_OWN_ACCOUNTS = Keyset(
    sa.select(
        Account.public_id,
        Account.account_number,
        Account.iban,
        Account.account_type,
        Account.currency,
        Account.name,
        Account.balance,
        Account.available_balance.label("available_balance"),
        Account.display_credit_limit.label("display_credit_limit"),
        Account.status,
        Account.created_at,
    ).where(Account.user_id == sa.bindparam("user_id")),
    model=Account,
)


def list_accounts(*, user_id: int, limit: int, cursor: str | None = None) -> Page:
    """The user's accounts, newest first (one statement, outside any unit of work)."""
    with one_statement() as connection:
        return _OWN_ACCOUNTS.page(connection, {"user_id": user_id}, limit=limit, cursor=cursor)


def rename_account(session: Session, *, user: User, account_id: uuid.UUID, name: str) -> Account:
    """Give the caller's account a new name."""
    account = get_own_account(session, user=user, account_id=account_id)
    old = account.name
    account.name = name
    audit.record(
        session,
        "account.renamed",
        resource_type="account",
        resource=account,
        changes={"name": {"old": old, "new": name}},
    )
    uow.commit(session)
    return account


def _lock(session: Session, account: Account) -> Account:
    return session.scalars(for_update(sa.select(Account).where(Account.id == account.id))).one()


def _close(session: Session, account: Account) -> None:
    if account.balance != 0 or account.held != 0:
        raise AccountNotEmpty()
    account.status = AccountStatus.CLOSED.value
    account.closed_at = datetime.now(UTC)


def close_account(session: Session, *, user: User, account_id: uuid.UUID) -> Account:
    """Close the caller's account; it must hold no money and no pending holds."""
    account = _lock(session, get_own_account(session, user=user, account_id=account_id))
    if account.status == AccountStatus.CLOSED:
        raise Conflict("The account is already closed.")
    try:
        _close(session, account)
    except AccountNotEmpty as exc:
        audit.refuse(
            session,
            exc,
            "account.closed",
            resource_type="account",
            resource_id=account_id,
            changes={"reason": "not_empty"},
        )
    audit.record(session, "account.closed", resource_type="account", resource=account)
    uow.commit(session)
    return account


def admin_update_account(
    session: Session,
    *,
    account_id: uuid.UUID,
    status: str | None = None,
    credit_limit: str | None = None,
) -> Account:
    """Freeze, unfreeze or close any customer account, or set a credit account's limit."""
    account = session.scalar(
        sa.select(Account).where(Account.public_id == account_id, Account.system_code.is_(None))
    )
    if account is None:
        raise AccountNotFound()
    account = _lock(session, account)
    changes: dict[str, dict[str, str]] = {}
    if credit_limit is not None:
        try:
            limit = parse_amount(credit_limit, account.currency, allow_zero=True)
        except MoneyError as exc:
            raise ValidationError(
                "The credit limit is not valid.", details={"credit_limit": [str(exc)]}
            ) from exc
        if account.account_type != AccountType.CREDIT:
            raise ValidationError(
                "Only credit accounts have a credit limit.",
                details={"credit_limit": ["Only credit accounts have a credit limit."]},
            )
        if account.balance - account.held + limit < 0:
            raise Conflict("The new credit limit is below what the account already uses.")
        changes["credit_limit"] = {
            "old": format_amount(account.credit_limit, account.currency),
            "new": format_amount(limit, account.currency),
        }
        account.credit_limit = limit
    if status is not None and status != account.status:
        if account.status == AccountStatus.CLOSED:
            raise Conflict("A closed account cannot be reopened.")
        changes["status"] = {"old": account.status, "new": status}
        if status == AccountStatus.CLOSED:
            _close(session, account)
        else:
            account.status = status
    audit.record(
        session, "account.admin_updated", resource_type="account", resource=account, changes=changes
    )
    uow.commit(session)
    return account


# --- balances at an instant -------------------------------------------------------------------


@dataclass
class BalanceAt:
    balance: str
    available_balance: str
    currency: str
    as_of: datetime


def _entry_balance_at(
    session: Session, account_id: int, at: datetime, *, before: bool = False
) -> int:
    """The running balance of the last entry booked at or before `at` (strictly before, when
    `before`): one probe of `ix_ledger_entries_account_created`, whatever the history."""
    when = LedgerEntry.created_at < at if before else LedgerEntry.created_at <= at
    value = session.scalar(
        sa.select(LedgerEntry.balance_after)
        .where(LedgerEntry.account_id == account_id, when)
        .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc())
        .limit(1)
    )
    return int(value or 0)


def balance_at(
    session: Session, *, user: User, account_id: uuid.UUID, at: datetime | None = None
) -> BalanceAt:
    """The caller's account balance and available balance at `at` (now when None), from the
    ledger: the running balance of the last entry by then, less the holds open at that instant
    (the credit line is today's)."""
    account = get_own_account(session, user=user, account_id=account_id)
    at = at or utcnow()
    balance = _entry_balance_at(session, account.id, at)
    held = session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(Hold.amount), 0)).where(
            Hold.account_id == account.id,
            sa.or_(Hold.released_at.is_(None), Hold.released_at > at),
            Hold.created_at <= at,
        )
    ).scalar_one()
    cur = account.currency
    return BalanceAt(
        balance=format_amount(balance, cur),
        available_balance=format_amount(balance - int(held) + account.credit_limit, cur),
        currency=cur,
        as_of=at,
    )


# --- statements ------------------------------------------------------------------------------


@dataclass
class StatementLine:
    booked_at: datetime
    transaction_id: uuid.UUID
    type: str
    description: str
    amount: int
    balance_after: int


@dataclass
class Statement:
    """A period of one account. `lines` is read lazily, a batch at a time, when iterated."""

    account: Account
    start: date
    end: date
    opening_balance: int
    closing_balance: int
    lines: Iterable[StatementLine] = field(default_factory=list)


def current_month(today: date | None = None) -> tuple[date, date]:
    """The first and last day of the calendar month of `today` (UTC)."""
    today = today or utcnow().date()
    first = today.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


def _lines(
    session: Session, account: Account, since: datetime, until: datetime
) -> Iterator[StatementLine]:
    """The period's entries, oldest first, streamed from a server-side cursor."""
    rows = session.connection().execute(
        sa.select(
            LedgerEntry.created_at,
            JournalTransaction.public_id,
            JournalTransaction.type,
            JournalTransaction.description,
            LedgerEntry.amount,
            LedgerEntry.balance_after,
        )
        .join(JournalTransaction, JournalTransaction.id == LedgerEntry.transaction_id)
        .where(
            LedgerEntry.account_id == account.id,
            LedgerEntry.created_at >= since,
            LedgerEntry.created_at < until,
        )
        .order_by(LedgerEntry.created_at, LedgerEntry.id)
        .execution_options(stream_results=True, max_row_buffer=STATEMENT_BATCH)
    )
    for booked_at, transaction_id, type_, description, amount, balance_after in rows:
        if balance_after is None:  # kept for every entry on a customer account
            raise RuntimeError(f"ledger entry without a running balance on account {account.id}")
        yield StatementLine(booked_at, transaction_id, type_, description, amount, balance_after)


def statement(
    session: Session,
    *,
    user: User,
    account_id: uuid.UUID,
    start: date | None = None,
    end: date | None = None,
    reader: Session | None = None,
) -> Statement:
    """Entries booked on the caller's account from `start` to `end` (inclusive, UTC days);
    without either, the current calendar month.

    The opening and closing balances are the running balances of the last entries before the
    period starts and ends (two index probes); the lines are streamed, never all in memory.
    Whose account it is is asked of `session`; the entries are read with `reader` (by default
    `session`), which may be a replica's and lag behind.
    """
    start = start or (end.replace(day=1) if end else current_month()[0])
    end = end or current_month(start)[1]
    if end < start:
        raise ValidationError(
            "The period ends before it starts.", details={"to": ["Must not be before `from`."]}
        )
    account = get_own_account(session, user=user, account_id=account_id)
    since = datetime.combine(start, time.min, tzinfo=UTC)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
    reader = reader or session
    return Statement(
        account,
        start,
        end,
        opening_balance=_entry_balance_at(reader, account.id, since, before=True),
        closing_balance=_entry_balance_at(reader, account.id, until, before=True),
        lines=_lines(reader, account, since, until),
    )


def count_lines(session: Session, st: Statement, *, at_most: int) -> int:
    """How many lines the statement has, counting no further than `at_most + 1`."""
    since = datetime.combine(st.start, time.min, tzinfo=UTC)
    until = datetime.combine(st.end + timedelta(days=1), time.min, tzinfo=UTC)
    bounded = (
        sa.select(LedgerEntry.id)
        .where(
            LedgerEntry.account_id == st.account.id,
            LedgerEntry.created_at >= since,
            LedgerEntry.created_at < until,
        )
        .limit(at_most + 1)
        .subquery()
    )
    return session.execute(sa.select(sa.func.count()).select_from(bounded)).scalar_one()
