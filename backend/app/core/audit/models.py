"""The audit log's three tables: the records, their seals (the chain) and the chain's head."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, BigIntPK, table_of


class AuditSeal(Base):
    """A record's place in the chain: its sequence, the previous hash and its own hash."""

    __tablename__ = "audit_seal"

    sequence: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    record_id: Mapped[int] = mapped_column(sa.BigInteger, unique=True, nullable=False)
    txid: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    prev_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    sealed_at: Mapped[datetime] = mapped_column(nullable=False)


class AuditLog(Base):
    """One audit record. Never updated (except erasing its personal values), never deleted."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    public_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, unique=True, nullable=False)
    txid: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(nullable=False, index=True)
    actor_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    actor_role: Mapped[str | None] = mapped_column(sa.String(32))
    action: Mapped[str] = mapped_column(sa.String(64), nullable=False, index=True)
    resource_type: Mapped[str | None] = mapped_column(sa.String(64))
    resource_id: Mapped[str | None] = mapped_column(sa.String(64))
    outcome: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str | None] = mapped_column(sa.String(512))
    request_id: Mapped[str | None] = mapped_column(sa.String(128))
    changes: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    personal: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON(none_as_null=True))
    personal_digest: Mapped[str | None] = mapped_column(sa.String(64))
    digest: Mapped[str] = mapped_column(sa.String(64), nullable=False)

    seal: Mapped[AuditSeal | None] = relationship(
        primaryjoin="AuditLog.id == foreign(AuditSeal.record_id)", viewonly=True, uselist=False
    )

    __table_args__ = (
        sa.Index("ix_audit_log_resource", "resource_type", "resource_id"),
        sa.Index("ix_audit_log_txid_id", "txid", "id"),
    )

    @property
    def sequence(self) -> int | None:
        return self.seal.sequence if self.seal else None

    @property
    def prev_hash(self) -> str | None:
        return self.seal.prev_hash if self.seal else None

    @property
    def hash(self) -> str | None:
        return self.seal.hash if self.seal else None


class AuditChainHead(Base):
    """The single row holding the sealed chain's last sequence and hash (locked by sealers)."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    sequence: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    last_txid: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    last_record_id: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)


log_table = table_of(AuditLog)
seal_table = table_of(AuditSeal)
head_table = table_of(AuditChainHead)
