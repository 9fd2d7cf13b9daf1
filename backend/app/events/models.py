"""The stream tickets of a deployment without Redis (`make run`, the end-to-end tests).

A ticket is kept by its SHA-256 digest, never in the clear: the table tells whom a ticket
would open a stream for, not the ticket itself. With Redis the tickets live there instead.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base


class EventTicket(Base):
    """One unused stream ticket: whose it is, which events it reads, until when."""

    __tablename__ = "event_tickets"

    digest: Mapped[bytes] = mapped_column(sa.LargeBinary(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    audience: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    # The login (auth session, public id) that asked for it: its stream ends with it.
    session_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    expires_at: Mapped[datetime] = mapped_column(nullable=False, index=True)
