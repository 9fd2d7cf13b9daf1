"""AML rule settings: versions in the database, maker-checker proposals, the running rules
reading the current version (cached per process), and the routes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.compliance.aml import versions
from app.compliance.aml.params import RULE_NAMES, params_of, validate
from app.compliance.models import AmlRuleVersion, ComplianceAlert
from app.core.audit import AuditLog
from app.core.errors import ValidationError
from app.core.money import parse_amount
from app.transactions.deposits import deposit
from tests.factories import make_user
from tests.money_helpers import make_account, post

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("aml_rule_params")]

RULES = "/api/v1/compliance/rules"


def _propose(client, headers, rule, params, reason="Tuning after the quarterly review"):
    return post(client, f"{RULES}/{rule}/proposals", headers, {"params": params, "reason": reason})


def _decide(client, headers, proposal_id, decision="approve", reason="Checked the backtest"):
    return post(
        client,
        f"{RULES}/proposals/{proposal_id}/decision",
        headers,
        {"decision": decision, "reason": reason},
    )


def _rule(client, headers, name):
    listed = client.get(RULES, headers=headers)
    assert listed.status_code == 200, listed.json
    return next(r for r in listed.json["items"] if r["rule"] == name)


def _actions(db_session, resource_id):
    db_session.expire_all()
    return [
        row.action
        for row in db_session.scalars(
            sa.select(AuditLog)
            .where(AuditLog.resource_id == str(resource_id))
            .order_by(AuditLog.id)
        )
    ]


def test_the_rules_are_listed_with_the_environments_values_as_version_one(app, client, officer):
    _, headers = officer
    listed = client.get(RULES, headers=headers)
    assert listed.status_code == 200
    rules = {r["rule"]: r for r in listed.json["items"]}
    assert sorted(rules) == sorted(RULE_NAMES)
    cash = rules["cash_threshold"]
    assert cash["params"] == {"threshold": app.config["AML_CASH_THRESHOLD"]}
    assert rules["velocity"]["params"] == {
        "hours": app.config["AML_VELOCITY_HOURS"],
        "max_count": app.config["AML_VELOCITY_MAX_COUNT"],
    }
    assert rules["high_risk_country"]["params"]["countries"] == sorted(
        app.config["AML_HIGH_RISK_COUNTRIES"]
    )
    assert [s["name"] for s in rules["structuring"]["param_specs"]] == [
        "threshold",
        "days",
        "near",
        "min_count",
    ]
    assert all(r["version"] >= 1 for r in rules.values())


def test_the_rules_are_for_officers_only(app, client, customer):
    _, headers = customer
    assert client.get(RULES, headers=headers).status_code == 403
    assert client.get(RULES).status_code == 401


def test_a_rule_change_needs_a_second_officer(client, db_session, officer, other_officer):
    (maker, maker_headers), (checker, checker_headers) = officer, other_officer
    before = _rule(client, maker_headers, "velocity")
    proposed = _propose(client, maker_headers, "velocity", {"max_count": 7})
    assert proposed.status_code == 201, proposed.json
    body = proposed.json
    assert body["status"] == "pending" and body["version"] is None
    assert body["base_version"] == before["version"]
    assert body["params"] == {**before["params"], "max_count": 7}
    assert body["proposed_by"]["id"] == str(maker.public_id)
    assert _rule(client, maker_headers, "velocity")["params"] == before["params"]

    own = _decide(client, maker_headers, body["id"])
    assert own.status_code == 403
    assert own.json["error"]["code"] == "proposal_needs_another_officer"
    assert _rule(client, maker_headers, "velocity")["version"] == before["version"]

    approved = _decide(client, checker_headers, body["id"])
    assert approved.status_code == 200, approved.json
    assert approved.json["status"] == "approved"
    assert approved.json["version"] == before["version"] + 1
    assert approved.json["decided_by"]["id"] == str(checker.public_id)
    now = _rule(client, maker_headers, "velocity")
    assert now["version"] == before["version"] + 1 and now["params"]["max_count"] == 7
    assert now["approved_by"]["id"] == str(checker.public_id)

    again = _decide(client, checker_headers, body["id"], "reject")
    assert again.status_code == 409
    assert again.json["error"]["code"] == "proposal_already_decided"
    assert _actions(db_session, body["id"]) == [
        "compliance.rule_change_proposed",
        "compliance.rule_change_approved",
    ]


def test_a_rejected_proposal_changes_nothing(client, db_session, officer, other_officer):
    (_, maker_headers), (_, checker_headers) = officer, other_officer
    before = _rule(client, maker_headers, "dormant_account")
    proposed = _propose(client, maker_headers, "dormant_account", {"days": 30}).json
    rejected = _decide(client, checker_headers, proposed["id"], "reject", "Too noisy")
    assert rejected.status_code == 200
    assert rejected.json["status"] == "rejected" and rejected.json["version"] is None
    assert rejected.json["decision_reason"] == "Too noisy"
    assert _rule(client, maker_headers, "dormant_account") == before
    assert _actions(db_session, proposed["id"]) == [
        "compliance.rule_change_proposed",
        "compliance.rule_change_rejected",
    ]


def test_a_proposal_made_against_an_older_version_is_refused(client, officer, other_officer):
    (_, maker_headers), (_, checker_headers) = officer, other_officer
    first = _propose(client, maker_headers, "round_amounts", {"min_count": 4}).json
    second = _propose(client, maker_headers, "round_amounts", {"days": 10}).json
    assert _decide(client, checker_headers, first["id"]).status_code == 200
    late = _decide(client, checker_headers, second["id"])
    assert late.status_code == 409 and late.json["error"]["code"] == "proposal_outdated"
    # It can still be rejected.
    assert _decide(client, checker_headers, second["id"], "reject").status_code == 200


@pytest.mark.parametrize(
    ("rule", "params", "field"),
    [
        ("velocity", {"max_count": "7"}, "params.max_count"),  # a string for a count
        ("velocity", {"max_count": 7.5}, "params.max_count"),
        ("velocity", {"max_count": True}, "params.max_count"),
        ("velocity", {"max_count": 1}, "params.max_count"),  # below its range
        ("velocity", {"hours": 100_000}, "params.hours"),
        ("velocity", {"limit": 3}, "params.limit"),  # unknown
        ("velocity", {}, "params"),
        ("cash_threshold", {"threshold": 10000}, "params.threshold"),  # money as a number
        ("cash_threshold", {"threshold": "10,000"}, "params.threshold"),
        ("cash_threshold", {"threshold": "-5"}, "params.threshold"),
        ("cash_threshold", {"threshold": "0"}, "params.threshold"),
        ("cash_threshold", {"threshold": "JPY=1500000"}, "params.threshold"),  # no default
        ("cash_threshold", {"threshold": "10000,XX=5"}, "params.threshold"),
        ("rapid_movement", {"ratio": 1.5}, "params.ratio"),
        ("rapid_movement", {"ratio": "0.8"}, "params.ratio"),
        ("high_risk_country", {"countries": "IR"}, "params.countries"),
        ("high_risk_country", {"countries": ["IRN"]}, "params.countries"),
    ],
)
def test_params_are_validated_per_rule(client, officer, rule, params, field):
    _, headers = officer
    answer = _propose(client, headers, rule, params)
    assert answer.status_code == 422, answer.json
    assert answer.json["error"]["code"] == "validation_error"
    assert field in answer.json["error"]["details"], answer.json


def test_the_request_itself_is_validated(client, officer):
    _, headers = officer
    assert _propose(client, headers, "no_such_rule", {"days": 3}).status_code == 404
    assert _propose(client, headers, "velocity", {"hours": 12}, reason="  ").status_code == 422
    unknown_field = post(
        client, f"{RULES}/velocity/proposals", headers, {"params": {"hours": 12}, "why": "x"}
    )
    assert unknown_field.status_code == 422
    unchanged = _propose(client, headers, "velocity", _rule(client, headers, "velocity")["params"])
    assert unchanged.status_code == 422 and "params" in unchanged.json["error"]["details"]


def test_valid_params_are_normalized():
    assert validate("cash_threshold", {"threshold": " 9000.50 , jpy = 1200000"}) == {
        "threshold": "9000.50,JPY=1200000"
    }
    assert validate("high_risk_country", {"countries": ["kp", "IR", "KP"]}) == {
        "countries": ["IR", "KP"]
    }
    assert validate("rapid_movement", {"ratio": 1}) == {"ratio": 1.0}
    with pytest.raises(ValidationError):
        validate("dormant_account", {"days": 0})


def test_deciding_an_unknown_proposal_is_404(client, officer):
    _, headers = officer
    missing = _decide(client, headers, "00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "proposal_not_found"
    bad = post(
        client,
        f"{RULES}/proposals/00000000-0000-4000-8000-000000000000/decision",
        headers,
        {"decision": "maybe", "reason": "x"},
    )
    assert bad.status_code == 422


def test_proposals_are_listed_bare_and_by_each_parameter(client, officer, other_officer):
    (_, maker_headers), (_, checker_headers) = officer, other_officer
    a = _propose(client, maker_headers, "structuring", {"days": 5}).json
    b = _propose(client, maker_headers, "rapid_movement", {"hours": 12}).json
    _decide(client, checker_headers, b["id"], "reject")

    bare = client.get(f"{RULES}/proposals", headers=maker_headers)
    assert bare.status_code == 200
    ids = [p["id"] for p in bare.json["items"]]
    assert ids.index(b["id"]) < ids.index(a["id"])  # newest first
    assert all(p["proposed_by"] is not None for p in bare.json["items"])  # no seeded versions

    pending = client.get(f"{RULES}/proposals?status=pending", headers=maker_headers).json
    assert a["id"] in [p["id"] for p in pending["items"]]
    assert all(p["status"] == "pending" for p in pending["items"])
    rejected = client.get(f"{RULES}/proposals?status=rejected", headers=maker_headers).json
    assert b["id"] in [p["id"] for p in rejected["items"]]

    by_rule = client.get(f"{RULES}/proposals?rule=structuring", headers=maker_headers).json
    assert {p["rule"] for p in by_rule["items"]} == {"structuring"}

    first = client.get(f"{RULES}/proposals?limit=1", headers=maker_headers).json
    assert [p["id"] for p in first["items"]] == [b["id"]] and first["next_cursor"]
    second = client.get(
        f"{RULES}/proposals?limit=1&cursor={first['next_cursor']}", headers=maker_headers
    ).json
    assert [p["id"] for p in second["items"]] == [a["id"]]

    assert client.get(f"{RULES}/proposals?status=maybe", headers=maker_headers).status_code == 422
    assert client.get(f"{RULES}/proposals?rule=nope", headers=maker_headers).status_code == 422


# --- the running rules read the current version ---------------------------------------------


def _cash(db_session, user, account, amount):
    return deposit(
        db_session,
        user=user,
        account_id=account.public_id,
        amount=parse_amount(amount, "USD"),
        currency="USD",
        channel="cash",
    )


def _alerts(db_session, user, rule):
    db_session.expire_all()
    return db_session.scalars(
        sa.select(ComplianceAlert).where(
            ComplianceAlert.user_id == user.id, ComplianceAlert.alert_type == rule
        )
    ).all()


def test_an_approved_version_applies_to_the_next_posting(
    app, client, db_session, officer, other_officer, monkeypatch
):
    monkeypatch.setitem(app.config, "AML_RULES_CACHE_SECONDS", 3600)  # the approval empties it
    (_, maker_headers), (_, checker_headers) = officer, other_officer
    person = make_user(db_session, kyc_status="approved", kyc_level="full")
    account = make_account(db_session, person, currency="USD")
    _cash(db_session, person, account, "3000.00")
    assert _alerts(db_session, person, "cash_threshold") == []  # 10,000 is the line

    proposal = _propose(client, maker_headers, "cash_threshold", {"threshold": "4000"}).json
    _cash(db_session, person, account, "1500.00")  # proposed, not approved: 4,500 passes
    assert _alerts(db_session, person, "cash_threshold") == []

    assert _decide(client, checker_headers, proposal["id"]).status_code == 200
    third = _cash(db_session, person, account, "100.00")  # 4,600 today, over the new line
    (alert,) = _alerts(db_session, person, "cash_threshold")
    assert alert.details["hits"][0]["transaction_ids"][-1] == third.id
    assert "4000.00 USD daily threshold" in alert.explanation


def test_a_version_approved_elsewhere_applies_once_the_cache_is_checked(
    app, db_session, monkeypatch
):
    """Another process's approval: this one sees it after AML_RULES_CACHE_SECONDS."""
    from tests.compliance.conftest import _write_version

    monkeypatch.setitem(app.config, "AML_RULES_CACHE_SECONDS", 3600)
    versions.forget_cached(app)
    before = versions.current_settings(db_session)
    _write_version(app, "velocity", {"max_count": 4})
    app.extensions[versions._EXTENSION] = versions._Cached(  # as it was before the write
        versions._marker(db_session) - 1, 0, before
    )
    monkeypatch.setitem(app.config, "AML_RULES_CACHE_SECONDS", 10**9)
    assert versions.current_settings(db_session).velocity_max_count == before.velocity_max_count
    monkeypatch.setitem(app.config, "AML_RULES_CACHE_SECONDS", 0)
    assert versions.current_settings(db_session).velocity_max_count == 4


def test_version_one_is_seeded_once_from_the_environment(app, db_session):
    versions.seed_versions(db_session)
    versions.seed_versions(db_session)
    ones = db_session.scalars(sa.select(AmlRuleVersion).where(AmlRuleVersion.version == 1)).all()
    assert sorted(row.rule for row in ones) == sorted(RULE_NAMES)
    cash = next(row for row in ones if row.rule == "cash_threshold")
    assert cash.params == params_of(versions.defaults(), "cash_threshold")
    assert cash.proposed_by_id is None and cash.reason == versions.SEED_REASON


def test_the_routes_are_in_the_api_spec(client):
    paths = client.get("/openapi.json").json["paths"]
    assert "/api/v1/compliance/rules/{rule}/proposals" in paths
    assert "/api/v1/compliance/rules/proposals/{proposal_id}/decision" in paths
    assert "/api/v1/compliance/rules/{rule}/backtest" in paths
