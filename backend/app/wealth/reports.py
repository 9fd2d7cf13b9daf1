"""The weekly wealth e-mail, sent through the e-mail outbox."""

from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.mail import queue_email
from app.auth.models import EmailOutbox, User
from app.core import uow
from app.core.db import utcnow
from app.wealth.models import LinkedAccount, LinkStatus
from app.wealth.summary import summary

log = logging.getLogger("flowlet.wealth")

KIND = "wealth_weekly"


def render(data: dict) -> str:
    """The plain-text body of a report built from `summary.summary()`."""
    lines = [
        f"Your net worth on {data['as_of'].isoformat()}: {data['total']} {data['base_currency']}",
        "",
        "By account:",
    ]
    for account in data["accounts"]:
        value = account["value"] if account["value"] is not None else "no rate"
        lines.append(f"  {account['name']}: {account['balance']} {account['currency']} ({value})")
    lines += ["", "By asset class:"]
    lines += [f"  {c['asset_class']}: {c['value']}" for c in data["asset_classes"]]
    if data["missing_rates"]:
        lines += ["", "Not converted (no rate): " + ", ".join(data["missing_rates"])]
    return "\n".join(lines) + "\n"


def queue_weekly_reports(session: Session) -> int:
    """One report per customer with a linked account, unless one went out in the last 6 days."""
    since = utcnow() - timedelta(days=6)
    recent = (
        sa.select(EmailOutbox.id)
        .where(
            EmailOutbox.user_id == User.id,
            EmailOutbox.kind == KIND,
            EmailOutbox.created_at >= since,
        )
        .exists()
    )
    user_ids = list(
        session.scalars(
            sa.select(User.id)
            .where(
                User.is_active.is_(True),
                sa.exists().where(
                    LinkedAccount.user_id == User.id,
                    LinkedAccount.status != LinkStatus.DELETED.value,
                ),
                ~recent,
            )
            .order_by(User.id)
        )
    )
    for user_id in user_ids:
        user = session.get(User, user_id)
        if user is None:  # erased since the list was read
            continue
        queue_email(
            session,
            to=user.email,
            subject="Your weekly Flowlet wealth report",
            body=render(summary(session, user=user)),
            kind=KIND,
            user_id=user.id,
        )
        uow.commit(session)  # one report per unit of work: a failure stops no one else's
    log.info("queued %d weekly wealth reports", len(user_ids))
    return len(user_ids)
