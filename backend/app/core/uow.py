"""The unit of work: everything one use case writes, committed together or not at all.

A request or a job works in one unit per database transaction (`of(session)`). Services change
ORM objects as usual and *stage* what goes beside them:

- audit records (`core.audit.record`), written in the same transaction as the change;
- outbox rows (`core.queue.enqueue`), handed to RQ only once the transaction has committed;
- rows kept by other domains (daily counters, the AML feed), as Core statements;
- at the edge, the request's `Idempotency-Key` with the exact response it produced.

`commit()` flushes the ORM changes, writes every staged item in the order it was staged and
commits once; the after-commit hand-overs (RQ pushes) run only after that. `refuse(exc, record)`
rolls the change back, stages the refusal's audit record, commits that alone and raises `exc`.
Nothing is written by a hook behind a service's back. A bare `session.commit()` with items still
staged would lose them (an audit record, a job): `install_guard` makes such a commit fail
instead, and a test forbids bare commits in application code.

**Held by the edge.** A request carrying an `Idempotency-Key` holds its unit (`hold()`): a
service's `commit()` (or `refuse()`) then writes its part without committing, the edge builds
the response, stages the key with that response, and commits once (`release(commit=True)`). A
movement, its audit record, its jobs and its key with its answer are one transaction, so a crash
at any point leaves either nothing (a retry runs) or all of it (a retry replays).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import sqlalchemy as sa
from sqlalchemy.orm import Session, SessionTransaction

from app.core.db import real_session

# A writer writes a batch of staged items of its kind into the session's transaction.
Writer = Callable[[Session, list[Any]], None]

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
        self.refused = False  # the transaction holds only a refusal's record (`refuse`)
        # Rows this transaction holds locked, by kind (e.g. the ledger's accounts): a lock taken
        # once is not taken again, and ends with the transaction.
        self.locked: dict[str, dict[Any, Any]] = {}
        # What a use case is working on, for the policies it calls (e.g. a card authorization).
        self.subject: dict[str, Any] = {}

    # --- staging ---------------------------------------------------------------------------

    def stage(self, writer: Writer, item: Any) -> None:
        """Write `item` with the others of its kind (`writer(session, items)`) at commit."""
        self._staged.setdefault(writer, []).append(item)

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
        while self._staged:
            writer, items = next(iter(self._staged.items()))
            del self._staged[writer]
            writer(self.session, items)

    def commit(self, *, keep_loaded: bool = False) -> None:
        """Write everything staged and commit once (held by the edge: write, don't commit).

        `keep_loaded` keeps the loaded objects as written (no reload after the commit): right
        for rows written under our own locks, whose state is exactly what was committed.
        """
        self.flush()
        if self.held:
            return
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
