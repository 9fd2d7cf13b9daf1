"""Recording: `record`, `fail` and `refuse`, and the unit of work's hook that writes records.

`record(...)` is called by services inside their unit of work. It only stages the record on the
unit (`core.uow`), which writes it when it commits, in the same database transaction as the
change it describes: a rolled-back change leaves no record and a committed one always has one.
`refuse(...)` is the one way a refusal is kept: roll the change back, record the failure, commit
that alone (or with the edge's answer), raise.

Each record carries `digest`, the SHA-256 of its canonical form, and `txid`, the id of the
PostgreSQL transaction that wrote it; the sealer chains it later (`audit.seal`). Personal data
stays out of what is hashed: `ip`, `user_agent` and the personal values of `changes` are kept
beside the record, and only their keyed digest (`personal_digest`, HMAC-SHA256) is hashed.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.orm import Session

from app.core import context, uow
from app.core.audit.chain import HASHED_FIELDS, canonical_json, content_digest
from app.core.audit.masks import current_masks
from app.core.audit.models import log_table
from app.core.audit.sealer import seal_batch
from app.core.db import utcnow

# The columns an insert writes (`txid` is the database's own).
_WRITTEN = (*HASHED_FIELDS, "ip", "user_agent", "personal", "digest")
_TXID: sa.ColumnClause[int] = sa.literal_column("pg_current_xact_id()::text::bigint")


def _personal_key() -> bytes:
    secret = current_app.config["SECRET_KEY"] if has_app_context() else "flowlet"
    configured = current_app.config.get("AUDIT_PII_KEY") if has_app_context() else None
    seed = configured or secret
    return hmac.new(seed.encode(), b"flowlet audit personal data", hashlib.sha256).digest()


def personal_digest(ip: str | None, user_agent: str | None, values: dict[str, Any]) -> str | None:
    """HMAC-SHA256 of the personal values kept beside a record (None when there are none)."""
    if ip is None and user_agent is None and not values:
        return None
    doc = canonical_json({"ip": ip, "user_agent": user_agent, "values": values})
    return hmac.new(_personal_key(), doc.encode(), hashlib.sha256).hexdigest()


@dataclass
class _Pending:
    action: str
    outcome: str
    resource_type: str | None
    resource_id: Any
    resource: Any
    changes: Any  # masked, personal values replaced by `[personal]`
    personal: dict[str, Any]  # the masked personal values, by JSON pointer
    ctx: context.ActorContext
    occurred_at: datetime


def _actor(actor_id: str | None, actor_role: str | None) -> context.ActorContext:
    """The request's or job's context, with the actor given by the caller when there is one."""
    ctx = context.current()
    if actor_id is None and actor_role is None:
        return ctx
    return context.ActorContext(
        actor_id=actor_id if actor_id is not None else ctx.actor_id,
        actor_role=actor_role if actor_role is not None else ctx.actor_role,
        ip=ctx.ip,
        user_agent=ctx.user_agent,
        request_id=ctx.request_id,
    )


def record(
    session: Session,
    action: str,
    *,
    resource_type: str | None = None,
    resource_id: Any = None,
    resource: Any = None,
    changes: dict[str, Any] | None = None,
    outcome: str = "success",
    actor_id: str | None = None,
    actor_role: str | None = None,
) -> None:
    """Queue an audit record; it is written with the caller's transaction or not at all.

    `changes` is masked with the app's masks (`audit.masks`). `resource` may be a model with a
    `public_id` not yet assigned; the id is read when the record is written, after the flush.
    """
    hashed: Any = None
    personal: dict[str, Any] = {}
    if changes is not None:
        masks = current_masks()
        hashed, personal = masks.split(masks.mask(changes))
    uow.of(session).stage(
        _write_records,
        _Pending(
            action=action,
            outcome=outcome,
            resource_type=resource_type,
            resource_id=resource_id,
            resource=resource,
            changes=hashed,
            personal=personal,
            ctx=_actor(actor_id, actor_role),
            occurred_at=utcnow(),
        ),
    )


def _failure(session: Session, action: str, where: dict[str, Any]) -> Callable[[], None]:
    """Stage the `failure` record of `action` (`where`: `record`'s keyword arguments)."""
    return lambda: record(session, action, outcome="failure", **where)


def fail(session: Session, exc: Exception, action: str, **where: Any) -> NoReturn:
    """Keep a failed attempt as a `failure` record, commit the unit as it stands, raise `exc`.

    Unlike `refuse`, what the use case changed before failing is kept on purpose (a failed
    login's count, a lockout). `where` takes `record`'s keyword arguments (`resource`, …).
    """
    uow.of(session).fail(exc, _failure(session, action, where))


def refuse(
    session: Session,
    exc: Exception,
    action: str,
    *,
    also: Callable[[], object] | None = None,
    **where: Any,
) -> NoReturn:
    """Roll the change back, keep the refusal as a `failure` record, commit that, raise `exc`.

    `also()`, when given, writes what the refusal keeps besides its record (an alert), before
    the record is staged.
    """
    failure = _failure(session, action, where)

    def keep() -> None:
        if also is not None:
            also()
        failure()

    uow.of(session).refuse(exc, keep)


# --- writing: the unit of work's hook ----------------------------------------------------------


def _resolve_resource_id(item: _Pending) -> str | None:
    value = item.resource_id
    if value is None and item.resource is not None:
        value = getattr(item.resource, "public_id", None)
    return str(value) if value is not None else None


def _build_row(item: _Pending) -> dict[str, Any]:
    ip = item.ctx.ip
    user_agent = (item.ctx.user_agent or None) and item.ctx.user_agent[:512]
    row: dict[str, Any] = {
        "public_id": uuid.uuid4(),
        "occurred_at": item.occurred_at,
        "actor_id": item.ctx.actor_id,
        "actor_role": item.ctx.actor_role,
        "action": item.action,
        "resource_type": item.resource_type,
        "resource_id": _resolve_resource_id(item),
        "outcome": item.outcome,
        "ip": ip,
        "user_agent": user_agent,
        "request_id": item.ctx.request_id,
        "changes": canonical_json(item.changes) if item.changes is not None else None,
        "personal": item.personal or None,
        "personal_digest": personal_digest(ip, user_agent, item.personal),
    }
    row["digest"] = content_digest(row)
    return row


def _build_insert(dialect: str) -> sa.Insert:
    """The append, built once per dialect: `changes` goes in as its canonical text."""
    columns = log_table.c
    values: dict[str, Any] = {
        name: sa.bindparam(name, type_=columns[name].type) for name in _WRITTEN if name != "changes"
    }
    if dialect == "postgresql":
        values["changes"] = sa.cast(sa.bindparam("changes", type_=sa.Text), sa.JSON)
        values["txid"] = _TXID
    else:
        # SQLite keeps JSON as text: the canonical text is stored as it is.
        values["changes"] = sa.type_coerce(sa.bindparam("changes", type_=sa.Text), sa.Text)
        values["txid"] = sa.literal(0, sa.BigInteger)
    return sa.insert(log_table).values(**values)


_INSERTS: dict[str, sa.Insert] = {}


def _write_records(session: Session, pending: list[_Pending]) -> None:
    """Write staged records (the unit of work calls it after the flush: new ids are known)."""
    conn = session.connection()
    dialect = conn.dialect.name
    insert = _INSERTS.get(dialect)
    if insert is None:
        insert = _INSERTS[dialect] = _build_insert(dialect)
    conn.execute(insert, [_build_row(item) for item in pending])
    if dialect != "postgresql":
        # The embedded database has one writer at a time: seal in the same transaction.
        seal_batch(conn, xmin=None, limit=None)


@uow.composes(_write_records)
def _compose_records(session: Session, pending: list[_Pending]) -> list[uow.Part]:
    """The records as one multi-row insert, to run with the unit's other writes (PostgreSQL)."""
    rows = []
    for item in pending:
        row = _build_row(item)
        rows.append({name: row[name] for name in _WRITTEN})
    return [
        uow.insert_rows(
            log_table,
            rows,
            expressions={
                "changes": lambda name: sa.cast(sa.bindparam(name, type_=sa.Text), sa.JSON)
            },
            constants={"txid": _TXID},
        )
    ]
