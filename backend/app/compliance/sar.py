"""Suspicious activity report (SAR) drafts: who, what, when, how much, the rule, the notes.

A draft is assembled from the alert (`app.compliance.cases.get_alert`), the customer, the KYC
case and the transactions behind the alert, for an officer to review and file. Generating one is
audited.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.models import User
from app.compliance import cases, kyc
from app.compliance.models import ComplianceAlert
from app.core import audit, uow
from app.core.db import utcnow
from app.core.money import format_amount
from app.ledger.accounts import Account
from app.ledger.models import JournalTransaction


def _time(value: datetime | None) -> str | None:
    return audit.format_time(value) if value is not None else None


def _kyc(session: Session, user: User) -> dict[str, Any] | None:
    case = kyc.current_case(session, user=user)
    if case is None:
        return None
    return {
        "status": case.status,
        "level": case.level,
        "date_of_birth": case.date_of_birth.isoformat(),
        "nationality": case.nationality,
        "address": case.address,
        "document_type": case.document_type,
        "document_number": f"***{case.document_last4}",
    }


def draft(session: Session, *, officer: User, alert_id: uuid.UUID) -> dict[str, Any]:
    """A SAR draft for one alert (any status), audited as `report.sar_drafted`."""
    alert = cases.get_alert(session, alert_id=alert_id)
    subject = alert.user
    activity, amounts = _activity(session, cases.alert_transactions(alert))
    first = activity[0]["created_at"] if activity else None
    last = activity[-1]["created_at"] if activity else None
    report = {
        "report": "sar_draft",
        "generated_at": _time(utcnow()),
        "prepared_by": {
            "id": str(officer.public_id),
            "name": f"{officer.first_name} {officer.last_name}",
        },
        "alert": _alert_section(alert),
        "subject": _subject_section(session, subject) if subject else None,
        "activity": {
            "from": first,
            "to": last,
            "transactions": activity,
            "totals": amounts,
        },
        "notes": [
            {
                "author": f"{n.author.first_name} {n.author.last_name}",
                "kind": n.kind,
                "body": n.body,
                "created_at": _time(n.created_at),
            }
            for n in alert.alert_notes
        ],
        "narrative": _narrative(alert, subject, len(activity), amounts, first, last),
    }
    audit.record(
        session,
        "report.sar_drafted",
        resource_type="compliance_alert",
        resource_id=str(alert.public_id),
        changes={"transactions": len(activity), "totals": amounts},
    )
    uow.commit(session)
    return report


def _activity(
    session: Session, transactions: list[JournalTransaction]
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The alert's transactions as the report lists them, and their totals per currency."""
    account_ids = {t.from_account_id for t in transactions} | {
        t.to_account_id for t in transactions
    }
    # By account id; a transaction's missing side (None) has no number.
    numbers: dict[int | None, str] = dict(
        session.execute(
            sa.select(Account.id, Account.account_number).where(
                Account.id.in_({i for i in account_ids if i is not None})
            )
        ).all()
    )
    totals: dict[str, int] = defaultdict(int)
    activity = []
    for t in transactions:
        totals[t.currency] += t.amount
        activity.append(
            {
                "id": str(t.public_id),
                "type": t.type,
                "status": t.status,
                "amount": format_amount(t.amount, t.currency),
                "currency": t.currency,
                "from_account": numbers.get(t.from_account_id),
                "to_account": numbers.get(t.to_account_id),
                "counterparty_name": t.counterparty_name,
                "counterparty_iban": t.counterparty_iban,
                "channel": (t.attributes or {}).get("channel"),
                "description": t.description,
                "created_at": _time(t.created_at),
            }
        )
    return activity, {c: format_amount(v, c) for c, v in sorted(totals.items())}


def _alert_section(alert: ComplianceAlert) -> dict[str, Any]:
    return {
        "id": str(alert.public_id),
        "type": alert.alert_type,
        "severity": alert.severity,
        "status": alert.status,
        "score": alert.score,
        "rules": list(alert.rules),
        "explanation": alert.explanation,
        "details": alert.details,
        "hit_count": alert.hit_count,
        "raised_at": _time(alert.created_at),
        "resolution": alert.resolution,
        "resolved_at": _time(alert.resolved_at),
    }


def _subject_section(session: Session, subject: User) -> dict[str, Any]:
    return {
        "id": str(subject.public_id),
        "first_name": subject.first_name,
        "last_name": subject.last_name,
        "email": subject.email,
        "phone": subject.phone,
        "kyc_status": subject.kyc_status,
        "kyc": _kyc(session, subject),
    }


def _narrative(
    alert: ComplianceAlert,
    subject: User | None,
    count: int,
    amounts: dict[str, str],
    first: str | None,
    last: str | None,
) -> str:
    who = f"{subject.first_name} {subject.last_name}" if subject else "an unidentified party"
    amount_text = ", ".join(f"{v} {c}" for c, v in amounts.items()) or "no amount"
    return (
        f"Alert {alert.public_id} ({alert.alert_type}, severity {alert.severity}, rules "
        f"{', '.join(alert.rules) or 'none'}) concerns {who}: {count} transaction(s) "
        f"totalling {amount_text} between {first or 'n/a'} and {last or 'n/a'}. "
        + (alert.explanation or "")
    ).strip()
