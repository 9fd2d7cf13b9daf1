"""The sync of a linked account, run by jobs (`tasks.py`); the use cases are in `services.py`.

A sync talks to the broker outside any database transaction, then writes everything it learned
in one short unit of work under a lock on the linked account: one snapshot per outside account
and day (an upsert on the unique constraint, so a second sync that day or a retried job updates
it), that snapshot's positions replaced, and the linked account's status.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.auth.models import User
from app.core import audit, events, uow
from app.core.db import utcnow
from app.core.money import exponent, is_currency
from app.wealth import rates, vault
from app.wealth.integrations import (
    BrokerError,
    BrokerIntegration,
    BrokerSettings,
    ExternalAccount,
    InvalidCredentials,
    Position,
    TwoFactorRequired,
    integration_for,
)
from app.wealth.models import (
    LinkedAccount,
    LinkStatus,
    WealthPosition,
    WealthSnapshot,
)

log = logging.getLogger("flowlet.wealth")


def _minor(value: Decimal, currency: str) -> int:
    return int(value.scaleb(exponent(currency)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


# --- the sync ---------------------------------------------------------------------------------


@dataclass
class Fetched:
    account: ExternalAccount
    amount: Decimal
    currency: str
    positions: list[Position]


def _settings(link: LinkedAccount) -> BrokerSettings:
    return BrokerSettings(code=link.broker.code, settings=dict(link.broker.settings or {}))


def _locked_live(session: Session, link_id: int) -> LinkedAccount | None:
    link = session.scalar(
        sa.select(LinkedAccount)
        .where(LinkedAccount.id == link_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if link is None or link.status == LinkStatus.DELETED.value:
        session.rollback()
        return None
    return link


def _set_status(
    session: Session,
    link_id: int,
    status: LinkStatus,
    *,
    error: str | None = None,
    challenge: TwoFactorRequired | None = None,
    keep_auth_state: bool = False,
) -> None:
    link = _locked_live(session, link_id)
    if link is None:
        return
    before = link.status
    link.status = status.value
    link.last_error = error[:500] if error else None
    if challenge is not None:
        link.challenge = challenge.challenge[:500]
        vault.store_auth_state(session, link, challenge.state)
    elif not keep_auth_state:
        link.challenge = None
        vault.store_auth_state(session, link, None)
    audit.record(
        session,
        f"wealth.linked_account.{status.value}",
        resource=link,
        resource_type="linked_account",
        changes={"status": [before, status.value], **({"error": error[:200]} if error else {})},
        outcome="failure" if status is LinkStatus.ERROR else "success",
    )
    if status in (LinkStatus.ERROR, LinkStatus.PENDING_AUTH):
        _sync_event(session, link)
    uow.commit(session)


def _fetch(integration) -> list[Fetched]:
    out = []
    for account in integration.accounts():
        balance = integration.balance(account)
        currency = (balance.currency or account.currency or "").upper()
        if not is_currency(currency):
            raise BrokerError(f"The broker reported an unknown currency {currency!r}.")
        out.append(Fetched(account, balance.amount, currency, integration.positions(account)))
    return out


def _rate(session: Session, base: str, quote: str, day: date) -> rates.Rate:
    try:
        return rates.rate_for(session, base=base, quote=quote, day=day)
    except rates.RatesUnavailable:
        try:
            rates.fetch_day(session, day=day)
        except rates.RatesServiceError as exc:
            raise BrokerError(f"No {base}/{quote} exchange rate is available: {exc}") from exc
        return rates.rate_for(session, base=base, quote=quote, day=day)


def _upsert_snapshot(session: Session, values: dict[str, Any]) -> int:
    on_postgresql = session.get_bind().dialect.name == "postgresql"
    insert = postgresql.insert if on_postgresql else sqlite.insert
    stmt = insert(WealthSnapshot).values(**values)
    keys = ("linked_account_id", "account_ref", "snapshot_date")
    upsert = stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={k: stmt.excluded[k] for k in values if k not in keys},
    ).returning(WealthSnapshot.id)
    return session.execute(upsert).scalar_one()


def _store(session: Session, link_id: int, fetched: list[Fetched]) -> dict[str, Any] | None:
    """Today's snapshots and their positions, and the link active again, in one unit of work."""
    link = _locked_live(session, link_id)
    if link is None:
        return None
    owner = session.get(User, link.user_id)
    if owner is None:  # the foreign key keeps the owner while the link exists
        raise RuntimeError(f"linked account {link.id} has no owner")
    now = utcnow()
    for item in fetched:
        values = _snapshot_values(session, link, item, owner.base_currency, now)
        snapshot_id = _upsert_snapshot(session, values)
        _replace_positions(session, snapshot_id, item)
    _mark_synced(session, link, now, accounts=len(fetched))
    uow.commit(session)
    return {"status": link.status, "accounts": len(fetched), "date": now.date().isoformat()}


def _snapshot_values(
    session: Session, link: LinkedAccount, item: Fetched, base_currency: str, now: datetime
) -> dict[str, Any]:
    """The snapshot row of one outside account today, valued at today's rate."""
    today = now.date()
    rate = _rate(session, item.currency, base_currency, today)
    balance = _minor(item.amount, item.currency)
    return {
        "linked_account_id": link.id,
        "account_ref": item.account.ref[:64],
        "account_name": item.account.name[:120],
        "snapshot_date": today,
        "balance": balance,
        "currency": item.currency,
        "base_currency": base_currency,
        "base_value": rates.convert_minor(
            balance, from_currency=item.currency, to_currency=base_currency, rate=rate.rate
        ),
        "rate": rate.rate,
        "rate_date": rate.rate_date,
        "synced_at": now,
    }


def _replace_positions(session: Session, snapshot_id: int, item: Fetched) -> None:
    """The snapshot's positions as the broker reports them now (a position's unknown currency
    is the account's)."""
    session.execute(sa.delete(WealthPosition).where(WealthPosition.snapshot_id == snapshot_id))
    for p in item.positions:
        currency = p.currency.upper() if is_currency(p.currency.upper()) else item.currency
        session.add(
            WealthPosition(
                snapshot_id=snapshot_id,
                symbol=p.symbol[:32],
                isin=(p.isin or None) and p.isin[:12],
                name=(p.name or None) and p.name[:200],
                quantity=p.quantity,
                price=p.price,
                value=_minor(p.value, currency),
                cost_basis=_minor(p.cost_basis, currency) if p.cost_basis is not None else None,
                currency=currency,
                asset_class=p.asset_class,
            )
        )


def _mark_synced(session: Session, link: LinkedAccount, now: datetime, *, accounts: int) -> None:
    before = link.status
    link.status = LinkStatus.ACTIVE.value
    link.last_error = None
    link.challenge = None
    link.last_synced_at = now
    vault.store_auth_state(session, link, None)
    audit.record(
        session,
        "wealth.linked_account.synced",
        resource=link,
        resource_type="linked_account",
        changes={"status": [before, link.status], "accounts": accounts},
    )
    _sync_event(session, link, accounts=accounts)


def _sync_event(session: Session, link: LinkedAccount, *, accounts: int | None = None) -> None:
    """`sync.finished` for the customer: the link's status once a sync ends, well or not."""
    events.emit(
        session,
        "sync.finished",
        {"linked_account_id": str(link.public_id), "status": link.status, "accounts": accounts},
        user_id=link.user_id,
    )


class _Skipped(Exception):
    """The sync has nothing to do; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Broker:
    """The broker's integration with the credentials loaded, and no transaction open."""

    integration: BrokerIntegration
    state: dict[str, Any] | None  # the sealed 2FA challenge, when answering it
    link_ref: str  # the linked account's public id, for the log


def sync(session: Session, *, linked_account_id: int, answer_2fa: bool = False) -> dict[str, Any]:
    """Log in at the broker (or answer its 2FA challenge), fetch, and store today's snapshots.

    Returns what the job reports. A broker error marks the account `error` and is raised again
    so that the job is retried; refused credentials mark it `error` without a retry; a 2FA
    challenge marks it `pending_auth`.
    """
    try:
        broker = _open_broker(session, linked_account_id, answer_2fa)
    except _Skipped as skipped:
        return {"status": "skipped", "reason": skipped.reason}
    fetched = _fetch_from_broker(session, linked_account_id, broker)
    if isinstance(fetched, dict):  # a 2FA challenge, or refused credentials
        return fetched
    try:
        result = _store(session, linked_account_id, fetched)
    except BrokerError as exc:
        session.rollback()
        _set_status(session, linked_account_id, LinkStatus.ERROR, error=exc.message)
        raise
    return result or {"status": "skipped", "reason": "linked account removed"}


def _open_broker(session: Session, linked_account_id: int, answer_2fa: bool) -> _Broker:
    """The integration for the link, its credentials unsealed; the transaction is ended before
    the broker is talked to. Raises `_Skipped` when there is nothing to sync."""
    link = session.get(LinkedAccount, linked_account_id)
    if link is None or link.status == LinkStatus.DELETED.value:
        session.rollback()
        raise _Skipped("linked account removed")
    try:
        credentials = vault.load_credentials(session, link)
        state = vault.load_auth_state(session, link) if answer_2fa else None
    except vault.VaultError:
        session.rollback()
        raise _Skipped("no credentials") from None
    if answer_2fa and state is None:
        session.rollback()
        raise _Skipped("no challenge pending")
    integration = integration_for(link.broker.integration_type, _settings(link), credentials)
    link_ref = str(link.public_id)
    session.rollback()  # no transaction stays open while the broker is talked to
    del credentials
    return _Broker(integration, state, link_ref)


def _fetch_from_broker(
    session: Session, linked_account_id: int, broker: _Broker
) -> list[Fetched] | dict[str, Any]:
    """What the broker holds, or the job's answer when it asks for 2FA or refuses the login."""
    try:
        if broker.state is not None:
            code = broker.state.pop("code", None)
            broker.integration.complete_2fa(broker.state, code)
        else:
            broker.integration.authenticate()
        return _fetch(broker.integration)
    except TwoFactorRequired as challenge:
        _set_status(session, linked_account_id, LinkStatus.PENDING_AUTH, challenge=challenge)
        return {"status": LinkStatus.PENDING_AUTH.value, "challenge": challenge.challenge}
    except InvalidCredentials as exc:
        _set_status(session, linked_account_id, LinkStatus.ERROR, error=exc.message)
        return {"status": LinkStatus.ERROR.value, "error": exc.message}
    except BrokerError as exc:
        # A retried 2FA answer needs the sealed challenge state: keep it until it succeeds.
        _set_status(
            session, linked_account_id, LinkStatus.ERROR, error=exc.message, keep_auth_state=True
        )
        raise
    except Exception:
        # An answer the integration could not read: the customer sees a plain reason, the
        # log has the details (never the credentials), and the job is retried.
        log.exception("broker sync failed unexpectedly", extra={"linked_account": broker.link_ref})
        _set_status(
            session,
            linked_account_id,
            LinkStatus.ERROR,
            error="The broker's answer could not be read.",
            keep_auth_state=True,
        )
        raise
    finally:
        broker.integration.close()


def live_linked_account_ids(session: Session) -> list[int]:
    """Every linked account that a daily sync should visit (not removed, not awaiting 2FA)."""
    return list(
        session.scalars(
            sa.select(LinkedAccount.id)
            .where(
                LinkedAccount.status.in_(
                    [LinkStatus.PENDING.value, LinkStatus.ACTIVE.value, LinkStatus.ERROR.value]
                ),
                LinkedAccount.credentials_encrypted.is_not(None),
            )
            .order_by(LinkedAccount.id)
        )
    )
