"""Background jobs of the identity domain.

`send_outbox_email` is defined beside the outbox it delivers, in `app.auth.mail`. Its name stays
importable here because jobs written before the move (queued in Redis, or waiting in
`job_outbox`) refer to it by the path `app.auth.tasks.send_outbox_email`.
"""

from __future__ import annotations

import logging

from app.auth.mail import send_outbox_email
from app.auth.passkey_checks import purge_challenges
from app.core.extensions import db
from app.core.queue import task

__all__ = ["purge_webauthn_challenges", "send_outbox_email"]

log = logging.getLogger("flowlet.auth")


@task
def purge_webauthn_challenges() -> int:
    """Delete WebAuthn challenges expired for an hour (run periodically; safe to run twice)."""
    try:
        count = purge_challenges(db.session())
        if count:
            log.info("purged %d expired WebAuthn challenges", count)
        return count
    finally:
        db.session.remove()
