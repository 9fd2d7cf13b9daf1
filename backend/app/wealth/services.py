"""Linked accounts: link, list, ask for a sync, answer a 2FA challenge, unlink.

The sync itself (the broker call, then one short unit of work of snapshots and positions) is in
`sync.py`; the jobs that run it, and the helper that queues them, are in `tasks.py`.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy.orm import Session

from app.auth.models import User
from app.core import audit, uow
from app.core.db import utcnow
from app.core.outbox import PENDING, SENT, JobOutbox
from app.core.queue import enqueue, get_redis
from app.wealth import brokers, vault
from app.wealth.errors import LinkedAccountNotFound, NoChallengePending
from app.wealth.models import LinkedAccount, LinkStatus
from app.wealth.tasks import SYNC_QUEUE, complete_linked_account_2fa, enqueue_sync, sync_retry

# --- helpers ----------------------------------------------------------------------------------


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
    job_id = enqueue_sync(session, link, owner_id=user.id)
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


def _in_flight(session: Session, job_id: str) -> bool:
    """Whether the job is still waiting (in the outbox or RQ, retries included) or running."""
    row = session.get(JobOutbox, job_id)
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
    if link.last_job_id is not None and _in_flight(session, link.last_job_id):
        session.rollback()
        return link.last_job_id
    job_id = enqueue_sync(session, link, owner_id=user.id)
    uow.commit(session)
    return job_id


def answer_challenge(
    session: Session, *, user: User, linked_account_id: uuid.UUID, code: str | None
) -> str:
    """Keep the 2FA answer sealed with the challenge state and queue the job that sends it."""
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
