"""The verification behind `flask ledger verify`: every cached balance and hold total against
the entries and holds, every transaction balanced, every entry in its account's currency."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.core.money import format_amount
from app.ledger.accounts import Account
from app.ledger.models import Hold, HoldStatus, JournalTransaction, LedgerEntry


@dataclass
class VerifyResult:
    accounts_checked: int = 0
    transactions_checked: int = 0
    problems: list[str] = field(default_factory=list)
    system_balances: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(session: Session) -> VerifyResult:
    """Recompute every balance and hold total from the entries and compare with the cache."""
    result = VerifyResult()
    _check_accounts(session, result)
    _check_transactions(session, result)
    result.transactions_checked = (
        session.scalar(sa.select(sa.func.count()).select_from(JournalTransaction)) or 0
    )
    return result


def _check_accounts(session: Session, result: VerifyResult) -> None:
    """Each customer account's cached balance and held total against its entries and active
    holds; each system account's balance, summed from its entries."""
    sums = (
        sa.select(LedgerEntry.account_id, sa.func.sum(LedgerEntry.amount).label("total"))
        .group_by(LedgerEntry.account_id)
        .subquery()
    )
    holds = (
        sa.select(Hold.account_id, sa.func.sum(Hold.amount).label("total"))
        .where(Hold.status == HoldStatus.ACTIVE)
        .group_by(Hold.account_id)
        .subquery()
    )
    rows = session.execute(
        sa.select(
            Account.public_id,
            Account.account_number,
            Account.system_code,
            Account.currency,
            Account.balance,
            Account.held,
            sa.func.coalesce(sums.c.total, 0).label("ledger"),
            sa.func.coalesce(holds.c.total, 0).label("holds"),
        )
        .outerjoin(sums, sums.c.account_id == Account.id)
        .outerjoin(holds, holds.c.account_id == Account.id)
        .order_by(Account.id)
    )
    for row in rows:
        result.accounts_checked += 1
        if row.system_code is not None:
            result.system_balances[f"{row.system_code}:{row.currency}"] = format_amount(
                int(row.ledger), row.currency
            )
            continue
        if row.balance != row.ledger:
            result.problems.append(
                f"account {row.account_number} ({row.public_id}): balance {row.balance} "
                f"!= ledger {row.ledger}"
            )
        if row.held != row.holds:
            result.problems.append(
                f"account {row.account_number} ({row.public_id}): held {row.held} "
                f"!= active holds {row.holds}"
            )


def _check_transactions(session: Session, result: VerifyResult) -> None:
    """Every transaction's entries sum to zero per currency; every entry is in its account's
    currency (the first 20 found)."""
    unbalanced = session.execute(
        sa.select(
            JournalTransaction.public_id, LedgerEntry.currency, sa.func.sum(LedgerEntry.amount)
        )
        .join(LedgerEntry, LedgerEntry.transaction_id == JournalTransaction.id)
        .group_by(JournalTransaction.public_id, LedgerEntry.currency)
        .having(sa.func.sum(LedgerEntry.amount) != 0)
    )
    for public_id, currency, total in unbalanced:
        result.problems.append(f"transaction {public_id}: {currency} entries sum to {total}")
    mismatched = session.execute(
        sa.select(LedgerEntry.id, Account.account_number)
        .join(Account, Account.id == LedgerEntry.account_id)
        .where(LedgerEntry.currency != Account.currency)
        .limit(20)
    )
    for entry_id, number in mismatched:
        result.problems.append(f"account {number}: entry {entry_id} in a foreign currency")
