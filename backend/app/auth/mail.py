"""The e-mail outbox: messages sealed at rest, delivered by an RQ job over SMTP.

Every public function is one use case and owns its unit of work (it commits), except the
helpers documented as flushing only. Failed security events are audited in a transaction that
commits before the error is raised.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

import sqlalchemy as sa
from flask import current_app
from rq import Retry
from sqlalchemy.orm import Session

from app.auth.models import EmailOutbox, User
from app.auth.one_time import VERIFY_EMAIL, issue_one_time
from app.auth.tokens import now
from app.core import crypto, uow
from app.core.db import for_update
from app.core.extensions import db
from app.core.queue import enqueue, task

# --- e-mail outbox -----------------------------------------------------------------------------

log = logging.getLogger("flowlet.auth")

_OUTBOX_AAD = b"email_outbox"


def seal_body(body: str) -> str:
    """An e-mail body as the outbox keeps it: encrypted, bound to the outbox."""
    return crypto.encrypt_str(body, aad=_OUTBOX_AAD)


def queue_email(
    session: Session, *, to: str, subject: str, body: str, kind: str, user_id: int | None = None
) -> EmailOutbox:
    """Put an e-mail in the outbox; it is sent by a job after the transaction commits."""
    message = EmailOutbox(
        user_id=user_id,
        to_address=to,
        subject=subject,
        kind=kind,
        body_encrypted=seal_body(body),
        status="pending",
        attempts=0,
        created_at=now(),
    )
    session.add(message)
    session.flush()
    enqueue(
        session,
        send_outbox_email,
        message.id,
        queue="notifications",
        retry=Retry(max=3, interval=[10, 60, 300]),
        owner_id=user_id,
    )
    return message


def link(path: str, token: str) -> str:
    return f"{current_app.config['FRONTEND_URL']}{path}?token={token}"


def _mask_address(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def deliver_email(session: Session, *, outbox_id: int) -> str:
    """Send one outbox message through SMTP (or log it without SMTP); returns its status."""
    message = session.scalar(for_update(sa.select(EmailOutbox).where(EmailOutbox.id == outbox_id)))
    if message is None or message.status in {"sent", "logged"}:
        session.rollback()
        return message.status if message else "missing"
    config = current_app.config
    body = crypto.decrypt_str(message.body_encrypted, aad=_OUTBOX_AAD)
    message.attempts += 1
    if not config.get("SMTP_HOST"):
        if config["FLOWLET_ENV"] == "development":
            log.info(
                "e-mail (SMTP_HOST unset, development: logged, not sent)",
                extra={"to": message.to_address, "subject": message.subject, "email_body": body},
            )
        else:
            log.warning(
                "e-mail not sent: SMTP_HOST is unset",
                extra={"to": _mask_address(message.to_address), "subject": message.subject},
            )
        message.status = "logged"
        message.sent_at = now()
        uow.commit(session)
        return message.status
    email = EmailMessage()
    email["From"] = config["SMTP_FROM"]
    email["To"] = message.to_address
    email["Subject"] = message.subject
    email.set_content(body)
    try:
        with smtplib.SMTP(
            config["SMTP_HOST"], config["SMTP_PORT"], timeout=config["SMTP_TIMEOUT"]
        ) as smtp:
            if config["SMTP_STARTTLS"]:
                smtp.starttls()
            if config.get("SMTP_USERNAME"):
                smtp.login(config["SMTP_USERNAME"], config.get("SMTP_PASSWORD") or "")
            smtp.send_message(email)
    except (OSError, smtplib.SMTPException) as exc:
        message.status = "failed"
        message.last_error = type(exc).__name__
        uow.commit(session)
        log.warning(
            "e-mail delivery failed",
            extra={"to": _mask_address(message.to_address), "error": type(exc).__name__},
        )
        raise
    message.status = "sent"
    message.sent_at = now()
    message.last_error = None
    uow.commit(session)
    return message.status


@task
def send_outbox_email(outbox_id: int) -> str:
    """Deliver one message from the e-mail outbox (SMTP, or the log without SMTP)."""
    try:
        return deliver_email(db.session(), outbox_id=outbox_id)
    finally:
        db.session.remove()


def send_verification(session: Session, user: User) -> None:
    token = issue_one_time(
        session,
        user=user,
        purpose=VERIFY_EMAIL,
        seconds=current_app.config["EMAIL_VERIFICATION_SECONDS"],
    )
    queue_email(
        session,
        to=user.email,
        subject="Confirm your e-mail address",
        body=(
            f"Hello {user.first_name},\n\nconfirm your e-mail address for Flowlet:\n"
            f"{link('/verify-email', token)}\n\nIf you did not sign up, ignore this message.\n"
        ),
        kind=VERIFY_EMAIL,
        user_id=user.id,
    )
