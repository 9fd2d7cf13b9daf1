"""The unit of work: everything one use case writes, committed together or not at all.

A request or a job works in one unit per database transaction (`of(session)`). Services change
ORM objects as usual and *stage* what goes beside them:

- audit records (`core.audit.record`), written in the same transaction as the change;
- outbox rows (`core.queue.enqueue`), handed to RQ only once the transaction has committed;
- rows kept by other domains (daily counters, the AML feed), as Core statements;
- at the edge, the request's `Idempotency-Key` with the exact response it produced.

`commit()` flushes the ORM changes, writes every staged item and commits once; the after-commit
hand-overs (RQ pushes) run only after that. On PostgreSQL the staged items of writers that can
compose (`Writer.compose`) are written by **one** statement, each kind of item a data-modifying
CTE (`WITH w0 AS (INSERT …), w1 AS (INSERT …) SELECT …`): a movement's counters, AML feed,
audit record, jobs and idempotency key cost one round trip, not five. `refuse(exc, record)`
rolls the change back, stages the refusal's audit record, commits that alone and raises `exc`.
Nothing is written by a hook behind a service's back. A bare `session.commit()` with items still
staged would lose them (an audit record, a job): `install_guard` makes such a commit fail
instead, and a test forbids bare commits in application code.

**Held by the edge.** A request carrying an `Idempotency-Key` holds its unit (`hold()`): a
service's `commit()` (or `refuse()`) then only flushes its ORM changes and leaves its staged
items for the edge, which builds the response, stages the key with that response and commits
once (`release(commit=True)`): the staged items and the key go in one statement. A
movement, its audit record, its jobs and its key with its answer are one transaction, so a crash
at any point leaves either nothing (a retry runs) or all of it (a retry replays).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.sql.dml import UpdateBase

from app.core.db import real_session


@dataclass
class Part:
    """One data-modifying statement of a composed write.

    `build(prefix)` makes the statement with its bind parameters named `prefix…`, and
    `params(prefix)` gives their values; parts of the same `shape` make the same statement, so
    a composed statement is built and compiled once per combination of shapes and then only
    bound (PostgreSQL prepares it). `on_count(n)` gets the number of rows the part's RETURNING
    clause gave (for a part that has one).
    """

    shape: Hashable
    build: Callable[[str], UpdateBase]
    params: Callable[[str], dict[str, Any]]
    on_count: Callable[[int], None] | None = None


def insert_rows(
    table: sa.Table,
    rows: list[dict[str, Any]],
    *,
    kind: Hashable = None,
    expressions: dict[str, Callable[[str], sa.ColumnElement[Any]]] | None = None,
    constants: dict[str, sa.ColumnElement[Any]] | None = None,
    finish: Callable[[postgresql.Insert], UpdateBase] | None = None,
    on_count: Callable[[int], None] | None = None,
) -> Part:
    """A part inserting `rows` (all with the same keys) into `table`, one VALUES row each.

    `expressions[column](name)` wraps a value's bind parameter (a cast, say); `constants` are
    SQL expressions every row takes as they are; `finish(stmt)` adds an ON CONFLICT or
    RETURNING clause to the PostgreSQL insert.
    """
    columns = tuple(rows[0])
    expressions = expressions or {}
    constants = constants or {}

    def build(prefix: str) -> UpdateBase:
        # One row: INSERT … VALUES; more: INSERT … SELECT … UNION ALL SELECT …. (A multi-row
        # VALUES construct cannot be cached by SQLAlchemy: it would be compiled every time.)
        values = [
            {
                c: expressions[c](f"{prefix}{c}_{i}")
                if c in expressions
                else sa.bindparam(f"{prefix}{c}_{i}", type_=table.c[c].type)
                for c in columns
            }
            | constants
            for i in range(len(rows))
        ]
        if len(values) == 1:
            stmt = postgresql.insert(table).values(values[0])
        else:
            names = list(values[0])
            stmt = postgresql.insert(table).from_select(
                names, sa.union_all(*(sa.select(*(row[n] for n in names)) for row in values))
            )
        return finish(stmt) if finish is not None else stmt

    def params(prefix: str) -> dict[str, Any]:
        return {f"{prefix}{c}_{i}": row[c] for i, row in enumerate(rows) for c in columns}

    return Part((table.name, kind, columns, len(rows)), build, params, on_count)


class Writer(Protocol):
    """Writes a batch of staged items of one kind into the session's transaction."""

    def __call__(self, session: Session, items: list[Any], /) -> None: ...


class Composer(Protocol):
    """The same items as statements to run together with the others (PostgreSQL)."""

    def __call__(self, session: Session, items: list[Any], /) -> Iterable[Part]: ...


_COMPOSERS: dict[Writer, Composer] = {}


def composes(writer: Writer) -> Callable[[Composer], Composer]:
    """Declare `fn` the composing form of `writer` (used on PostgreSQL)."""

    def decorator(fn: Composer) -> Composer:
        _COMPOSERS[writer] = fn
        return fn

    return decorator


_INFO_KEY = "unit_of_work"


class UnitOfWork:
    """What one transaction of one request or job writes; see the module docstring."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._root: SessionTransaction | None = None
        self._staged: dict[Writer, list[Any]] = {}
        self._after_commit: list[Callable[[], None]] = []
        self.held = False
        self._committing = False
        # The transaction holds a refusal's record (`refuse`) or a failure kept with what it
        # changed (`fail`): the edge holding the unit commits it with its answer.
        self.refused = False
        # Rows this transaction holds locked, by kind (e.g. the ledger's accounts): a lock taken
        # once is not taken again, and ends with the transaction.
        self.locked: dict[str, dict[Any, Any]] = {}
        # What a use case is working on, for the policies it calls (e.g. a card authorization).
        self.subject: dict[str, Any] = {}
        # Written with every commit of this session, whatever the transaction (a job's own
        # outbox row: it is done in the transaction that commits the job's effect).
        self._standing: list[tuple[Writer, Any]] = []

    # --- staging ---------------------------------------------------------------------------

    def stage(self, writer: Writer, item: Any) -> None:
        """Write `item` with the others of its kind (`writer(session, items)`) at commit."""
        self._staged.setdefault(writer, []).append(item)

    def stage_each_commit(self, writer: Writer, item: Any) -> None:
        """Write `item` with every commit of this session until `clear_each_commit()`."""
        self._standing.append((writer, item))

    def clear_each_commit(self) -> None:
        self._standing = []

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once this transaction has committed; dropped if it rolls back."""
        self._after_commit.append(callback)

    @property
    def pending(self) -> int:
        """How many staged items are not written yet."""
        return sum(len(items) for items in self._staged.values())

    # --- writing and committing ------------------------------------------------------------

    def flush(self) -> None:
        """Flush the ORM changes, then write every staged item (without committing)."""
        self.session.flush()
        for writer, item in self._standing:
            self.stage(writer, item)
        compose = self.session.get_bind().dialect.name == "postgresql"
        while self._staged:
            staged, self._staged = self._staged, {}
            parts: list[Part] = []
            for writer, items in staged.items():
                composer = _COMPOSERS.get(writer) if compose else None
                if composer is None:
                    writer(self.session, items)
                else:
                    parts.extend(composer(self.session, items))
            if parts:
                _write_together(self.session, parts)

    def commit(self, *, keep_loaded: bool = False) -> None:
        """Write everything staged and commit once.

        Held by the edge, only the ORM changes are flushed: the staged items wait for the
        edge's commit, to be written in one statement with the key and its response.
        `keep_loaded` keeps the loaded objects as written (no reload after the commit): right
        for rows written under our own locks, whose state is exactly what was committed.
        """
        if self.held:
            self.session.flush()
            return
        self.flush()
        self._commit(keep_loaded)

    def _commit(self, keep_loaded: bool) -> None:
        session = self.session
        previous = session.expire_on_commit
        session.expire_on_commit = not keep_loaded and previous
        self._committing = True
        try:
            session.commit()
        finally:
            session.expire_on_commit = previous
            self._committing = False
        callbacks, self._after_commit = self._after_commit, []
        self._reset()
        for callback in callbacks:
            callback()

    def rollback(self) -> None:
        """Undo the transaction and forget what was staged for it."""
        self.session.rollback()
        self._after_commit = []
        self._reset()

    def refuse(self, exc: Exception, record: Callable[[], None] | None = None) -> NoReturn:
        """Roll the change back, keep the refusal's record (`record()` stages it), raise `exc`.

        The refusal commits on its own, or with the edge's answer when the edge holds the unit.
        """
        self.rollback()
        if record is not None:
            self.session.begin()
            self._root = self.session.get_transaction()
            record()
            self.refused = True
            self.commit()
        raise exc

    def fail(self, exc: Exception, record: Callable[[], None]) -> NoReturn:
        """Keep what the change wrote so far and its failure's record (`record()` stages it),
        commit, raise `exc`. With the edge holding the unit, the edge commits it with its answer.
        """
        record()
        self.refused = True
        self.commit()
        raise exc

    def _reset(self) -> None:
        self._staged = {}
        self._root = None
        self.refused = False
        self.locked = {}
        self.subject = {}

    # --- held by the edge ------------------------------------------------------------------

    def hold(self) -> None:
        """The caller (the HTTP edge) commits: services' commits only write their part."""
        self.held = True

    def release(self, *, commit: bool) -> None:
        """End the hold: commit what was written and staged, or roll it all back."""
        self.held = False
        if commit:
            self.flush()
            self._commit(keep_loaded=True)
        else:
            self.rollback()


_COMPOSED: dict[tuple[Hashable, ...], sa.Select[*tuple[Any, ...]]] = {}
_COMPOSED_MAX = 512  # combinations of shapes kept built (each is one prepared statement)


def _composed(parts: list[Part]) -> sa.Select[*tuple[Any, ...]]:
    key = tuple(part.shape for part in parts)
    stmt = _COMPOSED.get(key)
    if stmt is None:
        ctes = [part.build(f"p{i}_").cte(f"w{i}") for i, part in enumerate(parts)]
        counted = [i for i, part in enumerate(parts) if part.on_count is not None]
        columns: list[sa.ColumnElement[Any]] = [
            sa.select(sa.func.count()).select_from(ctes[i]).scalar_subquery() for i in counted
        ] or [sa.literal_column("1")]
        stmt = sa.select(*columns)
        for i, cte in enumerate(ctes):
            if i not in counted:
                stmt = stmt.add_cte(cte)  # run, though the result does not read it
        if len(_COMPOSED) >= _COMPOSED_MAX:
            _COMPOSED.clear()
        _COMPOSED[key] = stmt
    return stmt


def _write_together(session: Session, parts: list[Part]) -> None:
    """Run `parts` as data-modifying CTEs of one statement; report the counted ones."""
    params: dict[str, Any] = {}
    for i, part in enumerate(parts):
        params.update(part.params(f"p{i}_"))
    row = session.execute(_composed(parts), params).one()
    counted = [part.on_count for part in parts if part.on_count is not None]
    for on_count, count in zip(counted, row, strict=False):
        on_count(int(count))


def of(session: Session) -> UnitOfWork:
    """The unit of work of `session`'s current transaction (one is begun if none is open)."""
    session = real_session(session)
    if not session.in_transaction():
        session.begin()
    root = session.get_transaction()
    uow: UnitOfWork | None = session.info.get(_INFO_KEY)
    if uow is None:
        uow = session.info[_INFO_KEY] = UnitOfWork(session)
    if uow._root is not root:
        # A new transaction: what was staged for an earlier one went with its rollback.
        held = uow.held
        uow._after_commit = []
        uow._reset()
        uow.held = held
        uow._root = root
    return uow


def commit(session: Session, *, keep_loaded: bool = False) -> None:
    """Commit `session`'s unit of work (see `UnitOfWork.commit`)."""
    of(session).commit(keep_loaded=keep_loaded)


def rollback(session: Session) -> None:
    """Roll back `session`'s unit of work."""
    of(session).rollback()


class StagedWritesLost(RuntimeError):
    """A bare `session.commit()` while the unit of work still had items to write."""


_guarded = False


def install_guard() -> None:
    """Refuse a commit that bypasses the unit of work while it has staged items (once)."""
    global _guarded
    if _guarded:
        return
    _guarded = True

    @sa.event.listens_for(Session, "before_commit")
    def _refuse_bypass(session: Session) -> None:
        uow: UnitOfWork | None = session.info.get(_INFO_KEY)
        if (
            uow is not None
            and not uow._committing
            and session.get_nested_transaction() is None  # a savepoint's release commits nothing
            and uow._root is session.get_transaction()
            and uow.pending
        ):
            raise StagedWritesLost(
                f"{uow.pending} staged item(s) would be lost: commit with app.core.uow.commit"
            )
