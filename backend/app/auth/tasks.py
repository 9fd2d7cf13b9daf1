"""Background jobs of the identity domain."""

from __future__ import annotations

from app.core.queue import task


@task
def send_outbox_email(outbox_id: int) -> str:
    """Deliver one message from the e-mail outbox (SMTP, or the log without SMTP)."""
    from app.auth.mail import deliver_email
    from app.extensions import db

    try:
        return deliver_email(db.session, outbox_id=outbox_id)
    finally:
        db.session.remove()
