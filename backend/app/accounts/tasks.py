"""Background jobs of the accounts domain.

`build_statement_document` is defined beside the statement it renders, in
`app.accounts.statements`. Its name stays importable here because jobs written before the move
(queued in Redis, or waiting in `job_outbox`) refer to it by the path
`app.accounts.tasks.build_statement_document`.
"""

from __future__ import annotations

from app.accounts.statements import build_statement_document

__all__ = ["build_statement_document"]
