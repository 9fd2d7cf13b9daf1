"""Linking the sandbox broker and syncing it with a real RQ worker on real Redis."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.core.audit import AuditLog
from app.core.db import utcnow
from app.wealth.models import LinkedAccount, UserDataKey
from tests.wealth.conftest import link, positions, snapshots

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_catalogue_lists_the_sandbox_broker_with_its_credentials_schema(client, customer):
    response = client.get("/api/v1/brokers", headers=customer.headers)
    assert response.status_code == 200
    brokers = {b["code"]: b for b in response.get_json()["items"]}
    sandbox = brokers["sandbox"]
    assert sandbox["integration_type"] == "sandbox"
    assert sandbox["supports_2fa"] is True
    assert sandbox["credentials_schema"]["required"] == ["username", "password"]
    assert {b["integration_type"] for b in brokers.values()} >= {"sandbox", "fints", "rest"}


def test_credentials_are_checked_against_the_broker_schema(client, customer):
    response = link(client, customer, username="alice")  # no password
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert "credentials" in error["details"]
    response = link(client, customer, username="alice", password="pw", pin="1234")
    assert response.status_code == 422
    assert "1234" not in response.get_data(as_text=True)


def test_unknown_broker_is_refused(client, customer):
    response = link(client, customer, broker_code="nope")
    assert response.status_code == 422
    assert response.get_json()["error"]["details"] == {
        "broker_code": ["No active broker has this code."]
    }


def test_a_worker_syncs_a_linked_account_end_to_end(client, customer, db_session, sync_jobs):
    response = link(client, customer, username="alice", password="sandbox-pass")
    assert response.status_code == 202
    body = response.get_json()
    linked = body["linked_account"]
    assert linked["status"] == "pending"
    assert "credentials" not in linked and "sandbox-pass" not in response.get_data(as_text=True)
    job = client.get(f"/api/v1/jobs/{body['job_id']}", headers=customer.headers).get_json()
    assert job["status"] == "queued"

    sync_jobs()

    job = client.get(f"/api/v1/jobs/{body['job_id']}", headers=customer.headers)
    assert job.status_code == 200
    assert job.get_json()["status"] == "finished"
    assert job.get_json()["result"]["status"] == "active"
    assert job.get_json()["error"] is None
    shown = client.get(f"/api/v1/linked-accounts/{linked['id']}", headers=customer.headers)
    assert shown.get_json()["status"] == "active"
    assert shown.get_json()["last_synced_at"] is not None

    cash, depot = snapshots(db_session, linked["id"])
    assert (cash.account_ref, depot.account_ref) == ("SBX-CASH", "SBX-DEPOT")
    assert depot.snapshot_date == utcnow().date()
    assert (depot.currency, depot.base_currency, depot.rate) == ("EUR", "EUR", Decimal(1))
    assert depot.base_value == depot.balance
    # USD → EUR at the local service's rate of the day (or the Friday before).
    assert cash.currency == "USD" and cash.base_currency == "EUR"
    assert cash.rate_date <= cash.snapshot_date
    expected = (Decimal(cash.balance) * cash.rate).quantize(Decimal(1))
    assert abs(cash.base_value - expected) <= 1
    held = positions(db_session, depot.id)
    assert [p.symbol for p in held] == ["DBXN", "SAP", "SXR8"]
    assert {p.asset_class for p in held} == {"bond", "equity", "fund"}
    sap = next(p for p in held if p.symbol == "SAP")
    assert sap.isin == "DE0007164600"
    assert sap.value == int(sap.quantity * sap.price * 100)
    assert sap.cost_basis is not None
    assert sum(p.value for p in held) < depot.balance  # the rest is cash


def test_syncing_twice_the_same_day_updates_instead_of_duplicating(
    client, customer, db_session, sync_jobs
):
    linked = link(client, customer).get_json()["linked_account"]
    sync_jobs()
    first = snapshots(db_session, linked["id"])
    assert len(first) == 2
    for _ in range(2):
        response = client.post(
            f"/api/v1/linked-accounts/{linked['id']}/sync", headers=customer.headers
        )
        assert response.status_code == 202
        sync_jobs()
    again = snapshots(db_session, linked["id"])
    assert [(s.id, s.account_ref) for s in again] == [(s.id, s.account_ref) for s in first]
    assert len(positions(db_session, again[1].id)) == 3


def test_sandbox_2fa_challenge_waits_for_the_customer(client, customer, db_session, sync_jobs):
    linked = link(client, customer, username="2fa-alice", password="pw").get_json()
    sync_jobs()
    shown = client.get(
        f"/api/v1/linked-accounts/{linked['linked_account']['id']}", headers=customer.headers
    ).get_json()
    assert shown["status"] == "pending_auth"
    assert "code" in shown["challenge"]
    assert snapshots(db_session, shown["id"]) == []

    response = client.post(
        f"/api/v1/linked-accounts/{shown['id']}/2fa",
        json={"code": "123456"},
        headers=customer.headers,
    )
    assert response.status_code == 202
    job_id = response.get_json()["job_id"]
    sync_jobs()
    assert (
        client.get(f"/api/v1/jobs/{job_id}", headers=customer.headers).get_json()["status"]
        == "finished"
    )
    shown = client.get(f"/api/v1/linked-accounts/{shown['id']}", headers=customer.headers)
    assert shown.get_json()["status"] == "active"
    assert shown.get_json()["challenge"] is None
    assert len(snapshots(db_session, shown.get_json()["id"])) == 2


def test_2fa_answer_without_a_challenge_is_a_conflict(client, customer, sync_jobs):
    linked = link(client, customer).get_json()["linked_account"]
    sync_jobs()
    response = client.post(
        f"/api/v1/linked-accounts/{linked['id']}/2fa", json={"code": "1"}, headers=customer.headers
    )
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "conflict"


def test_wrong_2fa_code_marks_the_account_error(client, customer, sync_jobs):
    linked = link(client, customer, username="2fa-bob", password="pw").get_json()
    link_id = linked["linked_account"]["id"]
    sync_jobs()
    client.post(
        f"/api/v1/linked-accounts/{link_id}/2fa", json={"code": "000000"}, headers=customer.headers
    )
    sync_jobs()
    shown = client.get(f"/api/v1/linked-accounts/{link_id}", headers=customer.headers).get_json()
    assert shown["status"] == "error"
    assert shown["last_error"] == "The sandbox broker refused the 2FA code."


def test_broker_error_marks_error_and_the_job_is_retried(
    client, customer, app, db_session, sync_jobs
):
    body = link(client, customer, username="down-carol", password="pw").get_json()
    link_id = body["linked_account"]["id"]
    sync_jobs()
    shown = client.get(f"/api/v1/linked-accounts/{link_id}", headers=customer.headers).get_json()
    assert shown["status"] == "error"
    assert shown["last_error"] == "The sandbox broker is unavailable."
    job = client.get(f"/api/v1/jobs/{body['job_id']}", headers=customer.headers).get_json()
    # Three tries with retries (one run + WEALTH_SYNC_RETRIES=3), then failed for good.
    assert job["status"] == "failed"
    assert (
        job["error"]
        == "app.wealth.integrations.base.BrokerError: The sandbox broker is unavailable."
    )
    from rq.job import Job

    rq_job = Job.fetch(body["job_id"], connection=app.extensions["flowlet_redis"])
    assert rq_job.retries_left == 0
    runs = db_session.scalars(
        sa.select(AuditLog.outcome).where(
            AuditLog.resource_id == link_id, AuditLog.action == "wealth.linked_account.error"
        )
    ).all()
    assert runs == ["failure"] * 4  # the first run and three retries


def test_refused_credentials_are_not_retried(client, customer, app, sync_jobs):
    body = link(client, customer, username="dave", password="wrong").get_json()
    sync_jobs()
    job = client.get(f"/api/v1/jobs/{body['job_id']}", headers=customer.headers).get_json()
    assert job["status"] == "finished"
    assert job["result"] == {
        "status": "error",
        "error": "The sandbox broker refused the username or password.",
    }


def test_delete_destroys_the_credentials(client, customer, db_session, sync_jobs):
    linked = link(client, customer).get_json()["linked_account"]
    sync_jobs()
    assert (
        db_session.scalar(
            sa.select(sa.func.count())
            .select_from(UserDataKey)
            .where(UserDataKey.user_id == customer.id)
        )
        == 1
    )
    response = client.delete(f"/api/v1/linked-accounts/{linked['id']}", headers=customer.headers)
    assert response.status_code == 204
    db_session.expire_all()
    row = db_session.scalar(sa.select(LinkedAccount).where(LinkedAccount.public_id == linked["id"]))
    assert row.status == "deleted"
    assert row.credentials_encrypted is None and row.auth_state_encrypted is None
    assert (
        db_session.scalar(
            sa.select(sa.func.count())
            .select_from(UserDataKey)
            .where(UserDataKey.user_id == customer.id)
        )
        == 0
    )
    assert (
        client.get(f"/api/v1/linked-accounts/{linked['id']}", headers=customer.headers).status_code
        == 404
    )
    assert [
        a["id"]
        for a in client.get("/api/v1/linked-accounts", headers=customer.headers).get_json()["items"]
    ] == []
    actions = db_session.scalars(
        sa.select(AuditLog.action).where(AuditLog.resource_id == linked["id"]).order_by(AuditLog.id)
    ).all()
    assert actions == [
        "wealth.linked_account.created",
        "wealth.linked_account.synced",
        "wealth.linked_account.deleted",
    ]


def test_a_sync_queued_before_delete_does_nothing(client, customer, db_session, sync_jobs):
    linked = link(client, customer).get_json()["linked_account"]
    client.delete(f"/api/v1/linked-accounts/{linked['id']}", headers=customer.headers)
    sync_jobs()
    assert snapshots(db_session, linked["id"]) == []


def test_another_customers_linked_account_and_job_are_404(
    client, customer, other_customer, sync_jobs
):
    body = link(client, customer).get_json()
    link_id, job_id = body["linked_account"]["id"], body["job_id"]
    sync_jobs()
    h = other_customer.headers
    for response in (
        client.get(f"/api/v1/linked-accounts/{link_id}", headers=h),
        client.post(f"/api/v1/linked-accounts/{link_id}/sync", headers=h),
        client.post(f"/api/v1/linked-accounts/{link_id}/2fa", json={"code": "1"}, headers=h),
        client.delete(f"/api/v1/linked-accounts/{link_id}", headers=h),
        client.get(f"/api/v1/jobs/{job_id}", headers=h),
        client.get("/api/v1/jobs/not-a-job", headers=h),
        client.get("/api/v1/jobs/not%20a%20job%3F", headers=h),
    ):
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"
    assert client.get("/api/v1/linked-accounts", headers=h).get_json()["items"] == []
    # Still there for its owner.
    shown = client.get(f"/api/v1/linked-accounts/{link_id}", headers=customer.headers)
    assert shown.status_code == 200 and shown.get_json()["status"] == "active"


def test_a_sync_asked_for_while_one_is_queued_returns_that_job(client, customer, sync_jobs):
    body = link(client, customer).get_json()
    url = f"/api/v1/linked-accounts/{body['linked_account']['id']}/sync"
    again = client.post(url, headers=customer.headers)
    assert again.status_code == 202
    assert again.get_json()["job_id"] == body["job_id"]  # the first sync is still queued
    sync_jobs()
    later = client.post(url, headers=customer.headers).get_json()["job_id"]
    assert later != body["job_id"]
    shown = client.get(
        f"/api/v1/linked-accounts/{body['linked_account']['id']}", headers=customer.headers
    ).get_json()
    assert shown["last_job_id"] == later
