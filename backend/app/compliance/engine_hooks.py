"""The one place compliance meets the movement engine: its policies and observers.

`init_app` registers with the engine (`app.ledger.engine`):

- policy `sanctions_beneficiary` (transfers): the beneficiary name of a transfer to an IBAN is
  screened before the transfer is accepted; a hit holds it for review (`Review`) and raises a
  `sanctions_hit` alert in the same transaction;
- observer `aml_monitoring` (every kind): each customer side of a posting becomes an
  `aml.Posting` and goes through `aml.observe` in the movement's own transaction.

The translation from the engine's context to compliance terms lives in `posting_sides` and
`beneficiary_of`, so that a change in the engine's shapes is one edit here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm
from flask import Flask
from sqlalchemy.orm import Session

from app.compliance import aml, sanctions
from app.compliance.alerts import raise_alert
from app.compliance.models import Severity
from app.ledger import engine
from app.ledger.accounts import Account
from app.ledger.engine import Review
from app.ledger.models import JournalTransaction

# Events after which money has moved or is committed to move: posted, placed on hold (an
# external transfer before settlement, a card authorization), held for review (an attempt), or
# approved. Each customer side is monitored once, at the first of these.
MONITORED_EVENTS = frozenset({"completed", "held", "review", "approved", "captured"})
MONITORED_STATUSES = frozenset({"completed", "pending", "pending_review"})
# Bank-side bookings that are not a customer's own payments.
UNMONITORED_KINDS = frozenset({"reversal", "fee"})


def _meta(movement: Any) -> Mapping[str, Any]:
    return getattr(movement, "metadata", None) or {}


def beneficiary_of(movement: Any) -> tuple[str | None, str | None]:
    """(name, IBAN) of an outside beneficiary, or (None, None) for an internal movement."""
    meta = _meta(movement)
    iban = meta.get("counterparty_iban") or meta.get("to_iban")
    name = meta.get("beneficiary_name")
    return (name, iban) if iban and name else (None, None)


def _country(meta: Mapping[str, Any]) -> str | None:
    country = meta.get("country")
    if country:
        return str(country).upper()[:2]
    iban = meta.get("counterparty_iban") or meta.get("to_iban")
    return str(iban)[:2].upper() if iban else None


def posting_sides(ctx: Any, txn: Any) -> Iterator[tuple[aml.Posting, Any]]:
    """The customer sides of a posted movement: (posting, account) pairs."""
    movement = ctx.movement
    meta = _meta(movement)
    debit, credit = ctx.debit, ctx.credit
    own = (
        debit is not None
        and credit is not None
        and debit.user_id is not None
        and debit.user_id == credit.user_id
    )
    at = ctx.now
    for account, direction, other in ((debit, aml.OUT, credit), (credit, aml.IN, debit)):
        if account is None or account.user_id is None or account.system_code:
            continue
        counterparty = (
            aml.OWN
            if own
            else (
                meta.get("counterparty_iban")
                or (str(other.public_id) if other is not None and other.user_id else None)
            )
        )
        yield (
            aml.Posting(
                transaction_id=txn.id,
                user_id=account.user_id,
                account_id=account.id,
                kind=movement.kind,
                direction=direction,
                amount=movement.amount,
                currency=movement.currency,
                at=at,
                channel=meta.get("channel"),
                country=_country(meta),
                counterparty=counterparty,
            ),
            account,
        )


@dataclass(frozen=True)
class _Numbered:
    """A movement's transaction before it is written: its id, taken with the customer's lock."""

    id: int


_FACTS = "aml_facts"  # ctx.shared: (postings, their window facts) read before the policies


def aml_facts(ctx: Any) -> engine.Facts | None:
    """Engine facts reader: the AML window aggregates of the movement's customer sides, read
    with its other facts when its transaction's id is known (PostgreSQL) and the observer will
    run (`execute` and `reverse` end in a monitored event unless refused)."""
    if ctx.transaction_id is None or ctx.movement.kind in UNMONITORED_KINDS:
        return None
    postings = [p for p, _ in posting_sides(ctx, _Numbered(ctx.transaction_id))]
    if not postings:
        return None
    statement, params = aml.window_facts_read(postings, aml.Settings.from_config())

    def take(row: Any) -> None:
        ctx.shared[_FACTS] = (postings, aml.parse_window_facts(row))

    return engine.Facts(("aml", len(postings)), lambda: statement, params, take)


def aml_observer(ctx: Any, txn: Any) -> None:
    """Engine observer: every customer side of a movement goes through the AML rules once."""
    if ctx.event not in MONITORED_EVENTS or txn.status not in MONITORED_STATUSES:
        return
    if txn.type in UNMONITORED_KINDS:
        return
    if txn.id is None:  # the ORM posting path (SQLite) flushes later
        ctx.session.flush()
    sides = [
        (posting, getattr(account, "created_at", None))
        for posting, account in posting_sides(ctx, txn)
        if ctx.event not in ("approved", "captured")
        or not aml.already_observed(ctx.session, posting)
    ]
    read = ctx.shared.get(_FACTS)
    facts = read[1] if read is not None and read[0] == [p for p, _ in sides] else None
    aml.observe_movement(ctx.session, sides, facts=facts)


def ledger_last_activity(session: Session, *, account_id: int, before: datetime) -> datetime:
    """When the account last moved money before `before` per the journal, else its opening.

    Two index look-ups (`from_account_id`/`to_account_id`, `created_at`), one row each.
    """
    times = [
        session.scalar(
            sa.select(JournalTransaction.created_at)
            .where(column == account_id, JournalTransaction.created_at < before)
            .order_by(JournalTransaction.created_at.desc())
            .limit(1)
        )
        for column in (JournalTransaction.from_account_id, JournalTransaction.to_account_id)
    ]
    found = [t for t in times if t is not None]
    if found:
        return max(found)
    return session.scalar(sa.select(Account.created_at).where(Account.id == account_id))


def _sides(start: datetime, end: datetime) -> list[sa.Select]:
    """Each customer side of the journal's movements in [start, end) (debit, then credit)."""
    sides = []
    for direction, account_column, other_column in (
        (aml.OUT, JournalTransaction.from_account_id, JournalTransaction.to_account_id),
        (aml.IN, JournalTransaction.to_account_id, JournalTransaction.from_account_id),
    ):
        mine, other = sa.orm.aliased(Account), sa.orm.aliased(Account)
        sides.append(
            sa.select(
                JournalTransaction.id.label("transaction_id"),
                mine.user_id.label("user_id"),
                mine.id.label("account_id"),
                JournalTransaction.type.label("kind"),
                sa.literal(direction).label("direction"),
                JournalTransaction.amount.label("amount"),
                JournalTransaction.currency.label("currency"),
                JournalTransaction.created_at.label("at"),
                JournalTransaction.attributes.label("attributes"),
                JournalTransaction.counterparty_iban.label("iban"),
                other.user_id.label("other_user_id"),
                other.public_id.label("other_public_id"),
            )
            .join(mine, mine.id == account_column)
            .outerjoin(other, other.id == other_column)
            .where(
                mine.user_id.is_not(None),
                JournalTransaction.created_at >= start,
                JournalTransaction.created_at < end,
                JournalTransaction.status.in_(sorted(MONITORED_STATUSES | {"reversed"})),
                JournalTransaction.type.not_in(sorted(UNMONITORED_KINDS)),
            )
        )
    return sides


def ledger_customers(session: Session, *, start: datetime, end: datetime) -> list[int]:
    """The customers with movements in [start, end), by id."""
    union = sa.union_all(*_sides(start, end)).subquery()
    return list(session.scalars(sa.select(union.c.user_id).distinct().order_by(union.c.user_id)))


def ledger_postings(
    session: Session, *, user_id: int, start: datetime, end: datetime
) -> list[aml.Posting]:
    """One customer's sides of the journal's movements in [start, end), in time order.

    What the batch reads: the journal itself (completed, pending and held movements), so it
    judges the period as the ledger records it.
    """
    union = sa.union_all(*_sides(start, end)).subquery()
    rows = session.execute(
        sa.select(union)
        .where(union.c.user_id == user_id)
        .order_by(union.c.at, union.c.transaction_id)
    )
    postings = []
    for row in rows:
        meta = dict(row.attributes or {})
        if row.iban:
            meta["counterparty_iban"] = row.iban
        own = row.other_user_id is not None and row.other_user_id == row.user_id
        counterparty = row.iban or (str(row.other_public_id) if row.other_user_id else None)
        postings.append(
            aml.Posting(
                transaction_id=row.transaction_id,
                user_id=row.user_id,
                account_id=row.account_id,
                kind=row.kind,
                direction=row.direction,
                amount=row.amount,
                currency=row.currency,
                at=row.at,
                channel=meta.get("channel"),
                country=_country(meta),
                counterparty=aml.OWN if own else counterparty,
            )
        )
    return postings


def screen_beneficiary(
    session: Any, *, user_id: int | None, name: str, iban: str | None
) -> list[sanctions.ScreeningMatch]:
    """Screen an IBAN beneficiary's name; on a hit raise a `sanctions_hit` alert (flushes)."""
    matches = sanctions.screen(session, name=name, country=(iban or "")[:2] or None)
    if not matches:
        return []
    top = matches[0]
    raise_alert(
        session,
        user_id=user_id,
        alert_type="sanctions_hit",
        severity=Severity.CRITICAL.value,
        explanation=(
            f"Transfer to {name} ({iban}): the beneficiary matches {top.name} "
            f"({top.program}, score {top.score:.2f}); the transfer is held."
        ),
        details={
            "context": "beneficiary",
            "iban": iban,
            "matches": sanctions.matches_as_details(matches),
        },
        score=round(top.score * 100),
    )
    return matches


def sanctions_policy(ctx: Any) -> Any:
    """Engine policy: hold a transfer to a listed beneficiary for review, with an alert."""
    name, iban = beneficiary_of(ctx.movement)
    if not name:
        return None
    user_id = ctx.customer.id if ctx.customer is not None else ctx.movement.initiator_id
    matches = screen_beneficiary(ctx.session, user_id=user_id, name=name, iban=iban)
    if not matches:
        return None
    return Review(
        "sanctions_hit", 100, f"Beneficiary matches the sanctions list ({matches[0].program})."
    )


def init_app(app: Flask) -> None:
    """Register the compliance policies and observers with the movement engine."""
    engine.register_policy(app, "sanctions_beneficiary", sanctions_policy, kinds={"transfer"})
    engine.register_facts(app, "aml_monitoring", aml_facts)
    engine.register_observer(app, "aml_monitoring", aml_observer)
