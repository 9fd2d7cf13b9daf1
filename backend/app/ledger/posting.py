"""Posting to the ledger and placing holds: the writes of a movement.

Every function here only flushes or stages its rows on the unit of work: the use case that
calls it owns the commit. System accounts are not locked and their cached balance is not
maintained (see `accounts.Account`).
"""

from __future__ import annotations

import contextlib
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.core import uow
from app.core.db import table_of, utcnow
from app.ledger.accounts import Account, SystemAccount
from app.ledger.models import Hold, HoldStatus, JournalTransaction, LedgerEntry


def system_account(session: Session, code: SystemAccount | str, currency: str) -> Account:
    """The system account `code` for `currency`, created on first use."""
    code = str(code)
    stmt = sa.select(Account).where(Account.system_code == code, Account.currency == currency)
    account = session.scalar(stmt)
    if account is None:
        with contextlib.suppress(IntegrityError), session.begin_nested():
            # A concurrent first use may create it too: the unique constraint keeps one.
            session.add(
                Account(
                    system_code=code,
                    account_number=f"SYS-{code.upper()}-{currency}",
                    account_type="system",
                    currency=currency,
                    name=f"{code.replace('_', ' ').title()} {currency}",
                )
            )
        account = session.scalar(stmt)
    if account is None:  # pragma: no cover - the insert or a concurrent one made it
        raise RuntimeError(f"system account {code}/{currency} could not be created")
    return account


def post(
    session: Session,
    txn: JournalTransaction,
    legs: list[tuple[Account, int]],
    *,
    now: datetime | None = None,
) -> list[LedgerEntry]:
    """Write `txn`'s entries (signed: + credit, − debit) and move the cached balances.

    The legs must balance to zero per currency; customer accounts must be locked.
    """
    totals: dict[str, int] = defaultdict(int)
    for account, amount in legs:
        totals[account.currency] += amount
    if any(totals.values()) or not legs:
        raise RuntimeError(f"unbalanced journal transaction: {dict(totals)}")
    now = now or utcnow()
    entries = []
    for account, amount in legs:
        if not account.is_system:
            account.balance += amount
        entry = LedgerEntry(
            transaction=txn,
            account=account,
            amount=amount,
            currency=account.currency,
            created_at=now,
            balance_after=None if account.is_system else account.balance,
        )
        session.add(entry)
        entries.append(entry)
    txn.posted_at = now
    return entries


_TXN_COLUMNS = (
    "public_id",
    "type",
    "status",
    "amount",
    "currency",
    "from_account_id",
    "to_account_id",
    "initiated_by_id",
    "description",
    "reference",
    "counterparty_iban",
    "counterparty_name",
    "beneficiary_key",
    "risk_score",
    "risk_rules",
    "attributes",
    "created_at",
    "updated_at",
    "posted_at",
)


def _build_post_between() -> sa.Select[int]:
    """One statement: insert the transaction, its two entries, and move both cached balances.

    `WITH t AS (INSERT … RETURNING id), e AS (INSERT entries SELECT … FROM t),
    u AS (UPDATE accounts SET balance = balance + delta …) SELECT id FROM t` — built once,
    every value bound per call.
    """
    jt, le, acc = table_of(JournalTransaction), table_of(LedgerEntry), table_of(Account)
    txn = (
        sa.insert(jt)
        .values(**{c: sa.bindparam(f"t_{c}", type_=jt.c[c].type) for c in _TXN_COLUMNS})
        .returning(jt.c.id)
        .cte("t")
    )
    legs = [
        (
            sa.bindparam(f"account_{i}", type_=acc.c.id.type),
            sa.bindparam(f"delta_{i}", type_=le.c.amount.type),
        )
        for i in (0, 1)
    ]
    entries = (
        sa.insert(le)
        .from_select(
            ["transaction_id", "account_id", "amount", "currency", "created_at", "balance_after"],
            sa.union_all(
                *(
                    sa.select(
                        txn.c.id,
                        account,
                        delta,
                        sa.bindparam("t_currency", type_=jt.c.currency.type),
                        sa.bindparam("t_posted_at", type_=jt.c.posted_at.type),
                        sa.bindparam(f"after_{i}", type_=le.c.balance_after.type),
                    )
                    for i, (account, delta) in enumerate(legs)
                )
            ),
        )
        .cte("e")
    )
    balances = (
        sa.update(acc)
        .where(acc.c.id.in_([account for account, _ in legs]), acc.c.system_code.is_(None))
        .values(
            balance=acc.c.balance + sa.case(*((acc.c.id == a, d) for a, d in legs)),
            updated_at=sa.bindparam("t_posted_at", type_=acc.c.updated_at.type),
        )
        .cte("u")
    )
    return sa.select(txn.c.id).add_cte(entries).add_cte(balances)


_POST_BETWEEN = _build_post_between()


def post_between(
    session: Session,
    txn: JournalTransaction,
    debit: Account,
    credit: Account,
    amount: int,
    *,
    now: datetime | None = None,
    transaction_id: int | None = None,
) -> None:
    """Write a new completed transaction moving `amount` from `debit` to `credit`.

    On PostgreSQL one statement inserts the transaction and its two entries (with their running
    balances) and moves the customer accounts' cached balances (`balance = balance + delta`
    under the row locks the caller holds); `txn` stays out of the unit of work and gets its id
    here. Elsewhere (SQLite) the ORM does the same in a flush.

    Given the `transaction_id` the movement takes (read with the customer's lock), the
    statement is not run here but staged on the unit of work: its three parts then go with the
    movement's other writes in one statement (`core.uow`).
    """
    if debit.id == credit.id or debit.currency != credit.currency or amount <= 0:
        raise RuntimeError("post_between moves a positive amount between two accounts")
    if session.get_bind().dialect.name != "postgresql":  # no data-modifying CTEs: the ORM
        session.add(txn)
        post(session, txn, [(debit, -amount), (credit, amount)], now=now)
        return
    now = now or utcnow()
    txn.from_account_id, txn.to_account_id = debit.id, credit.id
    txn.posted_at = now
    if txn.public_id is None:
        txn.public_id = uuid.uuid4()
    txn.created_at = txn.created_at or now
    txn.updated_at = now
    params = {f"t_{c}": getattr(txn, c) for c in _TXN_COLUMNS}
    for i, (account, delta) in enumerate(((debit, -amount), (credit, amount))):
        after = None if account.is_system else account.balance + delta
        LedgerEntry(
            transaction=txn,
            account=account,
            amount=delta,
            currency=account.currency,
            created_at=now,
            balance_after=after,
        )
        params.update({f"account_{i}": account.id, f"delta_{i}": delta, f"after_{i}": after})
    if transaction_id is None:
        txn.id = session.connection().execute(_POST_BETWEEN, params).scalar_one()
    else:
        txn.id = params["t_id"] = transaction_id
        uow.of(session).stage(_write_movements, params)
    for account, delta in ((debit, -amount), (credit, amount)):
        if not account.is_system:
            set_committed_value(account, "balance", account.balance + delta)
            set_committed_value(account, "updated_at", now)


def _build_movement_parts(prefix: str) -> list[Any]:
    """The transaction (with its known id), its two entries and the balances: three
    statements with their bind parameters named `prefix…` (built once per prefix)."""
    jt, le, acc = table_of(JournalTransaction), table_of(LedgerEntry), table_of(Account)

    def bp(name: str, column: sa.Column[Any]) -> sa.BindParameter[Any]:
        return sa.bindparam(f"{prefix}{name}", type_=column.type)

    txn = sa.insert(jt).values(
        id=bp("t_id", jt.c.id), **{c: bp(f"t_{c}", jt.c[c]) for c in _TXN_COLUMNS}
    )
    legs = [(bp(f"account_{i}", acc.c.id), bp(f"delta_{i}", le.c.amount)) for i in (0, 1)]
    entries = sa.insert(le).from_select(
        ["transaction_id", "account_id", "amount", "currency", "created_at", "balance_after"],
        sa.union_all(
            *(
                sa.select(
                    bp("t_id", jt.c.id),
                    account,
                    delta,
                    bp("t_currency", jt.c.currency),
                    bp("t_posted_at", jt.c.posted_at),
                    bp(f"after_{i}", le.c.balance_after),
                )
                for i, (account, delta) in enumerate(legs)
            )
        ),
    )
    balances = (
        sa.update(acc)
        .where(acc.c.id.in_([account for account, _ in legs]), acc.c.system_code.is_(None))
        .values(
            balance=acc.c.balance + sa.case(*((acc.c.id == a, d) for a, d in legs)),
            updated_at=bp("t_posted_at", acc.c.updated_at),
        )
    )
    return [txn, entries, balances]


class _Staged:
    """Statements built once per bind-parameter prefix and run for each staged item: alone
    (`write`), or as parts of the unit of work's one statement (`compose`)."""

    def __init__(self, kind: str, build: Callable[[str], list[Any]]) -> None:
        self.kind, self._build = kind, build
        self._built: dict[str, list[Any]] = {}

    def statements(self, prefix: str) -> list[Any]:
        built = self._built.get(prefix)
        if built is None:
            built = self._built[prefix] = self._build(prefix)
        return built

    def write(self, session: Session, staged: list[dict[str, Any]]) -> None:
        """Write staged items one statement each (without the rest of the unit's writes)."""
        conn = session.connection()
        for params in staged:
            for statement in self.statements(""):
                conn.execute(statement, params)

    def compose(self, session: Session, staged: list[dict[str, Any]]) -> list[uow.Part]:
        parts = []
        for params in staged:
            for index in range(len(self.statements(""))):

                def build(prefix: str, index: int = index) -> Any:
                    return self.statements(prefix)[index]

                def values(prefix: str, params: dict[str, Any] = params) -> dict[str, Any]:
                    return {f"{prefix}{name}": value for name, value in params.items()}

                parts.append(uow.Part((self.kind, index), build, values))
        return parts


_MOVEMENTS = _Staged("movement", _build_movement_parts)
_write_movements = _MOVEMENTS.write
uow.composes(_write_movements)(_MOVEMENTS.compose)


def place_hold(
    session: Session,
    account: Account,
    txn: JournalTransaction | None,
    amount: int,
    reason: str,
    expires_at: datetime | None = None,
) -> Hold:
    """Reserve `amount` on a locked account (counted in `available_balance`) until
    `expires_at` (never, when None)."""
    hold = Hold(
        account_id=account.id,
        transaction=txn,
        amount=amount,
        currency=account.currency,
        reason=reason,
        status=HoldStatus.ACTIVE.value,
        expires_at=expires_at,
    )
    session.add(hold)
    account.held += amount
    return hold


def hold_new(
    session: Session,
    txn: JournalTransaction,
    account: Account,
    amount: int,
    reason: str,
    *,
    expires_at: datetime | None,
    now: datetime,
    transaction_id: int | None = None,
    hold_id: int | None = None,
) -> Hold:
    """Write a new pending transaction and its hold of `amount` on the locked `account`.

    Given the ids the transaction and the hold take (read with the customer's lock), nothing is
    run here: the transaction, the hold and `held = held + amount` are staged on the unit of
    work and go with the movement's other writes in one statement (`core.uow`); `txn` and the
    hold stay out of the session, with their ids. Without them (SQLite) the ORM writes them in
    a flush, as `place_hold` does, so that the hold has its id when this returns.
    """
    if transaction_id is None or hold_id is None:
        session.add(txn)
        hold = place_hold(session, account, txn, amount, reason, expires_at)
        session.flush()
        return hold
    if txn.from_account is None or txn.to_account is None:
        raise RuntimeError("a movement's transaction names both of its accounts")
    txn.from_account_id, txn.to_account_id = txn.from_account.id, txn.to_account.id
    txn.id = transaction_id
    hold = Hold(
        id=hold_id,
        public_id=uuid.uuid4(),
        account_id=account.id,
        transaction=txn,
        transaction_id=transaction_id,
        amount=amount,
        currency=account.currency,
        reason=reason,
        status=HoldStatus.ACTIVE.value,
        created_at=now,
        expires_at=expires_at,
    )
    params = {f"t_{c}": getattr(txn, c) for c in _TXN_COLUMNS}
    params.update(t_id=transaction_id, t_posted_at=None)
    params.update({f"h_{c}": getattr(hold, c) for c in _HOLD_COLUMNS})
    uow.of(session).stage(_write_holds, params)
    set_committed_value(account, "held", account.held + amount)
    set_committed_value(account, "updated_at", now)
    return hold


_HOLD_COLUMNS = (
    "id",
    "public_id",
    "account_id",
    "transaction_id",
    "amount",
    "currency",
    "status",
    "reason",
    "created_at",
    "expires_at",
)


def _build_hold_parts(prefix: str) -> list[Any]:
    """The pending transaction (the movement's own insert), its hold and the account's held
    amount: three statements with their bind parameters named `prefix…`."""
    holds, acc = table_of(Hold), table_of(Account)

    def bp(name: str, column: sa.Column[Any]) -> sa.BindParameter[Any]:
        return sa.bindparam(f"{prefix}{name}", type_=column.type)

    hold = sa.insert(holds).values(**{c: bp(f"h_{c}", holds.c[c]) for c in _HOLD_COLUMNS})
    held = (
        sa.update(acc)
        .where(acc.c.id == bp("h_account_id", acc.c.id), acc.c.system_code.is_(None))
        .values(
            held=acc.c.held + bp("h_amount", acc.c.held),
            updated_at=bp("h_created_at", acc.c.updated_at),
        )
    )
    return [_MOVEMENTS.statements(prefix)[0], hold, held]


_HOLDS = _Staged("hold", _build_hold_parts)
_write_holds = _HOLDS.write
uow.composes(_write_holds)(_HOLDS.compose)
