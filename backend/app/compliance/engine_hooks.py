"""The one place compliance meets the movement engine: its policies and observers.

`init_app` registers with the engine (`app.ledger.engine`):

- observer `review_alerts` (every kind): a movement held for review raises an alert; its
  approval or rejection resolves that alert;
- policy `sanctions_beneficiary` (transfers): the beneficiary name of a transfer to an IBAN is
  screened before the transfer is accepted; a hit holds it for review (`Review`) and raises a
  `sanctions_hit` alert in the same transaction;
- observer `aml_monitoring` (every kind): each customer side of a posting becomes an
  `aml.rules.Posting` and goes through `aml.monitor.observe_movement` in the movement's own
  transaction.

The translation from the engine's context to compliance terms lives in `posting_sides` and
`beneficiary_of`, so that a change in the engine's shapes is one edit here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from app.compliance import sanctions
from app.compliance.alerts import (
    raise_transaction_alert,
    resolve_transaction_alerts,
)
from app.compliance.aml.facts import already_observed, parse_window_facts, window_facts_read
from app.compliance.aml.journal import MONITORED_STATUSES, UNMONITORED_KINDS, country_of
from app.compliance.aml.monitor import observe_movement
from app.compliance.aml.rules import IN, OUT, OWN, Posting
from app.compliance.aml.versions import current_settings
from app.ledger import engine
from app.ledger.accounts import Account
from app.ledger.engine import PolicyContext, Review
from app.ledger.models import JournalTransaction
from app.ledger.movement import Movement

# Events after which money has moved or is committed to move: posted, placed on hold (an
# external transfer before settlement, a card authorization), held for review (an attempt), or
# approved. Each customer side is monitored once, at the first of these.
MONITORED_EVENTS = frozenset({"completed", "held", "review", "approved", "captured"})


def _meta(movement: Movement) -> Mapping[str, Any]:
    return getattr(movement, "metadata", None) or {}


def beneficiary_of(movement: Movement) -> tuple[str | None, str | None]:
    """(name, IBAN) of an outside beneficiary, or (None, None) for an internal movement."""
    meta = _meta(movement)
    iban = meta.get("counterparty_iban") or meta.get("to_iban")
    name = meta.get("beneficiary_name")
    return (name, iban) if iban and name else (None, None)


def posting_sides(
    ctx: PolicyContext, txn: JournalTransaction | _Numbered
) -> Iterator[tuple[Posting, Account]]:
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
    for account, direction, other in ((debit, OUT, credit), (credit, IN, debit)):
        if account is None or account.user_id is None or account.system_code:
            continue
        counterparty = (
            OWN
            if own
            else (
                meta.get("counterparty_iban")
                or (str(other.public_id) if other is not None and other.user_id else None)
            )
        )
        yield (
            Posting(
                transaction_id=txn.id,
                user_id=account.user_id,
                account_id=account.id,
                kind=movement.kind,
                direction=direction,
                amount=movement.amount,
                currency=movement.currency,
                at=at,
                channel=meta.get("channel"),
                country=country_of(meta),
                counterparty=counterparty,
            ),
            account,
        )


@dataclass(frozen=True)
class _Numbered:
    """A movement's transaction before it is written: its id, taken with the customer's lock."""

    id: int


_FACTS = "aml_facts"  # ctx.shared: (postings, window facts, settings) read before the policies


def aml_facts(ctx: PolicyContext) -> engine.Facts | None:
    """Engine facts reader: the AML window aggregates of the movement's customer sides, read
    with its other facts when its transaction's id is known (PostgreSQL) and the observer will
    run (`execute` and `reverse` end in a monitored event unless refused)."""
    if ctx.transaction_id is None or ctx.movement.kind in UNMONITORED_KINDS:
        return None
    postings = [p for p, _ in posting_sides(ctx, _Numbered(ctx.transaction_id))]
    if not postings:
        return None
    settings = current_settings(ctx.session)
    statement, params = window_facts_read(postings, settings)

    def take(row: Sequence[Any]) -> None:
        ctx.shared[_FACTS] = (postings, parse_window_facts(row), settings)

    return engine.Facts(("aml", len(postings)), lambda: statement, params, take)


def aml_observer(ctx: PolicyContext, txn: JournalTransaction) -> None:
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
        if ctx.event not in ("approved", "captured") or not already_observed(ctx.session, posting)
    ]
    read = ctx.shared.get(_FACTS)
    if read is not None and read[0] == [p for p, _ in sides]:  # the rules' settings with them
        observe_movement(ctx.session, sides, facts=read[1], settings=read[2])
    else:
        observe_movement(ctx.session, sides)


def screen_beneficiary(
    session: Session, *, user_id: int | None, name: str, iban: str | None
) -> list[sanctions.ScreeningMatch]:
    """Screen an IBAN beneficiary's name; on a hit raise a `sanctions_hit` alert (flushes)."""
    matches = sanctions.screen(
        session,
        name=name,
        country=(iban or "")[:2] or None,
        subject="beneficiary" if user_id is not None else None,
        context="transfer",
        user_id=user_id,
    )
    if not matches:
        return []
    sanctions.alert_hit(
        session,
        user_id=user_id,
        matches=matches,
        lead=f"Transfer to {name} ({iban}): the beneficiary matches",
        tail="; the transfer is held",
        context="beneficiary",
        iban=iban,
    )
    return matches


def sanctions_policy(ctx: PolicyContext) -> Review | None:
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


def observe_reviews(ctx: PolicyContext, txn: JournalTransaction) -> None:
    """Engine observer: alert on a movement held for review; close it when decided."""
    if ctx.event == "review":
        raise_transaction_alert(
            ctx.session,
            user_id=ctx.customer.id if ctx.customer else None,
            transaction=txn,
            score=txn.risk_score,
            rules=list(txn.risk_rules or []),
        )
    elif ctx.event in ("approved", "rejected"):
        resolve_transaction_alerts(
            ctx.session,
            transaction_id=txn.id,
            resolution=ctx.event,
            officer_id=ctx.movement.initiator_id,
            notes=ctx.movement.metadata.get("notes"),
        )


def init_app(app: Flask) -> None:
    """Register the compliance policies and observers with the movement engine."""
    engine.register_observer(app, "review_alerts", observe_reviews)
    engine.register_policy(app, "sanctions_beneficiary", sanctions_policy, kinds={"transfer"})
    engine.register_facts(app, "aml_monitoring", aml_facts)
    engine.register_observer(app, "aml_monitoring", aml_observer)
