"""Compliance records: KYC cases, the sanctions list, AML alerts and the monitoring feed."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, BigIntPK, PublicIdMixin, TimestampMixin, utcnow

if TYPE_CHECKING:
    from app.auth.models import User
    from app.compliance.risk_models import CustomerRisk
    from app.ledger.models import JournalTransaction


# --- alerts ---------------------------------------------------------------------------------


class AlertStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class AlertResolution(StrEnum):
    DISMISSED = "dismissed"
    ESCALATED = "escalated"
    SAR_FILED = "sar_filed"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class ComplianceAlert(PublicIdMixin, TimestampMixin, Base):
    """An alert for a compliance officer: an AML rule, a sanctions hit or a held transfer.

    One open case per customer and pattern (`user_id`, `case_key`): a repeated hit adds its
    transactions to the open alert (`hit_count`, `last_hit_at`) instead of opening another.
    """

    __tablename__ = "compliance_alerts"

    alert_type: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    # The pattern repeated hits gather under (AML rule, sanctions); None: one alert per event.
    case_key: Mapped[str | None] = mapped_column(sa.String(32))
    severity: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    status: Mapped[str] = mapped_column(
        sa.String(16), nullable=False, default=AlertStatus.OPEN.value, index=True
    )
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    transaction_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("journal_transactions.id"), index=True
    )
    score: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    rules: Mapped[list[str]] = mapped_column(sa.JSON, nullable=False, default=list)
    explanation: Mapped[str | None] = mapped_column(sa.Text)
    # Structured facts behind the alert (amounts, windows, the screened name and its matches).
    details: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    hit_count: Mapped[int] = mapped_column(
        sa.Integer, nullable=False, default=1, server_default="1"
    )
    last_hit_at: Mapped[datetime | None] = mapped_column()
    assigned_to_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    resolution: Mapped[str | None] = mapped_column(sa.String(32))
    notes: Mapped[str | None] = mapped_column(sa.Text)
    resolved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column()

    transaction: Mapped[JournalTransaction | None] = relationship()
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    assigned_to: Mapped[User | None] = relationship(foreign_keys=[assigned_to_id])
    resolved_by: Mapped[User | None] = relationship(foreign_keys=[resolved_by_id])
    links: Mapped[list[AlertTransaction]] = relationship(
        back_populates="alert", order_by="AlertTransaction.id", cascade="all, delete-orphan"
    )
    alert_notes: Mapped[list[AlertNote]] = relationship(
        back_populates="alert", order_by="AlertNote.id", cascade="all, delete-orphan"
    )
    # The customer's risk rating, shown with the alert (read only).
    risk: Mapped[CustomerRisk | None] = relationship(
        primaryjoin="foreign(ComplianceAlert.user_id) == CustomerRisk.user_id",
        viewonly=True,
        uselist=False,
    )

    __table_args__ = (
        sa.Index("ix_compliance_alerts_created_public", "created_at", "public_id"),
        # At most one open case per customer and pattern; repeated hits join it.
        sa.Index(
            "uq_compliance_alerts_open_case",
            "user_id",
            "case_key",
            unique=True,
            postgresql_where=sa.text("status = 'open' AND case_key IS NOT NULL"),
            sqlite_where=sa.text("status = 'open' AND case_key IS NOT NULL"),
        ),
    )


class AlertTransaction(Base):
    """A transaction behind an alert."""

    __tablename__ = "compliance_alert_transactions"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    alert_id: Mapped[int] = mapped_column(
        sa.ForeignKey("compliance_alerts.id"), nullable=False, index=True
    )
    transaction_id: Mapped[int] = mapped_column(
        sa.ForeignKey("journal_transactions.id"), nullable=False, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)

    alert: Mapped[ComplianceAlert] = relationship(back_populates="links")
    transaction: Mapped[JournalTransaction] = relationship(lazy="joined")

    __table_args__ = (sa.UniqueConstraint("alert_id", "transaction_id"),)


class AlertNote(Base):
    """An officer's note on an alert (assignment, review, resolution)."""

    __tablename__ = "compliance_alert_notes"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    alert_id: Mapped[int] = mapped_column(
        sa.ForeignKey("compliance_alerts.id"), nullable=False, index=True
    )
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), nullable=False)
    kind: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    body: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)

    alert: Mapped[ComplianceAlert] = relationship(back_populates="alert_notes")
    author: Mapped[User] = relationship(lazy="joined")


# --- KYC --------------------------------------------------------------------------------------


class KycCaseStatus(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    MANUAL_REVIEW = "manual_review"


class KycLevel(StrEnum):
    NONE = "none"
    BASIC = "basic"
    FULL = "full"


class KycCase(PublicIdMixin, TimestampMixin, Base):
    """One KYC submission, its automatic checks and, for manual cases, the officer's decision."""

    __tablename__ = "kyc_cases"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), nullable=False, index=True)
    submitted_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, index=True)
    requested_level: Mapped[str] = mapped_column(sa.String(8), nullable=False)
    level: Mapped[str] = mapped_column(sa.String(8), nullable=False)
    first_name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    last_name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    date_of_birth: Mapped[date] = mapped_column(sa.Date, nullable=False)
    nationality: Mapped[str] = mapped_column(sa.String(2), nullable=False)
    address: Mapped[dict[str, str]] = mapped_column(sa.JSON, nullable=False)
    document_type: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    # AES-GCM sealed with core.crypto, bound to the case (aad); only the last 4 stay in clear.
    document_number_sealed: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    document_last4: Mapped[str] = mapped_column(sa.String(4), nullable=False)
    reasons: Mapped[list[dict[str, str]]] = mapped_column(sa.JSON, nullable=False, default=list)
    screening: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, nullable=False, default=list)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column()
    decision_reason: Mapped[str | None] = mapped_column(sa.Text)
    # Self-declared politically exposed person (a risk factor).
    politically_exposed: Mapped[bool] = mapped_column(
        sa.Boolean, nullable=False, default=False, server_default=sa.false()
    )

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")

    __table_args__ = (sa.Index("ix_kyc_cases_created_public", "created_at", "public_id"),)


# --- sanctions ----------------------------------------------------------------------------------


class SanctionsList(Base):
    """One loaded version of a sanctions list.

    Each source (`kind`: `ofac-sdn`, `ofac-cons`, `un`, `eu`, `uk`, `flowlet-csv`) has at most
    one active version; screening searches the active versions of every source together. A
    version keeps its counts, its published date and what changed against the version before
    it (`SanctionsListChange`) after its entries are gone.
    """

    __tablename__ = "sanctions_lists"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    source: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    sha256: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    entry_count: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    alias_count: Mapped[int] = mapped_column(
        sa.Integer, nullable=False, default=0, server_default="0"
    )
    active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    published_at: Mapped[datetime | None] = mapped_column()
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    previous_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sanctions_lists.id"))
    added_count: Mapped[int] = mapped_column(
        sa.Integer, nullable=False, default=0, server_default="0"
    )
    removed_count: Mapped[int] = mapped_column(
        sa.Integer, nullable=False, default=0, server_default="0"
    )
    changed_count: Mapped[int] = mapped_column(
        sa.Integer, nullable=False, default=0, server_default="0"
    )

    __table_args__ = (
        sa.Index(
            "uq_sanctions_lists_active_kind",
            "kind",
            unique=True,
            postgresql_where=sa.text("active"),
            sqlite_where=sa.text("active"),
        ),
    )


class SanctionsListChange(Base):
    """An entry added, removed or changed by a version against the version before it."""

    __tablename__ = "sanctions_list_changes"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    list_id: Mapped[int] = mapped_column(sa.ForeignKey("sanctions_lists.id"), nullable=False)
    change: Mapped[str] = mapped_column(sa.String(8), nullable=False)  # added/removed/changed
    source_uid: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    name: Mapped[str] = mapped_column(sa.String(350), nullable=False)
    # The new version's entry (added, changed); None for a removed one.
    entry_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("sanctions_entries.id", ondelete="SET NULL")
    )
    # What changed, {field: [before, after]}; for a removed entry, what it was.
    fields: Mapped[dict[str, Any]] = mapped_column(sa.JSON, nullable=False, default=dict)

    __table_args__ = (
        sa.Index("ix_sanctions_list_changes_list", "list_id", "id"),
        # The old version's entries are deleted after a load: their links are cleared by index.
        sa.Index("ix_sanctions_list_changes_entry", "entry_id"),
    )


class SanctionsScreening(Base):
    """One screening decision and the list versions it was made against.

    `subject` is who was screened: `customer`, `beneficiary` (a payee named by the customer
    `user_id`), `officer` (an ad-hoc search) or `customers` (a re-screening run over every
    customer, `user_id` None, its count in `match_count`'s place being the hits).
    """

    __tablename__ = "sanctions_screenings"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    subject: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    context: Mapped[str] = mapped_column(sa.String(24), nullable=False)
    name: Mapped[str] = mapped_column(sa.String(350), nullable=False)
    list_ids: Mapped[list[int]] = mapped_column(sa.JSON, nullable=False, default=list)
    match_count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    top_score: Mapped[float | None] = mapped_column(sa.Float)
    screened_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)

    __table_args__ = (
        sa.Index("ix_sanctions_screenings_user", "user_id", "screened_at"),
        sa.Index("ix_sanctions_screenings_subject", "subject", "screened_at"),
    )


class SanctionsEntry(PublicIdMixin, Base):
    """A listed person, entity or vessel with its aliases, dates of birth and countries."""

    __tablename__ = "sanctions_entries"

    list_id: Mapped[int] = mapped_column(
        sa.ForeignKey("sanctions_lists.id"), nullable=False, index=True
    )
    source_uid: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    name: Mapped[str] = mapped_column(sa.String(350), nullable=False)
    entry_type: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    program: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    aliases: Mapped[list[str]] = mapped_column(sa.JSON, nullable=False, default=list)
    dates_of_birth: Mapped[list[str]] = mapped_column(sa.JSON, nullable=False, default=list)
    countries: Mapped[list[str]] = mapped_column(sa.JSON, nullable=False, default=list)
    remarks: Mapped[str | None] = mapped_column(sa.Text)


# --- AML monitoring feed --------------------------------------------------------------------------


class MonitoredPosting(Base):
    """One posting as the AML rules see it: a customer's money in or out.

    Written by the monitoring observer in the movement's own transaction; the per-posting rules
    read bounded windows of it through `(user_id, occurred_at)`.
    """

    __tablename__ = "aml_postings"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), nullable=False)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"), nullable=False)
    transaction_id: Mapped[int] = mapped_column(
        sa.ForeignKey("journal_transactions.id"), nullable=False
    )
    kind: Mapped[str] = mapped_column(sa.String(24), nullable=False)
    direction: Mapped[str] = mapped_column(sa.String(3), nullable=False)  # in / out
    amount: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(sa.String(3), nullable=False)
    channel: Mapped[str | None] = mapped_column(sa.String(16))
    country: Mapped[str | None] = mapped_column(sa.String(2))
    counterparty: Mapped[str | None] = mapped_column(sa.String(64))
    occurred_at: Mapped[datetime] = mapped_column(nullable=False)

    __table_args__ = (
        sa.Index("ix_aml_postings_user_occurred", "user_id", "occurred_at"),
        sa.Index("ix_aml_postings_account_occurred", "account_id", "occurred_at"),
        sa.UniqueConstraint("transaction_id", "account_id", "direction"),
    )


# --- AML rule settings --------------------------------------------------------------------------


class RuleChangeStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class AmlRuleVersion(PublicIdMixin, TimestampMixin, Base):
    """A proposed change of one AML rule's parameters and, once a second officer approved it,
    a version of that rule (`version` 1, 2, …; the highest approved one applies).

    Version 1 of each rule is the environment's `AML_*` settings (no proposer, no approver).
    """

    __tablename__ = "aml_rule_versions"

    rule: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, index=True)
    version: Mapped[int | None] = mapped_column(sa.Integer)
    # The version the proposal was made against: approving it after another is refused.
    base_version: Mapped[int | None] = mapped_column(sa.Integer)
    params: Mapped[dict[str, Any]] = mapped_column(sa.JSON, nullable=False)
    reason: Mapped[str] = mapped_column(sa.Text, nullable=False)
    proposed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))  # created_at
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column()
    decision_reason: Mapped[str | None] = mapped_column(sa.Text)

    proposed_by: Mapped[User | None] = relationship(foreign_keys=[proposed_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    __table_args__ = (
        sa.UniqueConstraint("rule", "version"),
        sa.Index("ix_aml_rule_versions_created_public", "created_at", "public_id"),
    )


class AmlRuleBacktest(Base):
    """A backtest an officer started (its id is its job's) and, once run, its report."""

    __tablename__ = "aml_rule_backtests"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    rule: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    params: Mapped[dict[str, Any]] = mapped_column(sa.JSON, nullable=False)
    period_start: Mapped[datetime] = mapped_column(nullable=False)
    period_end: Mapped[datetime] = mapped_column(nullable=False)
    requested_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False, index=True)
    finished_at: Mapped[datetime | None] = mapped_column()
    result: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
