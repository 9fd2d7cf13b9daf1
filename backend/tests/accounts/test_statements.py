"""Statements: the current month by default, streamed JSON and CSV equal to a recount of the
ledger, one charset, and long PDFs built by a real worker and downloaded when ready."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from app.core.db import utcnow
from app.ledger.models import JournalTransaction, LedgerEntry
from tests.factories import auth_headers, make_user
from tests.money_helpers import make_account, post

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _account_with_history(app, client, db_session, count: int = 6):
    user = make_user(db_session)
    headers = auth_headers(app, user)
    account = make_account(db_session, user, balance="100.00")
    friend = make_account(db_session, make_user(db_session))
    for i in range(count):
        response = post(
            client,
            "/api/v1/transactions/transfer",
            headers,
            {
                "from_account_id": str(account.public_id),
                "to_account_id": str(friend.public_id),
                "amount": f"{i + 1}.25",
                "currency": "USD",
                "description": f"line {i}",
            },
        )
        assert response.status_code == 201
    return user, headers, account


def _recount(app, account, start, end) -> dict:
    """The statement as the ledger's entries say it, summed from scratch."""
    from app.core.extensions import db

    since = datetime.combine(start, datetime.min.time(), tzinfo=UTC)
    with app.app_context():
        entries = db.session.execute(
            sa.select(LedgerEntry.amount, LedgerEntry.created_at, JournalTransaction.description)
            .join(JournalTransaction, JournalTransaction.id == LedgerEntry.transaction_id)
            .where(LedgerEntry.account_id == account.id)
            .order_by(LedgerEntry.created_at, LedgerEntry.id)
        ).all()
        db.session.remove()
    opening = sum(e.amount for e in entries if e.created_at < since)
    running, lines = opening, []
    for e in entries:
        if e.created_at >= since:
            running += e.amount
            lines.append((e.description, e.amount, running))
    return {"opening": opening, "closing": running, "lines": lines}


def _minor(text: str) -> int:
    return int(text.replace(".", ""))


def test_a_statement_without_dates_is_the_current_month_and_equals_the_ledger(
    app, client, db_session
):
    _, headers, account = _account_with_history(app, client, db_session)
    response = client.get(f"/api/v1/accounts/{account.public_id}/statement", headers=headers)
    assert response.status_code == 200
    assert response.is_streamed and "Content-Length" not in response.headers
    body = response.json
    today = utcnow().date()
    first = today.replace(day=1)
    assert body["from"] == first.isoformat()
    assert body["to"][:7] == today.isoformat()[:7] and body["to"] >= today.isoformat()
    expected = _recount(app, account, first, today)
    assert _minor(body["opening_balance"]) == expected["opening"]
    assert _minor(body["closing_balance"]) == expected["closing"]
    assert [
        (line["description"], _minor(line["amount"]), _minor(line["balance_after"]))
        for line in body["lines"]
    ] == expected["lines"]


def test_the_csv_statement_streams_with_one_charset_and_equals_the_json_one(
    app, client, db_session
):
    _, headers, account = _account_with_history(app, client, db_session)
    url = f"/api/v1/accounts/{account.public_id}/statement"
    as_csv = client.get(url, query_string={"format": "csv"}, headers=headers)
    assert as_csv.status_code == 200
    assert as_csv.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(as_csv.get_data(as_text=True))))
    document = client.get(url, headers=headers).json
    assert rows[1][5] == document["opening_balance"]
    assert rows[-1][5] == document["closing_balance"]
    assert [(r[1], r[4], r[5]) for r in rows[2:-1]] == [
        (line["transaction_id"], line["amount"], line["balance_after"])
        for line in document["lines"]
    ]


def test_a_long_pdf_statement_is_built_by_a_worker_and_downloaded_when_ready(
    app, client, db_session, run_jobs, monkeypatch
):
    monkeypatch.setitem(app.config, "STATEMENT_PDF_INLINE_LINES", 3)
    _, headers, account = _account_with_history(app, client, db_session, count=4)
    url = f"/api/v1/accounts/{account.public_id}/statement"
    queued = client.get(url, query_string={"format": "pdf"}, headers=headers)
    assert queued.status_code == 202, queued.get_data()
    body = queued.json
    assert body["url"].endswith(body["document_id"]) and body["job_id"]
    pending = client.get(body["url"], headers=headers)
    assert pending.status_code == 202 and pending.json["status"] == "pending"
    stranger = auth_headers(app, make_user(db_session))
    assert client.get(body["url"], headers=stranger).status_code == 404
    run_jobs()
    ready = client.get(body["url"], headers=headers)
    assert ready.status_code == 200
    assert ready.mimetype == "application/pdf" and ready.data.startswith(b"%PDF")
    assert "attachment" in ready.headers["Content-Disposition"]
