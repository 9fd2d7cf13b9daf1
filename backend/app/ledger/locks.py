"""Locks a movement takes, in the engine's one order: the customer accounts by ascending id,
then their customer, with the ids of the movement's transaction (and hold) taken with that lock.

On PostgreSQL the accounts and their customer are locked in one statement
(`lock_by_public_id` for a use case that names accounts by public id, `lock` for the engine);
on SQLite (one writer, no sequences) the accounts are read and the customer after them.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute, Mapper, Session, aliased, lazyload, load_only

from app.core import uow
from app.core.db import Base, for_update
from app.core.errors import NotFound
from app.ledger import owners
from app.ledger.accounts import Account

LOCKED_ACCOUNTS = "accounts"  # the unit of work's locked rows: accounts locked in this transaction


def _build_lock(column: InstrumentedAttribute[Any]) -> sa.Select[Account]:
    """Lock the customer accounts whose `column` is in `:ids`, by ascending id (built once)."""
    return for_update(
        sa.select(Account)
        .where(column.in_(sa.bindparam("ids", expanding=True)), Account.system_code.is_(None))
        .order_by(Account.id)
    )


_LOCK_BY_ID = _build_lock(Account.id)
_LOCK_BY_PUBLIC_ID = _build_lock(Account.public_id)


def lock_accounts(session: Session, account_ids: Iterable[int]) -> dict[int, Account]:
    """Lock customer accounts in a fixed (ascending id) order and reload them; id → account.

    Accounts this transaction has locked already (`lock_accounts_by_public_id`) are taken from
    the session without another round trip.
    """
    ids = sorted({i for i in account_ids if i is not None})
    if not ids:
        return {}
    locked = uow.of(session).locked.get(LOCKED_ACCOUNTS, {})
    if all(i in locked for i in ids):
        return {i: locked[i] for i in ids}
    return remember_locked(session, session.scalars(_LOCK_BY_ID, {"ids": ids}).all())


def lock_accounts_by_public_id(
    session: Session, public_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Account]:
    """Find and lock customer accounts by public id in one statement (ascending id order).

    What a use case calls when it resolves the accounts a movement names: the engine then finds
    them locked and does not read them again. Unknown ids are simply absent from the result.
    """
    rows = session.scalars(_LOCK_BY_PUBLIC_ID, {"ids": sorted(set(public_ids))}).all()
    remember_locked(session, rows)
    return {account.public_id: account for account in rows}


def remember_locked(session: Session, rows: Iterable[Account]) -> dict[int, Account]:
    """Note accounts this transaction has just locked, so that the engine reads them no more."""
    found = {account.id: account for account in rows}
    # Row locks end with the transaction, and so does the unit of work that remembers them.
    uow.of(session).locked.setdefault(LOCKED_ACCOUNTS, {}).update(found)
    return found


# The customer's lock also takes the id the movement's transaction will have (and, for a hold,
# the hold's): known before anything is written, the transaction and its hold go with the rest
# of the movement in one write, and the rows that name them (a card authorization) with them.
# (Facts the policies read, such as the daily counters, are read in a statement of their own
# once the lock is held: a statement that waits for a lock still reads with the snapshot it
# started with, so counters read in it could miss what the lock's previous holder committed.)
# On SQLite (one writer, no sequences) the ids come from the inserts, as before.
# The customer is loaded with what the policies and observers read of it (`owners.Customer`);
# the rest, its relationships included, loads on access. The statements are built once per
# owner model (the app registers it, `owners.register`).


def _id_of(model: type[Base]) -> sa.ColumnElement[Any]:
    """The owner model's primary key column."""
    mapper: Mapper[Base] = sa.inspect(model)
    return mapper.primary_key[0]


def _customer_columns(entity: Any) -> list[Any]:
    return [getattr(entity, name) for name in owners.COLUMNS]


@functools.cache
def _lock_customer(model: type[Base], dialect: str, hold: bool) -> sa.Select[Any]:
    def next_id(table: str) -> sa.ColumnElement[Any]:
        return sa.func.nextval(f"{table}_id_seq") if dialect == "postgresql" else sa.null()

    return for_update(
        # The roles are not what a movement needs: left to load on access, not read here.
        sa.select(
            model,
            next_id("journal_transactions"),
            next_id("holds") if hold else sa.null(),
        )
        .options(lazyload("*"), load_only(*_customer_columns(model)))
        .where(_id_of(model) == sa.bindparam("uid")),
        key_share=True,
        of=model,
    )


_CUSTOMERS = "customers"  # the unit of work's locked rows: customers locked by a movement


_CUSTOMER = "customer"  # the unit of work's locked rows: user id → (user, transaction, hold id)


@functools.cache
def _lock_with_customer_statement(model: type[Base], by: str, hold: bool) -> sa.Select[Any]:
    """Lock the named customer accounts (ascending id) and then their customer, taking the
    next transaction id (and hold id): one statement, in the engine's lock order.

    The customer owns `:owner_of` or, when that is not a customer account (a deposit's debit
    is the bank's), `:owner_else`. The aggregate over every locked account decides it, so
    PostgreSQL takes all the account locks before the customer's, whatever its join order.
    """
    column = getattr(Account, by)
    accounts = (
        sa.select(Account)
        .where(column.in_(sa.bindparam("ids", expanding=True)), Account.system_code.is_(None))
        .order_by(Account.id)
        .with_for_update()
        .cte("locked_accounts")
        .prefix_with("MATERIALIZED")
    )

    def owner_of(name: str) -> sa.ColumnElement[Any]:
        named = accounts.c[by] == sa.bindparam(name, type_=column.type)
        return sa.func.max(accounts.c.user_id).filter(named)

    owner = sa.select(sa.func.coalesce(owner_of("owner_of"), owner_of("owner_else")))
    customer = (
        sa.select(
            model,
            sa.func.nextval("journal_transactions_id_seq").label("next_txn_id"),
            (sa.func.nextval("holds_id_seq") if hold else sa.null()).label("next_hold_id"),
        )
        .where(_id_of(model) == owner.scalar_subquery())
        .with_for_update(key_share=True)
        .cte("locked_customer")
        .prefix_with("MATERIALIZED")
    )
    locked_account = aliased(Account, accounts)
    locked_customer: type[Base] = aliased(model, customer)
    return (
        sa.select(locked_account, locked_customer, customer.c.next_txn_id, customer.c.next_hold_id)
        .select_from(accounts)
        .outerjoin(customer, sa.true())
        .order_by(accounts.c.id)
        .options(
            lazyload("*"),
            load_only(*_customer_columns(locked_customer)),
        )
        .execution_options(populate_existing=True)
    )


def _lock_with_customer(
    session: Session, by: str, ids: Iterable[Any], owner_of: Any, owner_else: Any, hold: bool
) -> list[Account]:
    """Run the combined lock (PostgreSQL); the customer and its ids wait in the unit of work."""
    params = {"ids": sorted(set(ids)), "owner_of": owner_of, "owner_else": owner_else}
    statement = _lock_with_customer_statement(owners.model(), by, hold)
    rows = session.execute(statement, params).all()
    accounts = [account for account, *_ in rows]
    remember_locked(session, accounts)
    for _, customer, transaction_id, hold_id in rows[:1]:
        if customer is not None:
            taken = (customer, transaction_id, hold_id, hold)
            uow.of(session).locked[_CUSTOMER] = {customer.id: taken}
    return accounts


def lock_by_public_id(
    session: Session, public_ids: Iterable[uuid.UUID], *, customer_of: uuid.UUID
) -> dict[uuid.UUID, Account]:
    """Find and lock the customer accounts a movement names, and the customer who owns
    `customer_of` (the account money leaves), in one statement; public id → account.

    What a use case calls before `execute`: the engine then finds the accounts, the customer
    and the transaction's id taken, and reads none of them again. Unknown ids are absent. On
    SQLite (no row locks, no sequences) the accounts are read and the customer comes later.
    """
    ids = list(public_ids)
    if session.get_bind().dialect.name != "postgresql":
        return lock_accounts_by_public_id(session, ids)
    accounts = _lock_with_customer(session, "public_id", ids, customer_of, None, hold=False)
    return {account.public_id: account for account in accounts}


@dataclass
class Locked:
    accounts: dict[int, Account]
    customer: owners.Customer | None
    # Taken with the customer's lock: the ids the movement's transaction (and hold) will have.
    transaction_id: int | None = None
    hold_id: int | None = None


def lock(session: Session, *account_ids: int | None, hold: bool = False) -> Locked:
    """Lock the customer accounts by id, load the system ones, then lock their customer (and
    take the next transaction id, and with `hold` the next hold id, with that lock).

    What an earlier movement of the same unit of work staged is written first (a card held
    for review is voided in the request that placed it): each movement's rows stand alone
    (one statement may not update an account's row twice). What a use case staged before its
    first movement (its audit record, say) waits for the movement's one write.
    """
    unit = uow.of(session)
    if unit.locked.get(_CUSTOMERS):
        unit.flush()
    named = [i for i in account_ids if i is not None]
    locked = unit.locked.get(LOCKED_ACCOUNTS, {})
    if session.get_bind().dialect.name == "postgresql" and not all(i in locked for i in named):
        # The accounts and their customer in one statement; then the system ones (not locked).
        first, second = (*account_ids, None, None)[:2]
        _lock_with_customer(session, "id", named, first, second, hold)
        locked = unit.locked.get(LOCKED_ACCOUNTS, {})
        accounts = {i: locked[i] for i in named if i in locked}
    else:
        accounts = lock_accounts(session, named)
    for account_id in named:
        if account_id not in accounts:
            account = session.get(Account, account_id)
            if account is None:
                raise NotFound("The account was not found.")
            accounts[account_id] = account
    owner = next(
        (accounts[i].user_id for i in account_ids if i is not None and accounts[i].user_id), None
    )
    if owner is None:
        return Locked(accounts, None)
    taken = unit.locked.get(_CUSTOMER, {}).pop(owner, None)
    if taken is not None and (taken[3] or not hold):  # taken with the accounts' lock
        customer, transaction_id, hold_id, _ = taken
    else:
        dialect = session.get_bind().dialect.name
        statement = _lock_customer(owners.model(), dialect, hold)
        customer, transaction_id, hold_id = session.execute(statement, {"uid": owner}).one()
    unit.locked.setdefault(_CUSTOMERS, {})[owner] = customer
    return Locked(accounts, customer, transaction_id, hold_id)
