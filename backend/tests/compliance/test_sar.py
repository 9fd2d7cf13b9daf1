"""SAR drafts: who, what, when, how much, the rule and the officer's notes; audited."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from app.compliance import alerts, cases
from app.core import uow
from app.core.audit import AuditLog
from app.core.money import parse_amount
from app.ledger.models import JournalTransaction
from app.transactions.deposits import deposit
from tests.factories import auth_headers, make_user
from tests.money_helpers import make_account

pytestmark = pytest.mark.postgres


def test_sar_draft_names_the_subject_the_activity_the_rule_and_the_notes(app, client, db_session):
    officer = make_user(db_session, role="compliance_officer", first_name="Olive", last_name="Ward")
    headers = auth_headers(app, officer)
    subject = make_user(db_session, first_name="Sam", last_name="Structurer")
    account = make_account(db_session, subject)
    ids = []
    for amount in ("4900.00", "4800.00"):
        txn = deposit(
            db_session,
            user=subject,
            account_id=account.public_id,
            amount=parse_amount(amount, "USD"),
            currency="USD",
            channel="cash",
        )
        ids.append(txn.id)
    alert = alerts.raise_alert(
        db_session,
        user_id=subject.id,
        alert_type=f"structuring-{uuid.uuid4().hex[:6]}",
        severity="high",
        explanation="Two cash deposits just under the reporting line on one day",
        transaction_ids=ids,
        score=85,
    )
    uow.commit(db_session)
    cases.resolve_alert(
        db_session,
        officer=officer,
        alert_id=alert.public_id,
        resolution="sar_filed",
        notes="Pattern matches structuring; customer could not explain the source.",
    )

    response = client.get(f"/api/v1/compliance/reports/sar/{alert.public_id}", headers=headers)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["subject"]["id"] == str(subject.public_id)
    assert (body["subject"]["first_name"], body["subject"]["last_name"]) == ("Sam", "Structurer")
    assert body["alert"]["rules"] == [alert.alert_type]
    assert body["alert"]["severity"] == "high" and body["alert"]["resolution"] == "sar_filed"
    publics = [
        str(p)
        for p in db_session.scalars(
            sa.select(JournalTransaction.public_id)
            .where(JournalTransaction.id.in_(ids))
            .order_by(JournalTransaction.id)
        )
    ]
    assert [t["id"] for t in body["activity"]["transactions"]] == publics
    assert [t["amount"] for t in body["activity"]["transactions"]] == ["4900.00", "4800.00"]
    assert body["activity"]["totals"] == {"USD": "9700.00"}
    assert body["activity"]["transactions"][0]["channel"] == "cash"
    assert body["notes"][-1]["body"].startswith("Pattern matches structuring")
    assert body["notes"][-1]["author"] == "Olive Ward"
    assert "Sam Structurer" in body["narrative"] and "9700.00 USD" in body["narrative"]
    drafted = db_session.scalars(
        sa.select(AuditLog).where(
            AuditLog.action == "report.sar_drafted", AuditLog.resource_id == str(alert.public_id)
        )
    ).all()
    assert len(drafted) == 1 and drafted[0].actor_id == str(officer.public_id)

    missing = client.get(f"/api/v1/compliance/reports/sar/{uuid.uuid4()}", headers=headers)
    assert missing.status_code == 404
