"""Case review: list with filters and keyset pages, one alert with its transactions, assign,
resolve; audited with the officer as actor; customers get 403 everywhere in compliance."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.compliance.cases import get_alert
from app.core import uow
from app.core.audit import AuditLog
from tests.compliance.test_aml import START, Customer

pytestmark = pytest.mark.postgres

ALERTS = "/api/v1/compliance/alerts"


@pytest.fixture
def suspicious(db_session, scripted_monitoring):
    """A customer with three open alerts: cash threshold, high-risk country, round amounts."""
    person = Customer(db_session)
    person.move("in", "11000.00", START, channel="cash")
    person.move("out", "100.00", START + timedelta(hours=1), country="KP")
    for day in (1, 2, 3):
        person.move("out", "1000.00", START + timedelta(days=day))
    return person


def _actions(db_session, alert_id):
    db_session.expire_all()
    return db_session.execute(
        sa.select(AuditLog.action, AuditLog.actor_id)
        .where(AuditLog.resource_id == str(alert_id))
        .order_by(AuditLog.id)
    ).all()


def test_alerts_filter_and_page(client, officer, suspicious):
    _, headers = officer
    customer_id = str(suspicious.user.public_id)
    everything = client.get(ALERTS, query_string={"customer_id": customer_id}, headers=headers)
    assert everything.status_code == 200
    assert sorted(a["type"] for a in everything.json["items"]) == [
        "cash_threshold",
        "high_risk_country",
        "round_amounts",
    ]
    high = client.get(
        ALERTS, query_string={"customer_id": customer_id, "severity": "high"}, headers=headers
    ).json["items"]
    assert [a["type"] for a in high] == ["high_risk_country"]
    by_type = client.get(
        ALERTS, query_string={"customer_id": customer_id, "type": "round_amounts"}, headers=headers
    ).json["items"]
    assert len(by_type) == 1 and by_type[0]["status"] == "open"

    seen, cursor = [], None
    while True:
        query = {"customer_id": customer_id, "limit": 2}
        if cursor:
            query["cursor"] = cursor
        page = client.get(ALERTS, query_string=query, headers=headers).json
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 3 == len(set(seen))
    bad = client.get(ALERTS, query_string={"cursor": "nonsense"}, headers=headers)
    assert bad.status_code == 422


def test_one_alert_with_its_transactions_then_assign_and_resolve(
    app, client, db_session, officer, other_officer, suspicious
):
    me, headers = officer
    (listed,) = client.get(
        ALERTS,
        query_string={"customer_id": str(suspicious.user.public_id), "type": "cash_threshold"},
        headers=headers,
    ).json["items"]
    alert_id = listed["id"]
    one = client.get(f"{ALERTS}/{alert_id}", headers=headers)
    assert one.status_code == 200
    detail = one.json
    assert detail["customer_id"] == str(suspicious.user.public_id)
    assert [t["amount"] for t in detail["transactions"]] == ["11000.00"]
    assert detail["transactions"][0]["type"] == "deposit"
    assert "11000.00 USD" in detail["explanation"]

    other, _ = other_officer
    assigned = client.post(
        f"{ALERTS}/{alert_id}/assign", json={"assignee_id": str(other.public_id)}, headers=headers
    )
    assert assigned.status_code == 200 and assigned.json["assigned_to"] == str(other.public_id)
    not_officer = client.post(
        f"{ALERTS}/{alert_id}/assign",
        json={"assignee_id": str(suspicious.user.public_id)},
        headers=headers,
    )
    assert not_officer.status_code == 422

    resolved = client.post(
        f"{ALERTS}/{alert_id}/resolve",
        json={"resolution": "sar_filed", "notes": "cash from an unexplained source"},
        headers=headers,
    )
    assert resolved.status_code == 200, resolved.json
    body = resolved.json
    assert body["status"] == "resolved" and body["resolution"] == "sar_filed"
    assert body["resolved_by"] == str(me.public_id)
    assert [n["kind"] for n in body["notes_history"]] == ["assigned", "sar_filed"]
    again = client.post(
        f"{ALERTS}/{alert_id}/resolve",
        json={"resolution": "dismissed", "notes": "x"},
        headers=headers,
    )
    assert again.status_code == 409

    actions = _actions(db_session, alert_id)
    assert ("compliance.alert_raised", None) in [(a, None) for a, _ in actions]
    assert ("compliance.alert_assigned", str(me.public_id)) in actions
    assert ("compliance.alert_resolved", str(me.public_id)) in actions

    # The service read a SAR draft uses: who, what, when, amounts, rule, notes.
    with app.app_context():
        from app.core.extensions import db

        alert = get_alert(db.session, alert_id=uuid.UUID(alert_id))
        assert alert.user.public_id == suspicious.user.public_id
        assert alert.alert_type == "cash_threshold" and alert.notes.startswith("cash from")
        assert [link.transaction.amount for link in alert.links] == [1_100_000]
        db.session.remove()


def test_repeated_hits_join_the_open_case_and_a_new_case_opens_after_resolution(
    client, db_session, officer, suspicious
):
    _, headers = officer
    suspicious.move("out", "40.00", START + timedelta(days=5), country="KP")
    (case,) = [a for a in suspicious.alerts() if a.alert_type == "high_risk_country"]
    assert case.hit_count == 2
    client.post(
        f"{ALERTS}/{case.public_id}/resolve",
        json={"resolution": "escalated", "notes": "to the MLRO"},
        headers=headers,
    )
    suspicious.move("out", "30.00", START + timedelta(days=6), country="KP")
    cases = [a for a in suspicious.alerts() if a.alert_type == "high_risk_country"]
    assert sorted(a.status for a in cases) == ["open", "resolved"]


def test_an_officer_cannot_review_an_alert_about_themself(
    app, client, db_session, scripted_monitoring
):
    from app.auth.models import UserRole
    from tests.factories import auth_headers

    person = Customer(db_session)
    person.move("in", "12000.00", START, channel="cash")
    db_session.add(UserRole(user_id=person.user.id, role="compliance_officer"))
    uow.commit(db_session)
    (alert,) = person.alerts()
    response = client.post(
        f"{ALERTS}/{alert.public_id}/resolve",
        json={"resolution": "dismissed", "notes": "nothing to see"},
        headers=auth_headers(app, person.user),
    )
    assert response.status_code == 403


def test_unknown_alert_is_404(client, officer):
    _, headers = officer
    response = client.get(f"{ALERTS}/{uuid.uuid4()}", headers=headers)
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


def test_a_customer_gets_403_on_every_compliance_endpoint(app, client, customer):
    _, headers = customer
    own = {("POST", "/api/v1/compliance/kyc"), ("GET", "/api/v1/compliance/kyc")}
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/compliance"):
            continue
        path = rule.rule
        for arg in rule.arguments:
            path = path.replace(f"<uuid:{arg}>", str(uuid.uuid4())).replace(f"<{arg}>", "x")
            path = path.replace(f"<int:{arg}>", "1")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if (method, rule.rule) in own:
                continue
            response = client.open(path, method=method, json={}, headers=headers)
            assert response.status_code == 403, (method, rule.rule, response.json)
            assert response.json["error"]["code"] == "forbidden"
            checked += 1
    assert checked >= 9


def test_officers_cannot_submit_kyc(client, officer):
    _, headers = officer
    assert client.get("/api/v1/compliance/kyc", headers=headers).status_code == 403


def test_unauthenticated_is_401(client):
    assert client.get(ALERTS).status_code == 401


def test_a_busy_case_keeps_its_latest_hits(db_session):
    """A hit on an open case is added to it: the latest MAX_HITS_KEPT are kept, newest last,
    the other keys of `details` kept, the highest severity kept."""
    from app.compliance.alerts import MAX_HITS_KEPT, raise_alert
    from app.compliance.models import ComplianceAlert
    from tests.factories import make_user

    user = make_user(db_session)
    total = MAX_HITS_KEPT + 3
    for n in range(total):
        alert = raise_alert(
            db_session,
            user_id=user.id,
            alert_type="velocity",
            severity="high" if n == 7 else "medium",
            explanation=f"hit {n}",
            details={"n": n},
        )
        if n == 0:
            alert.details = {**alert.details, "note": "kept"}
        uow.commit(db_session)
    db_session.expire_all()
    (case,) = db_session.scalars(
        sa.select(ComplianceAlert).where(ComplianceAlert.user_id == user.id)
    ).all()
    hits = case.details["hits"]
    assert case.hit_count == total and case.severity == "high"
    assert len(hits) == MAX_HITS_KEPT
    assert [h["explanation"] for h in hits] == [f"hit {n}" for n in range(3, total)]
    assert hits[-1]["facts"] == {"n": total - 1}
    assert case.details["note"] == "kept" and case.explanation == f"hit {total - 1}"
