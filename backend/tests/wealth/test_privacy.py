"""The wealth section of the personal-data export, and what erasure does to linked accounts."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.wealth.models import LinkedAccount, UserDataKey, WealthSnapshot
from tests.factories import auth_headers, make_user
from tests.wealth.conftest import link

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_export_lists_linked_accounts_and_snapshots_without_credentials(
    client, customer, sync_jobs
):
    linked = link(client, customer, username="kim", password="kims-secret").get_json()
    sync_jobs()
    response = client.get("/api/v1/privacy/export", headers=customer.headers)
    assert response.status_code == 200
    (entry,) = response.get_json()["wealth"]["linked_accounts"]
    assert entry["id"] == linked["linked_account"]["id"]
    assert entry["broker"] == "sandbox" and entry["status"] == "active"
    assert [s["account"] for s in entry["snapshots"]] == ["SBX-CASH", "SBX-DEPOT"]
    depot = entry["snapshots"][1]
    assert {p["isin"] for p in depot["positions"]} == {
        "IE00B5BMR087",
        "DE0007164600",
        "LU0290355717",
    }
    assert "kims-secret" not in response.get_data(as_text=True)


def test_erasure_destroys_credentials_and_deletes_snapshots(
    app, client, customer, db_session, sync_jobs
):
    linked = link(client, customer).get_json()["linked_account"]
    sync_jobs()
    assert (
        db_session.scalar(
            sa.select(sa.func.count())
            .select_from(WealthSnapshot)
            .join(LinkedAccount)
            .where(LinkedAccount.public_id == linked["id"])
        )
        == 2
    )
    officer = make_user(db_session, role="compliance_officer")
    officer_headers = auth_headers(app, officer)
    request_id = client.post("/api/v1/privacy/erasure-request", headers=customer.headers).json["id"]
    decided = client.post(
        f"/api/v1/compliance/erasure-requests/{request_id}/decision",
        json={"decision": "approve", "reason": "Article 17 request"},
        headers=officer_headers,
    )
    assert decided.status_code == 200, decided.json
    db_session.expire_all()
    row = db_session.scalar(sa.select(LinkedAccount).where(LinkedAccount.public_id == linked["id"]))
    assert row.status == "deleted" and row.credentials_encrypted is None
    assert (
        db_session.scalar(
            sa.select(sa.func.count())
            .select_from(WealthSnapshot)
            .where(WealthSnapshot.linked_account_id == row.id)
        )
        == 0
    )
    assert (
        db_session.scalar(
            sa.select(sa.func.count())
            .select_from(UserDataKey)
            .where(UserDataKey.user_id == customer.id)
        )
        == 0
    )
