"""Customer risk rating: factors, levels, re-rating on events (audited), the officer's routes."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from app.compliance import risk
from app.compliance.alerts import raise_alert
from app.compliance.risk_models import CustomerRisk
from app.core import uow
from app.core.audit import AuditLog, join_personal
from tests.factories import make_user
from tests.money_helpers import make_account

pytestmark = pytest.mark.postgres

KYC = "/api/v1/compliance/kyc"
CUSTOMERS = "/api/v1/compliance/customers"


def kyc_body(**overrides):
    data = {
        "first_name": "Claire",
        "last_name": "Dubois",
        "date_of_birth": "1990-05-17",
        "nationality": "FR",
        "address": {"line1": "12 rue des Lilas", "city": "Lyon", "postal_code": "69003",
                    "country": "FR"},
        "document_type": "passport",
        "document_number": "12AB34567",
    }  # fmt: skip
    data.update(overrides)
    return data


def _settings(app, **config):
    return risk.Settings.from_config({**app.config, **config})


def _weights(rating):
    return {f["factor"]: f["weight"] for f in rating.factors}


# --- the factors give the documented level ------------------------------------------------------


def test_a_plain_resident_with_basic_kyc_and_one_account_is_low(app):
    facts = risk.Facts(nationality="FR", residence="FR", kyc_level="basic",
                       products={"accounts": 1})  # fmt: skip
    rating = risk.rate(facts, _settings(app))
    assert rating.level == "low"
    assert rating.score == 10  # kyc_basic
    assert _weights(rating)["kyc_level"] == 10 and _weights(rating)["products"] == 0


def test_a_medium_risk_country_and_two_alerts_make_medium(app):
    facts = risk.Facts(nationality="TR", residence="FR", kyc_level="basic",
                       products={"accounts": 2, "cards": 1}, alerts=2)  # fmt: skip
    rating = risk.rate(facts, _settings(app, RISK_MEDIUM_RISK_COUNTRIES=["TR"]))
    weights = _weights(rating)
    assert weights == {
        "nationality": 15, "residence": 0, "kyc_level": 10, "products": 10, "alerts": 20,
        "cases": 0, "politically_exposed": 0, "cash_activity": 0,
    }  # fmt: skip
    assert rating.score == 55 and rating.level == "medium"


def test_high_risk_residence_with_cash_activity_or_a_pep_is_high(app):
    cash = risk.Facts(nationality="FR", residence="IR", kyc_level="basic", cash_postings=12)
    rating = risk.rate(cash, _settings(app))
    assert _weights(rating)["residence"] == 30 and _weights(rating)["cash_activity"] == 20
    assert rating.score == 60 and rating.level == "high"
    pep = risk.Facts(nationality="FR", residence="FR", kyc_level="full", politically_exposed=True)
    assert risk.rate(pep, _settings(app)).level == "high"
    lowered = _settings(app, RISK_WEIGHTS={**app.config["RISK_WEIGHTS"], "pep": 20})
    assert risk.rate(pep, lowered).level == "low"


def test_caps_and_cutoffs_are_read_from_the_settings(app):
    facts = risk.Facts(kyc_level="full", alerts=9, cases=5)
    rating = risk.rate(facts, _settings(app))
    assert _weights(rating)["alerts"] == 30 and _weights(rating)["cases"] == 40
    assert rating.level == "high"
    assert risk.rate(facts, _settings(app, RISK_LEVEL_CUTOFFS="medium=50,high=90")).level == (
        "medium"
    )


# --- the kept rating, re-rated on events and audited --------------------------------------------


def _rated(db_session, user_id, reason=None):
    db_session.expire_all()
    stmt = sa.select(AuditLog).where(AuditLog.action == "risk.rated").order_by(AuditLog.id)
    rows = [r for r in db_session.scalars(stmt) if r.resource_id == str(user_id)]
    return [r for r in rows if reason is None or r.changes["reason"] == reason]


def test_a_kyc_submission_rates_the_customer_from_its_case_and_audits_the_reasons(
    client, db_session, customer, officer, sanctions_list
):
    user, headers = customer
    _, officer_headers = officer
    make_account(db_session, user)
    response = client.post(KYC, json=kyc_body(politically_exposed=True), headers=headers)
    assert response.status_code == 201, response.json
    shown = client.get(f"{CUSTOMERS}/{user.public_id}/risk", headers=officer_headers)
    assert shown.status_code == 200
    assert set(shown.json) == {"level", "score", "factors", "rated_at", "next_review_due"}
    assert shown.json["level"] == "high" and shown.json["score"] == 70
    factors = {f["factor"]: f for f in shown.json["factors"]}
    assert factors["politically_exposed"] == {"factor": "politically_exposed", "value": True,
                                              "weight": 60}  # fmt: skip
    assert factors["nationality"]["value"] == "FR" and factors["residence"]["value"] == "FR"
    assert factors["products"]["value"] == 1
    (record,) = _rated(db_session, user.public_id, "kyc_submitted")
    assert record.changes["old_level"] is None and record.changes["new_level"] == "high"
    assert record.changes["factors"]["politically_exposed"] == {"value": True, "weight": 60}
    assert record.changes["factors"]["nationality"] == "[personal]"  # personal data, masked
    shown_in_audit = join_personal(record.changes, record.personal)["factors"]["nationality"]
    assert shown_in_audit == {"value": "F***", "weight": 0}
    assert record.changes["edd_status"] == "required"


def test_a_kyc_decision_re_rates_with_the_new_level(
    client, db_session, customer, officer, sanctions_list
):
    user, headers = customer
    _, officer_headers = officer
    assert client.post(KYC, json=kyc_body(), headers=headers).json["level"] == "basic"
    upgrade = client.post(KYC, json=kyc_body(level="full"), headers=headers)
    decided = client.post(f"{KYC}/{upgrade.json['id']}/decision", headers=officer_headers,
                          json={"decision": "approve", "reason": "video call"})  # fmt: skip
    assert decided.status_code == 200
    (record,) = _rated(db_session, user.public_id, "kyc_decided")
    assert record.changes["factors"]["kyc_level"] == {"value": "full", "weight": 0}
    assert record.changes["old_level"] == "low" and record.changes["new_level"] == "low"
    assert record.changes["score"] == 0


def test_a_new_alert_re_rates_and_a_change_of_level_is_audited(
    app, client, db_session, customer, officer, sanctions_list, monkeypatch
):
    user, headers = customer
    _, officer_headers = officer
    client.post(KYC, json=kyc_body(), headers=headers)
    monkeypatch.setitem(app.config, "RISK_LEVEL_CUTOFFS", "medium=20,high=60")
    for kind in ("aml_velocity", "aml_round_amounts"):
        raise_alert(db_session, user_id=user.id, alert_type=kind, severity="medium",
                    explanation="test")  # fmt: skip
        uow.commit(db_session)
    first, second = _rated(db_session, user.public_id, "alert_raised")
    assert (first.changes["old_level"], first.changes["new_level"]) == ("low", "medium")
    assert first.changes["factors"]["alerts"] == {"value": 1, "weight": 10}
    assert second.changes["factors"]["alerts"] == {"value": 2, "weight": 20}
    assert second.changes["score"] == 30
    listed = client.get("/api/v1/compliance/alerts", headers=officer_headers).json["items"]
    mine = [a for a in listed if a["customer_id"] == str(user.public_id)]
    assert mine and mine[0]["customer"] == {"id": str(user.public_id),
                                            "name": f"{user.first_name} {user.last_name}",
                                            "risk_level": "medium"}  # fmt: skip
    detail = client.get(f"/api/v1/compliance/alerts/{mine[0]['id']}", headers=officer_headers)
    assert detail.json["customer"]["risk_level"] == "medium"


def test_an_unchanged_rating_is_not_audited_again(app, db_session, customer, client):
    from app.compliance.rating import rerate

    user, headers = customer
    client.post(KYC, json=kyc_body(), headers=headers)
    before = len(_rated(db_session, user.public_id))
    rerate(db_session, user_id=user.id, reason="nightly")
    uow.commit(db_session)
    assert len(_rated(db_session, user.public_id)) == before


# --- routes ---------------------------------------------------------------------------------------


def test_risk_of_a_customer_never_rated_is_computed_but_not_kept(client, db_session, officer):
    _, officer_headers = officer
    stranger = make_user(db_session)
    shown = client.get(f"{CUSTOMERS}/{stranger.public_id}/risk", headers=officer_headers)
    assert shown.status_code == 200
    assert shown.json["level"] == "low" and shown.json["score"] == 20  # kyc_none
    db_session.expire_all()
    assert db_session.get(CustomerRisk, stranger.id) is None
    missing = client.get(f"{CUSTOMERS}/{uuid.uuid4()}/risk", headers=officer_headers)
    assert missing.status_code == 404


def test_risk_and_overview_are_for_officers_only(client, customer):
    user, headers = customer
    assert client.get(f"{CUSTOMERS}/{user.public_id}/risk", headers=headers).status_code == 403
    assert client.get(f"{CUSTOMERS}/{user.public_id}", headers=headers).status_code == 403


def test_the_customer_overview_shows_kyc_accounts_alerts_cases_risk_and_edd(
    client, db_session, customer, officer, sanctions_list
):
    user, headers = customer
    _, officer_headers = officer
    account = make_account(db_session, user, balance="25.00")
    client.post(KYC, json=kyc_body(nationality="DE", document_country="FR"), headers=headers)
    alert = raise_alert(db_session, user_id=user.id, alert_type="aml_velocity",
                        severity="medium", explanation="test")  # fmt: skip
    uow.commit(db_session)
    resolved = client.post(f"/api/v1/compliance/alerts/{alert.public_id}/resolve",
                           json={"resolution": "escalated", "notes": "to the MLRO"},
                           headers=officer_headers)  # fmt: skip
    assert resolved.status_code == 200
    shown = client.get(f"{CUSTOMERS}/{user.public_id}", headers=officer_headers)
    assert shown.status_code == 200
    body = shown.json
    assert body["name"] == f"{user.first_name} {user.last_name}"
    assert body["kyc_status"] == "approved" and body["kyc_level"] == "basic"
    assert body["kyc_case"]["nationality"] == "DE" and body["kyc_case"]["residence"] == "FR"
    assert body["kyc_case"]["politically_exposed"] is False
    assert [a["id"] for a in body["accounts"]] == [str(account.public_id)]
    assert body["accounts"][0]["balance"] == "25.00"
    assert [a["id"] for a in body["alerts"]] == [str(alert.public_id)]
    assert [c["resolution"] for c in body["cases"]] == ["escalated"]
    factors = {f["factor"]: f["weight"] for f in body["risk"]["factors"]}
    assert factors["cases"] == 20 and factors["alerts"] == 10
    assert body["risk"]["edd_status"] == "not_required" and body["edd"] is None
    assert body["reviews"] == []
    missing = client.get(f"{CUSTOMERS}/{uuid.uuid4()}", headers=officer_headers)
    assert missing.status_code == 404
