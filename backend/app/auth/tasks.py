"""Background jobs of the identity domain.

`send_outbox_email` is defined beside the outbox it delivers, in `app.auth.mail`. Its name stays
importable here because jobs written before the move (queued in Redis, or waiting in
`job_outbox`) refer to it by the path `app.auth.tasks.send_outbox_email`.
"""

from __future__ import annotations

from app.auth.mail import send_outbox_email

__all__ = ["send_outbox_email"]
