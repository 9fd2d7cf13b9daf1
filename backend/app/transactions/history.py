"""A customer's transactions: one by id, or filtered pages of them, newest first."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.auth.models import User
from app.core.money import parse_bound
from app.core.pagination import Page, paginate_union
from app.ledger.accounts import Account
from app.ledger.engine import TransactionNotFound
from app.ledger.models import JournalTransaction
from app.ledger.queries import get_own_account

_T = JournalTransaction


def _own_ids(session: Session, user: User) -> list[int]:
    return list(session.scalars(sa.select(Account.id).where(Account.user_id == user.id)))


def get_transaction(
    session: Session, *, user: User, transaction_id: uuid.UUID
) -> JournalTransaction:
    """One transaction touching one of the caller's accounts."""
    own = sa.select(Account.id).where(Account.user_id == user.id).scalar_subquery()
    txn = session.scalar(
        sa.select(_T).where(
            _T.public_id == transaction_id,
            sa.or_(_T.from_account_id.in_(own), _T.to_account_id.in_(own)),
        )
    )
    if txn is None:
        raise TransactionNotFound()
    return txn


def _day_start(value: date | datetime, *, end: bool = False) -> datetime:
    if isinstance(value, datetime):
        return value
    start = datetime.combine(value, time.min, tzinfo=UTC)
    return start + timedelta(days=1) if end else start


def _filters(
    *,
    currencies: list[str],
    type: str | None,
    status: str | None,
    start: date | datetime | None,
    end: date | datetime | None,
    min_amount: Decimal | None,
    max_amount: Decimal | None,
    q: str | None,
) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = []
    if type:
        where.append(_T.type == type)
    if status:
        where.append(_T.status == status)
    if start is not None:
        where.append(_T.created_at >= _day_start(start))
    if end is not None:
        where.append(_T.created_at < _day_start(end, end=True))
    for bound, upper in ((min_amount, False), (max_amount, True)):
        if bound is None:
            continue
        where.append(
            sa.or_(
                *(
                    sa.and_(
                        _T.currency == c,
                        (_T.amount <= parse_bound(bound, c, upper=True))
                        if upper
                        else (_T.amount >= parse_bound(bound, c, upper=False)),
                    )
                    for c in currencies
                )
            )
        )
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(
            sa.or_(
                _T.description.ilike(pattern, escape="\\"),
                _T.reference.ilike(pattern, escape="\\"),
                _T.counterparty_name.ilike(pattern, escape="\\"),
            )
        )
    return where


def list_transactions(
    session: Session,
    *,
    user: User,
    limit: int,
    cursor: str | None = None,
    account_id: uuid.UUID | None = None,
    type: str | None = None,
    status: str | None = None,
    start: date | datetime | None = None,
    end: date | datetime | None = None,
    min_amount: Decimal | None = None,
    max_amount: Decimal | None = None,
    q: str | None = None,
) -> Page:
    """The caller's transactions, newest first, filtered.

    One branch per account and side (paying, receiving), each along its own index
    (`ix_journal_transactions_from_created`, `…_to_created`); a transaction between two of the
    caller's accounts is read from the paying side only.
    """
    if account_id is not None:
        account = get_own_account(session, user=user, account_id=account_id)
        ids, currencies = [account.id], [account.currency]
    else:
        ids, currencies = _own_ids(session, user), current_app.config["SUPPORTED_CURRENCIES"]
    where = _filters(
        currencies=currencies,
        type=type,
        status=status,
        start=start,
        end=end,
        min_amount=min_amount,
        max_amount=max_amount,
        q=q,
    )
    branches = []
    for own_id in ids:
        branches.append(sa.select(_T).where(_T.from_account_id == own_id, *where))
        others = [i for i in ids if i != own_id]
        received = [_T.to_account_id == own_id, *where]
        if others:
            received.append(sa.or_(_T.from_account_id.is_(None), _T.from_account_id.not_in(others)))
        branches.append(sa.select(_T).where(*received))
    return paginate_union(session, branches, model=_T, limit=limit, cursor=cursor)
