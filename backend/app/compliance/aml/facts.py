"""What the AML rules read from the monitoring feed (`aml_postings`), in SQL.

Per posting, a customer's feed is read through the `(user_id, occurred_at)` index as a bounded
window: the latest `AML_WINDOW_MAX_ROWS` rows in [since, before], so a posting costs the same
however long the customer's history is. `window_facts` reads four aggregates over that window
(both sides of a movement in one statement, no rows loaded); only when they say a rule that
reads history can fire (`rules.needs_history`) is the window read as rows (`recent_histories`).
The statements are built once per number of sides, with bound parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.compliance.aml.rules import IN, OUT, OWN, Posting, Settings, WindowFacts
from app.compliance.models import MonitoredPosting
from app.core.db import table_of

_P = table_of(MonitoredPosting)


# Posting's fields, in order, and the feed's columns they come from.
POSTING_COLUMNS = (
    "transaction_id",
    "user_id",
    "account_id",
    "kind",
    "direction",
    "amount",
    "currency",
    "occurred_at",
    "channel",
    "country",
    "counterparty",
)


def _param(name: str, column: sa.Column[Any] | None = None) -> sa.BindParameter[Any]:
    return sa.bindparam(name, type_=column.type if column is not None else None)


def _build_window(n: str = "") -> sa.Subquery:
    """One customer's feed in [since, before]: its latest `cap` rows (statement built once;
    `n` suffixes the parameter names, so that several windows can share a statement)."""
    return (
        sa.select(_P)
        .where(
            _P.c.user_id == _param(f"w_user{n}", _P.c.user_id),
            _P.c.occurred_at >= _param(f"w_since{n}", _P.c.occurred_at),
            _P.c.occurred_at <= _param(f"w_before{n}", _P.c.occurred_at),
        )
        .order_by(_P.c.occurred_at.desc(), _P.c.id.desc())
        .limit(sa.bindparam(f"w_cap{n}", type_=sa.Integer))
        .subquery()
    )


def _build_facts(n: str) -> sa.Select[Any]:
    w = _build_window(n)
    mine = w.c.transaction_id != _param(f"f_txn{n}", _P.c.transaction_id)
    external = w.c.counterparty.is_distinct_from(OWN)
    rapid = sa.and_(
        external,
        w.c.currency == _param(f"f_currency{n}", _P.c.currency),
        w.c.occurred_at >= _param(f"f_rapid_since{n}", _P.c.occurred_at),
    )

    def total(
        condition: sa.ColumnElement[bool], value: sa.ColumnElement[Any] | int
    ) -> sa.ColumnElement[Any]:
        return sa.func.coalesce(sa.func.sum(sa.case((sa.and_(mine, condition), value))), 0)

    return sa.select(
        total(
            sa.and_(
                external,
                w.c.direction == _param(f"f_direction{n}", _P.c.direction),
                w.c.occurred_at >= _param(f"f_velocity_since{n}", _P.c.occurred_at),
            ),
            1,
        ),
        total(sa.and_(rapid, w.c.direction == IN), w.c.amount),
        total(sa.and_(rapid, w.c.direction == OUT), w.c.amount),
        sa.func.max(
            sa.case(
                (
                    sa.and_(mine, w.c.account_id == _param(f"f_account{n}", _P.c.account_id)),
                    w.c.occurred_at,
                )
            ),
            type_=_P.c.occurred_at.type,
        ),
    )


def _build_sides_facts(sides: int) -> sa.Select[Any]:
    """The facts of `sides` sides in one row, four columns a side."""
    parts = [_build_facts(str(i)).subquery(f"side{i}") for i in range(sides)]
    joined: sa.FromClause = parts[0]
    for part in parts[1:]:
        joined = joined.join(part, sa.true())
    return sa.select(
        *(
            column.label(f"s{i}_{j}")
            for i, part in enumerate(parts)
            for j, column in enumerate(part.c)
        )
    ).select_from(joined)


# The facts of a movement's sides in one row: one side, or two (an internal transfer).
_FACTS = {1: _build_facts("0"), 2: _build_sides_facts(2)}


def _window_params(user_id: int, before: datetime, since: datetime, n: str = "") -> dict[str, Any]:
    cap = current_app.config["AML_WINDOW_MAX_ROWS"]
    return {f"w_user{n}": user_id, f"w_since{n}": since, f"w_before{n}": before, f"w_cap{n}": cap}


def recent_history(
    session: Session, *, user_id: int, before: datetime, since: datetime
) -> list[Posting]:
    """The customer's feed in [since, before], newest rows first up to the cap, oldest first."""
    return recent_histories(session, [(user_id, before, since)])[0]


def _build_histories(sides: int) -> sa.Select[Any]:
    """The windows of `sides` postings in one statement, each row tagged with its side."""
    parts = []
    for i in range(sides):
        w = _build_window(str(i))
        columns = (w.c[name] for name in POSTING_COLUMNS)
        side = sa.literal(i, sa.Integer).label("side")
        parts.append(sa.select(side, w.c.id.label("row_id"), *columns))
    union = sa.union_all(*parts).subquery()
    return sa.select(union).order_by(union.c.side, union.c.occurred_at, union.c.row_id)


_HISTORIES = {n: _build_histories(n) for n in (1, 2)}


def recent_histories(
    session: Session, windows: Sequence[tuple[int, datetime, datetime]]
) -> list[list[Posting]]:
    """`recent_history` of each (user id, before, since), in one statement."""
    params: dict[str, Any] = {}
    for i, (user_id, before, since) in enumerate(windows):
        params.update(_window_params(user_id, before, since, str(i)))
    found: list[list[Posting]] = [[] for _ in windows]
    for side, _, *row in session.connection().execute(_HISTORIES[len(windows)], params):
        found[side].append(Posting(*row))
    return found


def window_facts(
    session: Session, postings: Sequence[Posting], settings: Settings
) -> list[WindowFacts]:
    """Four aggregates over each posting's capped customer window, one statement for both
    sides of a movement (no rows loaded)."""
    statement, params = window_facts_read(postings, settings)
    return parse_window_facts(session.connection().execute(statement, params).one())


def parse_window_facts(row: Sequence[Any]) -> list[WindowFacts]:
    """The `WindowFacts` of each side from the one row `window_facts_read` returns."""
    return [
        WindowFacts(int(row[i]), int(row[i + 1]), int(row[i + 2]), row[i + 3])
        for i in range(0, len(row), 4)
    ]


def window_facts_read(
    postings: Sequence[Posting], settings: Settings
) -> tuple[sa.Select[Any], dict[str, Any]]:
    """The one-row statement (built once per number of sides) and its parameters."""
    params: dict[str, Any] = {}
    for i, p in enumerate(postings):
        n = str(i)
        params.update(
            _window_params(p.user_id, p.at, p.at - settings.window, n),
            **{
                f"f_txn{n}": p.transaction_id,
                f"f_direction{n}": p.direction,
                f"f_velocity_since{n}": p.at - timedelta(hours=settings.velocity_hours),
                f"f_currency{n}": p.currency,
                f"f_rapid_since{n}": p.at - timedelta(hours=settings.rapid_hours),
                f"f_account{n}": p.account_id,
            },
        )
    return _FACTS[len(postings)], params


def last_activity(
    session: Session, *, account_id: int, before: datetime, opened_at: datetime | None
) -> datetime | None:
    """When the account last moved money before `before` (its opening when it never did)."""
    last = session.scalar(
        sa.select(MonitoredPosting.occurred_at)
        .where(MonitoredPosting.account_id == account_id, MonitoredPosting.occurred_at < before)
        .order_by(MonitoredPosting.occurred_at.desc())
        .limit(1)
    )
    return last or opened_at


def already_observed(session: Session, p: Posting) -> bool:
    """Whether this side of this movement is in the feed already (seen when it was held)."""
    return (
        session.scalar(
            sa.select(MonitoredPosting.id).where(
                MonitoredPosting.transaction_id == p.transaction_id,
                MonitoredPosting.account_id == p.account_id,
                MonitoredPosting.direction == p.direction,
            )
        )
        is not None
    )
