"""The movement engine's hooks: the policies, observers and fact readers the domains register,
and how a movement runs them (the facts in one statement, then the policies; the observers
after each change)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.ledger.models import JournalTransaction
from app.ledger.movement import Facts, FactsReader, Observer, Policy, PolicyContext, Review


@dataclass(frozen=True)
class _Registered:
    fn: Callable
    kinds: frozenset[str] | None

    def applies(self, kind: str) -> bool:
        return self.kinds is None or kind in self.kinds


_policies: dict[str, _Registered] = {}
_observers: dict[str, _Registered] = {}
_fact_readers: dict[str, _Registered] = {}
_composed_facts: dict[tuple, tuple[sa.Select, tuple[int, ...]]] = {}


def register_policy(name: str, fn: Policy, *, kinds: Iterable[str] | None = None) -> None:
    """Check every movement of `kinds` (all when None) before it posts; same name replaces."""
    _policies[name] = _Registered(fn, frozenset(kinds) if kinds is not None else None)


def register_observer(name: str, fn: Observer, *, kinds: Iterable[str] | None = None) -> None:
    """Call `fn(ctx, txn)` after each change of a movement of `kinds`, in its transaction."""
    _observers[name] = _Registered(fn, frozenset(kinds) if kinds is not None else None)


def register_facts(name: str, fn: FactsReader, *, kinds: Iterable[str] | None = None) -> None:
    """Call `fn(ctx)` once the locks of a movement of `kinds` are held; the `Facts` it returns
    (or None: nothing to read) is read with every other reader's in one statement, before the
    policies run. Same name replaces."""
    _fact_readers[name] = _Registered(fn, frozenset(kinds) if kinds is not None else None)


def _compose_facts(parts: Sequence[Facts]) -> tuple[sa.Select, tuple[int, ...]]:
    key = tuple(part.shape for part in parts)
    found = _composed_facts.get(key)
    if found is None:
        reads = [part.build() for part in parts]
        subqueries = [read.subquery(f"facts{i}") for i, read in enumerate(reads)]
        joined = subqueries[0]
        for subquery in subqueries[1:]:
            joined = joined.join(subquery, sa.true())
        columns = [
            column.label(f"f{i}_{j}")
            for i, subquery in enumerate(subqueries)
            for j, column in enumerate(subquery.c)
        ]
        widths = tuple(len(read.selected_columns) for read in reads)
        found = _composed_facts[key] = (sa.select(*columns).select_from(joined), widths)
    return found


def read_facts(ctx: PolicyContext) -> None:
    """One statement for every fact the movement's readers need (read after the locks: a
    statement that waited for a lock still reads with the snapshot it started with)."""
    parts = [
        part
        for item in list(_fact_readers.values())
        if item.applies(ctx.movement.kind) and (part := item.fn(ctx)) is not None
    ]
    if not parts:
        return
    params: dict[str, Any] = {}
    for part in parts:
        if params.keys() & part.params.keys():
            raise RuntimeError(f"facts {part.shape!r} reuse a bind parameter name")
        params.update(part.params)
    statement, widths = _compose_facts(parts)
    row = ctx.session.connection().execute(statement, params).one()
    start = 0
    for part, width in zip(parts, widths, strict=True):
        part.take(row[start : start + width])
        start += width


def observe(ctx: PolicyContext, txn: JournalTransaction, event: str) -> None:
    ctx.event = event
    for item in _observers.values():
        if item.applies(txn.type):
            item.fn(ctx, txn)


def run_policies(ctx: PolicyContext) -> list[Review]:
    read_facts(ctx)
    reviews = []
    for item in list(_policies.values()):
        if item.applies(ctx.movement.kind):
            review = item.fn(ctx)
            if review is not None:
                ctx.flag(review.rule, review.score)
                reviews.append(review)
    return reviews
