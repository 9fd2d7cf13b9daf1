"""Regulatory reports: the CTR lists customers over the daily cash threshold; it is audited."""

from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa

from app.core.audit import AuditLog
from app.core.db import utcnow
from app.core.money import parse_amount
from app.transactions.deposits import deposit
from tests.factories import auth_headers, make_user
from tests.money_helpers import make_account

pytestmark = pytest.mark.postgres

CTR = "/api/v1/compliance/reports/ctr"


def _deposit(db_session, user, account, amount: str, channel: str) -> str:
    txn = deposit(
        db_session,
        user=user,
        account_id=account.public_id,
        amount=parse_amount(amount, "USD"),
        currency="USD",
        channel=channel,
    )
    return str(txn.public_id)


def test_ctr_for_a_day_lists_the_customer_over_the_threshold(app, client, db_session):
    officer = make_user(db_session, role="compliance_officer")
    headers = auth_headers(app, officer)
    over = make_user(db_session, first_name="Cash", last_name="Heavy")
    over_account = make_account(db_session, over)
    first = _deposit(db_session, over, over_account, "6000.00", "cash")
    second = _deposit(db_session, over, over_account, "5000.00", "cash")
    under = make_user(db_session)
    under_account = make_account(db_session, under)
    _deposit(db_session, under, under_account, "9000.00", "cash")
    _deposit(db_session, under, under_account, "5000.00", "transfer")  # not cash
    today = utcnow().date().isoformat()

    response = client.get(CTR, query_string={"from": today, "to": today}, headers=headers)
    assert response.status_code == 200, response.json
    body = response.json
    assert (body["from"], body["to"]) == (today, today)
    reported = {entry["customer"]["id"]: entry for entry in body["customers"]}
    assert str(under.public_id) not in reported
    entry = reported[str(over.public_id)]
    assert entry["date"] == today and entry["currency"] == "USD"
    assert entry["total"] == "11000.00" and entry["threshold"] == "10000.00"
    assert [t["id"] for t in entry["transactions"]] == [first, second]
    assert entry["customer"]["last_name"] == "Heavy"

    as_csv = client.get(
        CTR, query_string={"from": today, "to": today, "format": "csv"}, headers=headers
    )
    assert as_csv.status_code == 200 and as_csv.mimetype == "text/csv"
    assert (
        as_csv.headers["Content-Disposition"] == f'attachment; filename="ctr_{today}_{today}.csv"'
    )
    rows = [
        r
        for r in csv.DictReader(io.StringIO(as_csv.get_data(as_text=True)))
        if r["customer_id"] == str(over.public_id)
    ]
    assert [(r["transaction_id"], r["amount"], r["day_total"]) for r in rows] == [
        (first, "6000.00", "11000.00"),
        (second, "5000.00", "11000.00"),
    ]

    audited = db_session.scalars(
        sa.select(AuditLog)
        .where(
            AuditLog.action == "report.ctr_generated", AuditLog.actor_id == str(officer.public_id)
        )
        .order_by(AuditLog.id)
    ).all()
    assert [a.changes["format"] for a in audited] == ["json", "csv"]


def test_ctr_rejects_a_period_backwards(app, client, db_session):
    officer = make_user(db_session, role="compliance_officer")
    response = client.get(
        CTR,
        query_string={"from": "2026-02-01", "to": "2026-01-01"},
        headers=auth_headers(app, officer),
    )
    assert response.status_code == 422
