"""The movement engine's hooks: the policies, observers and fact readers the domains register,
and how a movement runs them (the facts in one statement, then the policies; the observers
after each change).

The registry is the app's (`app.extensions["flowlet_engine_hooks"]`): each domain's `init_app`
adds its entries with `register_policy(app, …)`, `register_observer(app, …)` and
`register_facts(app, …)`, and a movement runs those of the app it runs in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from flask import Flask, current_app

from app.ledger.models import JournalTransaction
from app.ledger.movement import Facts, FactsReader, Observer, Policy, PolicyContext, Review

EXTENSION = "flowlet_engine_hooks"
_F = TypeVar("_F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Registered(Generic[_F]):
    fn: _F
    kinds: frozenset[str] | None

    def applies(self, kind: str) -> bool:
        return self.kinds is None or kind in self.kinds


@dataclass
class Hooks:
    """What the domains plugged into the engine, by name (a name registered again replaces)."""

    policies: dict[str, Registered[Policy]] = field(default_factory=dict)
    observers: dict[str, Registered[Observer]] = field(default_factory=dict)
    fact_readers: dict[str, Registered[FactsReader]] = field(default_factory=dict)

    def remove(self, name: str) -> None:
        """Take every hook named `name` out (of each kind)."""
        for table in (self.policies, self.observers, self.fact_readers):
            table.pop(name, None)


def of(app: Flask) -> Hooks:
    """The app's hooks (made on first use)."""
    hooks = app.extensions.get(EXTENSION)
    if not isinstance(hooks, Hooks):
        hooks = app.extensions[EXTENSION] = Hooks()
    return hooks


def _current() -> Hooks:
    return of(current_app)


def _kinds(kinds: Iterable[str] | None) -> frozenset[str] | None:
    return frozenset(kinds) if kinds is not None else None


def register_policy(
    app: Flask, name: str, fn: Policy, *, kinds: Iterable[str] | None = None
) -> None:
    """Check every movement of `kinds` (all when None) before it posts; same name replaces."""
    of(app).policies[name] = Registered(fn, _kinds(kinds))


def register_observer(
    app: Flask, name: str, fn: Observer, *, kinds: Iterable[str] | None = None
) -> None:
    """Call `fn(ctx, txn)` after each change of a movement of `kinds`, in its transaction."""
    of(app).observers[name] = Registered(fn, _kinds(kinds))


def register_facts(
    app: Flask, name: str, fn: FactsReader, *, kinds: Iterable[str] | None = None
) -> None:
    """Call `fn(ctx)` once the locks of a movement of `kinds` are held; the `Facts` it returns
    (or None: nothing to read) is read with every other reader's in one statement, before the
    policies run. Same name replaces."""
    of(app).fact_readers[name] = Registered(fn, _kinds(kinds))


# The composed facts statement of each combination of readers' shapes (a cache, not a registry).
_composed_facts: dict[tuple[Any, ...], tuple[sa.Select[Any], tuple[int, ...]]] = {}


def _compose_facts(parts: Sequence[Facts]) -> tuple[sa.Select[Any], tuple[int, ...]]:
    key = tuple(part.shape for part in parts)
    found = _composed_facts.get(key)
    if found is None:
        reads = [part.build() for part in parts]
        subqueries = [read.subquery(f"facts{i}") for i, read in enumerate(reads)]
        joined: sa.FromClause = subqueries[0]
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


def read_facts(ctx: PolicyContext, hooks: Hooks) -> None:
    """One statement for every fact the movement's readers need (read after the locks: a
    statement that waited for a lock still reads with the snapshot it started with)."""
    parts = [
        part
        for item in list(hooks.fact_readers.values())
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
    """Tell every observer of the transaction's kind what just happened to it."""
    ctx.event = event
    for item in list(_current().observers.values()):
        if item.applies(txn.type):
            item.fn(ctx, txn)


def run_policies(ctx: PolicyContext) -> list[Review]:
    """Read the facts, then run the movement's policies: the reviews they ask for."""
    hooks = _current()
    read_facts(ctx, hooks)
    reviews = []
    for item in list(hooks.policies.values()):
        if item.applies(ctx.movement.kind):
            review = item.fn(ctx)
            if review is not None:
                ctx.flag(review.rule, review.score)
                reviews.append(review)
    return reviews
