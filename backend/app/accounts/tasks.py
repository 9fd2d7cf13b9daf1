"""Background jobs of the accounts domain (ids only; each calls one service)."""

from __future__ import annotations

from app.core.queue import task


@task
def build_statement_document(document_id: int) -> dict | None:
    """Render a statement too long for a request; safe to run twice."""
    from app.accounts.statements import build_document
    from app.extensions import db

    try:
        document = build_document(db.session, document_id=document_id)
        return {"document_id": str(document.public_id)} if document is not None else None
    finally:
        db.session.remove()
