"""Wealth summary and history in the customer's base currency, and the weekly e-mail."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.auth.models import EmailOutbox
from app.core import uow
from app.core.db import utcnow
from app.wealth import rates
from app.wealth.models import LinkedAccount, WealthSnapshot
from tests.money_helpers import assert_ledger_consistent, make_account
from tests.wealth.conftest import link, positions, snapshots

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _money(text: str) -> Decimal:
    return Decimal(text)


@pytest.fixture
def wealthy(app, client, customer, db_session, sync_jobs):
    """A customer (base EUR) with a Flowlet USD account holding 100.00 and a synced sandbox."""
    account = make_account(db_session, customer.user, currency="USD", balance="100.00")
    body = link(client, customer).get_json()
    sync_jobs()
    return account, body["linked_account"]["id"]


def test_summary_adds_flowlet_and_linked_accounts_by_account_and_asset_class(
    app, client, customer, db_session, wealthy
):
    account, link_id = wealthy
    response = client.get("/api/v1/wealth/summary", headers=customer.headers)
    assert response.status_code == 200
    body = response.get_json()
    today = utcnow().date()
    assert body["base_currency"] == "EUR" and body["as_of"] == today.isoformat()
    assert body["missing_rates"] == []
    by_id = {a["id"]: a for a in body["accounts"]}
    flowlet = by_id[str(account.public_id)]
    usd_eur = rates.rate_for(db_session, base="USD", quote="EUR", day=today)
    assert flowlet["source"] == "flowlet" and flowlet["balance"] == "100.00"
    assert flowlet["rate"] == rates.rate_text(usd_eur.rate)
    assert flowlet["rate_date"] == usd_eur.rate_date.isoformat()
    assert _money(flowlet["value"]) == (Decimal(100) * usd_eur.rate).quantize(Decimal("0.01"))

    cash_snap, depot_snap = snapshots(db_session, link_id)
    depot = by_id["SBX-DEPOT"]
    assert depot["source"] == "linked" and depot["linked_account_id"] == link_id
    assert depot["broker_code"] == "sandbox"
    assert depot["value"] == depot["balance"] and depot["rate"] == "1"
    assert by_id["SBX-CASH"]["rate_date"] == cash_snap.rate_date.isoformat()

    values = [_money(a["value"]) for a in body["accounts"]]
    assert _money(body["total"]) == sum(values)
    classes = {c["asset_class"]: _money(c["value"]) for c in body["asset_classes"]}
    held = positions(db_session, depot_snap.id)
    for asset_class in ("equity", "fund", "bond"):
        expected = sum(p.value for p in held if p.asset_class == asset_class)
        assert classes[asset_class] == Decimal(expected) / 100
    assert sum(classes.values()) == _money(body["total"])
    assert classes["cash"] == _money(body["total"]) - sum(Decimal(p.value) / 100 for p in held)
    assert_ledger_consistent(app)


def test_summary_in_another_base_currency_converts_at_each_snapshot_date(
    client, customer, db_session, wealthy
):
    body = client.get(
        "/api/v1/wealth/summary?base_currency=USD", headers=customer.headers
    ).get_json()
    assert body["base_currency"] == "USD"
    by_id = {a["id"]: a for a in body["accounts"]}
    assert by_id["SBX-CASH"]["value"] == by_id["SBX-CASH"]["balance"]
    assert by_id["SBX-CASH"]["rate"] == "1"
    depot = by_id["SBX-DEPOT"]
    assert _money(depot["value"]) > _money(depot["balance"])  # EUR is worth more than USD


def test_summary_names_a_currency_without_rate_instead_of_guessing(
    client, customer, db_session, wealthy
):
    body = client.get(
        "/api/v1/wealth/summary?base_currency=SEK", headers=customer.headers
    ).get_json()
    assert body["missing_rates"] == ["EUR/SEK", "USD/SEK"]
    assert body["total"] == "0.00"
    assert all(a["value"] is None and a["rate"] is None for a in body["accounts"])


def test_history_has_one_point_a_day_and_carries_snapshots_forward(
    client, customer, db_session, wealthy
):
    _, link_id = wealthy
    today = utcnow().date()
    # An older snapshot of the depot, two days ago.
    depot = next(s for s in snapshots(db_session, link_id) if s.account_ref == "SBX-DEPOT")
    db_session.add(
        WealthSnapshot(
            linked_account_id=depot.linked_account_id,
            account_ref="SBX-DEPOT",
            account_name="Sandbox Depot",
            snapshot_date=today - timedelta(days=2),
            balance=500000,
            currency="EUR",
            base_currency="EUR",
            base_value=500000,
            rate=Decimal(1),
            rate_date=today - timedelta(days=2),
        )
    )
    uow.commit(db_session)
    start = today - timedelta(days=3)
    response = client.get(
        f"/api/v1/wealth/history?from={start.isoformat()}&to={today.isoformat()}",
        headers=customer.headers,
    )
    assert response.status_code == 200
    points = response.get_json()["points"]
    assert [p["date"] for p in points] == [
        (start + timedelta(days=n)).isoformat() for n in range(4)
    ]
    assert [p["linked"] for p in points[:3]] == ["0.00", "5000.00", "5000.00"]
    assert [p["flowlet"] for p in points[:3]] == ["0.00", "0.00", "0.00"]  # deposited today
    summary = client.get("/api/v1/wealth/summary", headers=customer.headers).get_json()
    assert points[-1]["total"] == summary["total"]
    for p in points:
        assert _money(p["total"]) == _money(p["flowlet"]) + _money(p["linked"])


def test_history_range_is_bounded(client, customer):
    response = client.get(
        "/api/v1/wealth/history?from=2020-01-01&to=2022-01-01", headers=customer.headers
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "validation_error"


def test_weekly_report_goes_through_the_email_outbox_once_a_week(
    app, client, customer, other_customer, db_session, wealthy, run_jobs
):
    from app.wealth.tasks import send_weekly_wealth_reports

    with app.app_context():
        queued = send_weekly_wealth_reports()
        again = send_weekly_wealth_reports()
    assert queued >= 1 and again == 0
    db_session.expire_all()
    mails = db_session.scalars(
        sa.select(EmailOutbox).where(
            EmailOutbox.kind == "wealth_weekly", EmailOutbox.user_id.in_([customer.id])
        )
    ).all()
    assert len(mails) == 1
    assert mails[0].to_address == customer.email
    assert mails[0].subject == "Your weekly Flowlet wealth report"
    with app.app_context():
        from app.core import crypto

        body = crypto.decrypt_str(mails[0].body_encrypted, aad=b"email_outbox")
        summary = client.get("/api/v1/wealth/summary", headers=customer.headers).get_json()
    assert body.startswith(f"Your net worth on {summary['as_of']}: {summary['total']} EUR\n")
    assert "  Sandbox Depot: " in body and "By asset class:" in body
    assert (
        db_session.scalar(
            sa.select(sa.func.count())
            .select_from(EmailOutbox)
            .where(EmailOutbox.user_id == other_customer.id)
        )
        == 0
    )  # no linked account, no report
    run_jobs(("default", "notifications"))
    db_session.expire_all()
    assert mails[0].status == "logged"
    assert (
        db_session.scalar(
            sa.select(sa.func.count())
            .select_from(LinkedAccount)
            .where(LinkedAccount.user_id == customer.id)
        )
        == 1
    )
