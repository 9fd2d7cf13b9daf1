"""Linked accounts: link, list, sync, answer a 2FA challenge, unlink.

A sync talks to the broker outside any database transaction, then writes everything it learned
in one short unit of work under a lock on the linked account: one snapshot per outside account
and day (an upsert on the unique constraint, so a second sync that day or a retried job updates
it), that snapshot's positions replaced, and the linked account's status.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import sqlalchemy as sa
from flask import current_app
from rq import Retry
from sqlalchemy.orm import Session

from app.auth.models import User
from app.core import audit, uow
from app.core.db import utcnow
from app.core.money import exponent, is_currency
from app.core.queue import enqueue
from app.wealth import brokers, rates, vault
from app.wealth.errors import LinkedAccountNotFound, NoChallengePending
from app.wealth.integrations import (
    BrokerError,
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

SYNC_QUEUE = "sync"


# --- helpers ----------------------------------------------------------------------------------


def sync_retry() -> Retry | int:
    """Exponential backoff: `base × 4^n` seconds for each of the configured retries."""
    config = current_app.config
    base = int(config["WEALTH_SYNC_RETRY_BASE_SECONDS"])
    retries = int(config["WEALTH_SYNC_RETRIES"])
    return Retry(max=retries, interval=[base * 4**n for n in range(retries)]) if retries else 0


def _minor(value: Decimal, currency: str) -> int:
    return int(value.scaleb(exponent(currency)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def _own(session: Session, user: User, linked_account_id: uuid.UUID) -> LinkedAccount:
    link = session.scalar(
        sa.select(LinkedAccount).where(
            LinkedAccount.public_id == linked_account_id,
            LinkedAccount.user_id == user.id,
            LinkedAccount.status != LinkStatus.DELETED.value,
        )
    )
    if link is None:
        raise LinkedAccountNotFound()
    return link


def _enqueue_sync(session: Session, link: LinkedAccount, *, owner_id: int) -> str:
    from app.wealth.tasks import sync_linked_account

    job_id = enqueue(
        session,
        sync_linked_account,
        link.id,
        queue=SYNC_QUEUE,
        retry=sync_retry(),
        owner_id=owner_id,
    )
    link.last_job_id = job_id
    return job_id


# --- customer use cases -----------------------------------------------------------------------


def link_account(
    session: Session, *, user: User, broker_code: str, credentials: dict[str, Any]
) -> tuple[LinkedAccount, str]:
    """Validate and seal the credentials, and queue the first sync; returns (link, job id)."""
    broker = brokers.get_broker(session, code=broker_code)
    brokers.validate_credentials(broker, credentials)
    link = LinkedAccount(
        public_id=uuid.uuid4(),
        user_id=user.id,
        broker_id=broker.id,
        broker=broker,
        status=LinkStatus.PENDING.value,
    )
    session.add(link)
    session.flush()
    vault.store_credentials(session, link, credentials)
    job_id = _enqueue_sync(session, link, owner_id=user.id)
    audit.record(
        session,
        "wealth.linked_account.created",
        resource=link,
        resource_type="linked_account",
        changes={"broker": broker.code},
    )
    uow.commit(session)
    return link, job_id


def list_linked_accounts(session: Session, *, user: User) -> list[LinkedAccount]:
    """The caller's linked accounts, oldest first."""
    return list(
        session.scalars(
            sa.select(LinkedAccount)
            .where(
                LinkedAccount.user_id == user.id,
                LinkedAccount.status != LinkStatus.DELETED.value,
            )
            .order_by(LinkedAccount.created_at, LinkedAccount.id)
        )
    )


def get_linked_account(
    session: Session, *, user: User, linked_account_id: uuid.UUID
) -> LinkedAccount:
    """One of the caller's linked accounts (404 for anyone else's)."""
    return _own(session, user, linked_account_id)


def _in_flight(session: Session, job_id: str | None) -> bool:
    """Whether the job is still waiting (in the outbox or RQ, retries included) or running."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    from app.core.outbox import PENDING, SENT, JobOutbox
    from app.core.queue import get_redis

    row = session.get(JobOutbox, job_id) if job_id else None
    if row is None or row.status not in (PENDING, SENT):
        return False
    redis = get_redis()
    if redis is None:
        return row.status == PENDING
    try:
        status = Job.fetch(job_id, connection=redis).get_status(refresh=False)
    except NoSuchJobError:
        return row.status == PENDING  # not pushed yet
    return status in (
        JobStatus.QUEUED,
        JobStatus.STARTED,
        JobStatus.DEFERRED,
        JobStatus.SCHEDULED,
    )


def request_sync(session: Session, *, user: User, linked_account_id: uuid.UUID) -> str:
    """Queue a sync of one of the caller's linked accounts; returns the job id.

    While the previous sync job of the account is still queued or running, its id is
    returned instead of a second job.
    """
    link = _own(session, user, linked_account_id)
    if _in_flight(session, link.last_job_id):
        session.rollback()
        return link.last_job_id
    job_id = _enqueue_sync(session, link, owner_id=user.id)
    uow.commit(session)
    return job_id


def answer_challenge(
    session: Session, *, user: User, linked_account_id: uuid.UUID, code: str | None
) -> str:
    """Keep the 2FA answer sealed with the challenge state and queue the job that sends it."""
    from app.wealth.tasks import complete_linked_account_2fa

    link = _own(session, user, linked_account_id)
    session.refresh(link, with_for_update=True)
    state = vault.load_auth_state(session, link)
    if link.status != LinkStatus.PENDING_AUTH.value or state is None:
        raise NoChallengePending()
    # The code travels sealed in the database, never in the job's arguments or Redis.
    vault.store_auth_state(session, link, {**state, "code": code})
    job_id = enqueue(
        session,
        complete_linked_account_2fa,
        link.id,
        queue=SYNC_QUEUE,
        retry=sync_retry(),
        owner_id=user.id,
    )
    link.last_job_id = job_id
    audit.record(
        session, "wealth.linked_account.2fa_answered", resource=link, resource_type="linked_account"
    )
    uow.commit(session)
    return job_id


def unlink(session: Session, *, user: User, linked_account_id: uuid.UUID) -> None:
    """Unlink: credentials destroyed (and the data key once unused); snapshots leave totals."""
    link = _own(session, user, linked_account_id)
    session.refresh(link, with_for_update=True)
    vault.destroy(session, link)
    link.status = LinkStatus.DELETED.value
    link.deleted_at = utcnow()
    link.challenge = None
    audit.record(
        session,
        "wealth.linked_account.deleted",
        resource=link,
        resource_type="linked_account",
        changes={"credentials": "destroyed"},
    )
    uow.commit(session)


# --- the sync (run by jobs) -------------------------------------------------------------------


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
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(WealthSnapshot).values(**values)
    keys = ("linked_account_id", "account_ref", "snapshot_date")
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={k: stmt.excluded[k] for k in values if k not in keys},
    ).returning(WealthSnapshot.id)
    return session.execute(stmt).scalar_one()


def _store(session: Session, link_id: int, fetched: list[Fetched]) -> dict[str, Any] | None:
    link = _locked_live(session, link_id)
    if link is None:
        return None
    owner = session.get(User, link.user_id)
    base_currency = owner.base_currency
    now = utcnow()
    today = now.date()
    snapshots = []
    for item in fetched:
        rate = _rate(session, item.currency, base_currency, today)
        balance = _minor(item.amount, item.currency)
        snapshot_id = _upsert_snapshot(
            session,
            {
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
            },
        )
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
        snapshots.append(item.account.ref)
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
        changes={"status": [before, link.status], "accounts": len(snapshots)},
    )
    uow.commit(session)
    return {"status": link.status, "accounts": len(snapshots), "date": today.isoformat()}


def sync(session: Session, *, linked_account_id: int, answer_2fa: bool = False) -> dict[str, Any]:
    """Log in at the broker (or answer its 2FA challenge), fetch, and store today's snapshots.

    Returns what the job reports. A broker error marks the account `error` and is raised again
    so that the job is retried; refused credentials mark it `error` without a retry; a 2FA
    challenge marks it `pending_auth`.
    """
    link = session.get(LinkedAccount, linked_account_id)
    if link is None or link.status == LinkStatus.DELETED.value:
        session.rollback()
        return {"status": "skipped", "reason": "linked account removed"}
    try:
        credentials = vault.load_credentials(session, link)
        state = vault.load_auth_state(session, link) if answer_2fa else None
    except vault.VaultError:
        session.rollback()
        return {"status": "skipped", "reason": "no credentials"}
    if answer_2fa and state is None:
        session.rollback()
        return {"status": "skipped", "reason": "no challenge pending"}
    integration = integration_for(link.broker.integration_type, _settings(link), credentials)
    link_id_str = str(link.public_id)
    session.rollback()  # no transaction stays open while the broker is talked to
    del credentials
    try:
        if answer_2fa:
            code = state.pop("code", None)
            integration.complete_2fa(state, code)
        else:
            integration.authenticate()
        fetched = _fetch(integration)
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
        log.exception("broker sync failed unexpectedly", extra={"linked_account": link_id_str})
        _set_status(
            session,
            linked_account_id,
            LinkStatus.ERROR,
            error="The broker's answer could not be read.",
            keep_auth_state=True,
        )
        raise
    finally:
        integration.close()
    try:
        result = _store(session, linked_account_id, fetched)
    except BrokerError as exc:
        session.rollback()
        _set_status(session, linked_account_id, LinkStatus.ERROR, error=exc.message)
        raise
    return result or {"status": "skipped", "reason": "linked account removed"}


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


def enqueue_daily_syncs(session: Session) -> int:
    """Queue one sync job per live linked account (the daily schedule); returns how many."""
    count = 0
    for link_id in live_linked_account_ids(session):
        link = session.get(LinkedAccount, link_id)
        _enqueue_sync(session, link, owner_id=link.user_id)
        count += 1
    uow.commit(session)
    log.info("queued %d daily broker syncs", count)
    return count
