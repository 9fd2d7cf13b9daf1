"""What the movement engine carries: a movement, the context its policies and observers get,
a policy's request for review, the facts a policy reads, and the engine's result."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.core.errors import NotFound
from app.ledger import owners
from app.ledger.accounts import Account
from app.ledger.models import Hold, JournalTransaction


class TransactionNotFound(NotFound):
    message = "The transaction was not found."


@dataclass(frozen=True)
class Movement:
    kind: str
    debit_account_id: int
    credit_account_id: int
    amount: int
    currency: str
    initiator_id: int | None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Review:
    """A policy's request to hold the movement for a compliance officer."""

    rule: str
    score: int
    reason: str = ""


@dataclass
class PolicyContext:
    session: Session
    movement: Movement
    debit: Account
    credit: Account
    customer: owners.Customer | None
    now: datetime
    # What happened, for observers: completed, held, review, captured, released, approved,
    # rejected, reversed.
    event: str = ""
    risk_score: int = 0
    risk_rules: list[str] = field(default_factory=list)
    # The id the movement's transaction takes (taken with the customer's lock), when known.
    transaction_id: int | None = None
    # The id of the hold the movement placed (held or in review), once placed.
    hold_id: int | None = None
    # The KYC level whose limits apply instead of the customer's own, when a facts reader
    # lowers it (compliance: a high-risk customer awaiting enhanced due diligence).
    limits_level: str | None = None
    # Scratch space the policies and observers of one movement share (e.g. counters read once).
    shared: dict[str, Any] = field(default_factory=dict)

    def flag(self, rule: str, score: int) -> None:
        """Record a risk rule that fired (stored on the transaction, held or not)."""
        if rule not in self.risk_rules:
            self.risk_rules.append(rule)
            self.risk_score += score


@dataclass
class Result:
    transaction: JournalTransaction
    hold: Hold | None = None


Policy = Callable[[PolicyContext], "Review | None"]
Observer = Callable[[PolicyContext, JournalTransaction], None]


@dataclass(frozen=True)
class Facts:
    """A one-row read that a policy or observer needs once the locks are held.

    The engine composes every reader's `Facts` of a movement into one statement (cross-joined
    one-row subqueries, built once per combination of `shape`s, so psycopg prepares it) and
    hands each reader its columns through `take`. Bind parameter names must not collide with
    other readers' (prefix them).
    """

    shape: Any  # hashable: names what `build` makes
    build: Callable[[], sa.Select[Any]]  # a SELECT that returns exactly one row
    params: Mapping[str, Any]
    take: Callable[[Sequence[Any]], None]


FactsReader = Callable[["PolicyContext"], "Facts | None"]
