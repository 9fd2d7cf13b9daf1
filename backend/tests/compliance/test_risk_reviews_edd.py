"""Periodic reviews (due, overdue, the overdue block) and enhanced due diligence (maker-checker,
basic limits until approved)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.compliance import reviews
from app.compliance.risk_models import CustomerRisk, RiskReview
from app.core.audit import AuditLog
from app.core.db import utcnow
from tests.compliance.test_customer_risk import KYC, kyc_body
from tests.factories import auth_headers, make_user
from tests.money_helpers import make_account, post

pytestmark = pytest.mark.postgres

REVIEWS = "/api/v1/compliance/reviews"
CUSTOMERS = "/api/v1/compliance/customers"


def _actions(db_session, action):
    db_session.expire_all()
    return db_session.scalars(sa.select(AuditLog).where(AuditLog.action == action)).all()


def _due(db_session, user, days_ago):
    """The customer's rating fell due `days_ago` days ago; the nightly run opens the review."""
    db_session.execute(
        sa.update(CustomerRisk)
        .where(CustomerRisk.user_id == user.id)
        .values(
            reviewed_on=utcnow().date() - timedelta(days=4000),
            next_review_due=utcnow().date() - timedelta(days=days_ago),
        )
    )
    db_session.commit()


def _reviewed(client, customer, sanctions_list_id, db_session, days_ago):
    """A rated customer with an account, whose review fell due `days_ago` days ago."""
    user, headers = customer
    assert client.post(KYC, json=kyc_body(), headers=headers).status_code == 201
    src = make_account(db_session, user, balance="100.00")
    dst = make_account(db_session, make_user(db_session))
    _due(db_session, user, days_ago)
    # the nightly run would re-rate from `reviewed_on`; open the review as it does
    assert reviews.open_due(db_session, today=utcnow().date()) >= 1
    review = db_session.scalar(sa.select(RiskReview).where(RiskReview.user_id == user.id))
    return user, headers, src, dst, review


def _ids(response):
    assert response.status_code == 200, response.json
    return {item["id"] for item in response.json["items"]}


def test_a_review_due_is_listed_open_and_due_and_does_not_block(
    client, db_session, customer, officer, sanctions_list
):
    user, headers, src, dst, review = _reviewed(client, customer, sanctions_list, db_session, 3)
    _, officer_headers = officer
    rid = str(review.public_id)
    assert rid in _ids(client.get(REVIEWS, headers=officer_headers))
    assert rid in _ids(client.get(REVIEWS, query_string={"status": "due"}, headers=officer_headers))
    assert rid not in _ids(
        client.get(REVIEWS, query_string={"status": "overdue"}, headers=officer_headers)
    )
    item = next(
        i for i in client.get(REVIEWS, headers=officer_headers).json["items"] if i["id"] == rid
    )
    assert item["status"] == "due" and item["customer"]["id"] == str(user.public_id)
    assert item["customer"]["risk_level"] == "low"
    sent = _send(client, headers, src, dst)
    assert sent.status_code == 201, sent.json
    assert _actions(db_session, "risk.review_opened")


def _send(client, headers, src, dst):
    return post(client, "/api/v1/transactions/transfer", headers,
                {"from_account_id": str(src.public_id), "to_account_id": str(dst.public_id),
                 "amount": "5.00", "currency": "USD"})  # fmt: skip


def test_an_overdue_review_blocks_outgoing_payments_until_completed(
    client, db_session, customer, officer, sanctions_list
):
    user, headers, src, dst, review = _reviewed(client, customer, sanctions_list, db_session, 45)
    _, officer_headers = officer
    rid = str(review.public_id)
    overdue = client.get(REVIEWS, query_string={"status": "overdue"}, headers=officer_headers)
    assert rid in _ids(overdue)
    assert reviews.mark_overdue(db_session, today=utcnow().date()) >= 1
    assert _actions(db_session, "risk.review_overdue")
    refused = _send(client, headers, src, dst)
    assert refused.status_code == 403 and refused.json["error"]["code"] == "risk_review_overdue"
    done = client.post(f"{REVIEWS}/{rid}/complete", json={"notes": "address re-verified"},
                       headers=officer_headers)  # fmt: skip
    assert done.status_code == 200, done.json
    assert done.json["status"] == "completed" and done.json["notes"] == "address re-verified"
    assert rid in _ids(
        client.get(REVIEWS, query_string={"status": "completed"}, headers=officer_headers)
    )
    assert rid not in _ids(client.get(REVIEWS, headers=officer_headers))
    assert _send(client, headers, src, dst).status_code == 201
    db_session.expire_all()
    rating = db_session.get(CustomerRisk, user.id)
    assert rating.reviewed_on == utcnow().date()
    assert rating.next_review_due == utcnow().date() + timedelta(days=1095)  # low: 3 years
    again = client.post(f"{REVIEWS}/{rid}/complete", json={"notes": "x"}, headers=officer_headers)
    assert again.status_code == 409 and again.json["error"]["code"] == "review_completed"


def test_an_overdue_review_does_not_block_when_the_action_is_none(
    app, client, db_session, customer, sanctions_list, monkeypatch
):
    _, headers, src, dst, _review = _reviewed(client, customer, sanctions_list, db_session, 45)
    monkeypatch.setitem(app.config, "RISK_OVERDUE_ACTION", "none")
    assert _send(client, headers, src, dst).status_code == 201


def test_review_routes_page_validate_and_404(client, db_session, officer, customer):
    _, officer_headers = officer
    for _ in range(2):
        db_session.add(RiskReview(user_id=make_user(db_session).id, level="low",
                                  due_on=utcnow().date(), status="due"))  # fmt: skip
    db_session.commit()
    bad = client.get(REVIEWS, query_string={"status": "later"}, headers=officer_headers)
    assert bad.status_code == 422
    paged = client.get(REVIEWS, query_string={"limit": 1}, headers=officer_headers)
    assert paged.status_code == 200 and len(paged.json["items"]) == 1
    more = client.get(REVIEWS, query_string={"limit": 1, "cursor": paged.json["next_cursor"]},
                      headers=officer_headers)  # fmt: skip
    assert more.status_code == 200 and len(more.json["items"]) == 1
    assert more.json["items"][0]["id"] != paged.json["items"][0]["id"]
    missing = client.post(f"{REVIEWS}/{uuid.uuid4()}/complete", json={"notes": "n"},
                          headers=officer_headers)  # fmt: skip
    assert missing.status_code == 404
    _, headers = customer
    assert client.get(REVIEWS, headers=headers).status_code == 403


def test_the_nightly_run_rates_opens_and_marks(client, db_session, customer, sanctions_list):
    user, headers = customer
    client.post(KYC, json=kyc_body(), headers=headers)
    _due(db_session, user, 40)
    done = reviews.nightly(db_session)
    assert done["rated"] >= 1 and done["opened"] >= 1 and done["overdue"] >= 1
    db_session.expire_all()
    review = db_session.scalar(sa.select(RiskReview).where(RiskReview.user_id == user.id))
    assert review.status == "overdue"


# --- enhanced due diligence ----------------------------------------------------------------------


def test_edd_holds_a_high_risk_customer_to_basic_limits_until_a_second_officer_approves(
    app, client, db_session, customer, officer, other_officer, sanctions_list
):
    user, headers = customer
    _, officer_headers = officer
    _, other_headers = other_officer
    fresh = auth_headers(app, user, fresh=True)
    client.post(KYC, json=kyc_body(politically_exposed=True), headers=headers)
    src = make_account(db_session, user, balance="30000.00")
    dst = make_account(db_session, make_user(db_session))
    upgrade = client.post(KYC, json=kyc_body(level="full", politically_exposed=True),
                          headers=headers)  # fmt: skip
    client.post(f"{KYC}/{upgrade.json['id']}/decision", headers=officer_headers,
                json={"decision": "approve", "reason": "video call"})  # fmt: skip
    risk = client.get(f"{CUSTOMERS}/{user.public_id}", headers=officer_headers).json["risk"]
    assert risk["level"] == "high" and risk["edd_status"] == "required"

    def send(amount):
        return post(client, "/api/v1/transactions/transfer", fresh,
                    {"from_account_id": str(src.public_id), "to_account_id": str(dst.public_id),
                     "amount": amount, "currency": "USD"})  # fmt: skip

    held_back = send("12000.00")  # full: 50,000; basic: 10,000
    assert held_back.status_code == 422 and held_back.json["error"]["code"] == "limit_exceeded"
    edd = f"{CUSTOMERS}/{user.public_id}/edd"
    proposed = client.post(edd, json={"reason": "source of wealth documented"},
                           headers=officer_headers)  # fmt: skip
    assert proposed.status_code == 201 and proposed.json["status"] == "proposed"
    twice = client.post(edd, json={"reason": "again"}, headers=other_headers)
    assert twice.status_code == 409 and twice.json["error"]["code"] == "edd_already_proposed"
    own = client.post(f"{edd}/decision", json={"decision": "approve", "reason": "ok"},
                      headers=officer_headers)  # fmt: skip
    assert own.status_code == 403 and own.json["error"]["code"] == "edd_same_officer"
    assert send("12000.00").status_code == 422  # still proposed only
    approved = client.post(f"{edd}/decision", json={"decision": "approve", "reason": "ok"},
                           headers=other_headers)  # fmt: skip
    assert approved.status_code == 200 and approved.json["status"] == "approved"
    assert approved.json["decided_by"] != approved.json["proposed_by"]
    assert send("12000.00").status_code == 201
    assert [r.outcome for r in _actions(db_session, "risk.edd_proposed")][-1] == "success"
    decided = [r for r in _actions(db_session, "risk.edd_decided")
               if r.changes["customer_id"] == str(user.public_id)]  # fmt: skip
    assert decided and decided[0].changes["decision"] == "approve"


def test_edd_is_refused_when_not_high_or_nothing_is_proposed(
    client, customer, officer, other_officer, sanctions_list
):
    user, headers = customer
    _, officer_headers = officer
    client.post(KYC, json=kyc_body(), headers=headers)
    edd = f"{CUSTOMERS}/{user.public_id}/edd"
    refused = client.post(edd, json={"reason": "r"}, headers=officer_headers)
    assert refused.status_code == 409 and refused.json["error"]["code"] == "edd_not_required"
    nothing = client.post(f"{edd}/decision", json={"decision": "reject", "reason": "r"},
                          headers=officer_headers)  # fmt: skip
    assert nothing.status_code == 409 and nothing.json["error"]["code"] == "edd_not_proposed"
    invalid = client.post(f"{edd}/decision", json={"decision": "maybe", "reason": "r"},
                          headers=officer_headers)  # fmt: skip
    assert invalid.status_code == 422
    unknown = client.post(f"{CUSTOMERS}/{uuid.uuid4()}/edd", json={"reason": "r"},
                          headers=officer_headers)  # fmt: skip
    assert unknown.status_code == 404


def test_a_rejected_edd_keeps_the_basic_limits(
    client, db_session, customer, officer, other_officer, sanctions_list
):
    user, headers = customer
    _, officer_headers = officer
    _, other_headers = other_officer
    client.post(KYC, json=kyc_body(politically_exposed=True), headers=headers)
    edd = f"{CUSTOMERS}/{user.public_id}/edd"
    assert client.post(edd, json={"reason": "r"}, headers=officer_headers).status_code == 201
    rejected = client.post(f"{edd}/decision", json={"decision": "reject", "reason": "no SoW"},
                           headers=other_headers)  # fmt: skip
    assert rejected.status_code == 200 and rejected.json["status"] == "rejected"
    db_session.expire_all()
    assert db_session.get(CustomerRisk, user.id).edd_status == "rejected"
