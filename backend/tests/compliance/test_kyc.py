"""KYC: automatic checks, maker-checker decisions, levels and limits, masked documents."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
import sqlalchemy as sa

from app.auth.models import User, UserRole
from app.compliance.models import ComplianceAlert, KycCase
from app.core import uow
from app.core.audit import AuditLog, join_personal
from tests.factories import auth_headers, make_user
from tests.money_helpers import make_account, post

pytestmark = pytest.mark.postgres

KYC = "/api/v1/compliance/kyc"


def body(**overrides):
    data = {
        "first_name": "Claire",
        "last_name": "Dubois",
        "date_of_birth": "1990-05-17",
        "nationality": "FR",
        "address": {
            "line1": "12 rue des Lilas",
            "city": "Lyon",
            "postal_code": "69003",
            "country": "FR",
        },
        "document_type": "passport",
        "document_number": "12AB34567",
    }
    data.update(overrides)
    return data


def _fresh(db_session, user_id) -> User:
    db_session.expire_all()
    return db_session.get(User, user_id)


def _audit(db_session, action, resource_id):
    db_session.expire_all()
    return db_session.scalars(
        sa.select(AuditLog)
        .where(AuditLog.action == action, AuditLog.resource_id == str(resource_id))
        .order_by(AuditLog.id)
    ).all()


def test_clean_submission_is_approved_at_basic_with_the_number_sealed_and_masked(
    client, db_session, customer, sanctions_list
):
    user, headers = customer
    assert client.get(KYC, headers=headers).json == {
        "id": None,
        "status": "none",
        "level": "none",
        "requested_level": None,
        "reasons": [],
        "document_type": None,
        "document_number": None,
        "created_at": None,
        "decided_at": None,
    }
    response = client.post(KYC, json=body(), headers=headers)
    assert response.status_code == 201, response.json
    shown = response.json
    assert shown["status"] == "approved" and shown["level"] == "basic"
    assert shown["reasons"] == []
    assert shown["document_number"] == "•••••4567"
    assert client.get(KYC, headers=headers).json["status"] == "approved"
    assert _fresh(db_session, user.id).kyc_level == "basic"
    assert _fresh(db_session, user.id).kyc_status == "approved"

    case = db_session.scalar(sa.select(KycCase).where(KycCase.public_id == uuid.UUID(shown["id"])))
    assert "12AB34567" not in case.document_number_sealed
    from app.compliance.kyc import reveal_document_number

    assert reveal_document_number(case) == "12AB34567"
    (record,) = _audit(db_session, "kyc.submitted", case.public_id)
    # The masked number is a personal value: kept beside the hashed record, shown joined.
    assert record.changes["document_number"] == "[personal]"
    assert join_personal(record.changes, record.personal)["document_number"] == "***4567"
    assert record.actor_id == str(user.public_id)
    # Asking for the same level again is refused.
    again = client.post(KYC, json=body(), headers=headers)
    assert again.status_code == 409 and again.json["error"]["code"] == "conflict"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        (
            {"date_of_birth": date.today().replace(year=date.today().year - 17).isoformat()},
            "underage",
        ),
        ({"document_number": "ABC"}, "document_number_invalid"),
        (
            {
                "document_type": "national_id",
                "document_number": "12345678A",
                "nationality": "ES",
                "address": {
                    "line1": "Calle Mayor 1",
                    "city": "Madrid",
                    "postal_code": "28013",
                    "country": "ES",
                },
            },
            "document_number_invalid",
        ),
        ({"nationality": "XQ"}, "nationality_unknown"),
        (
            {"address": {"line1": "1 Main St", "city": "X", "postal_code": "1", "country": "ZZ"}},
            "address_country_unknown",
        ),
    ],
)
def test_failed_checks_reject_with_reasons(
    client, db_session, customer, sanctions_list, overrides, code
):
    user, headers = customer
    response = client.post(KYC, json=body(**overrides), headers=headers)
    assert response.status_code == 201, response.json
    assert response.json["status"] == "rejected"
    assert code in [r["code"] for r in response.json["reasons"]]
    assert _fresh(db_session, user.id).kyc_level == "none"


def test_a_valid_spanish_dni_passes_its_checksum(client, customer, sanctions_list):
    _, headers = customer
    response = client.post(
        KYC,
        json=body(
            document_type="national_id",
            document_number="12345678Z",
            nationality="ES",
            address={
                "line1": "Calle Mayor 1",
                "city": "Madrid",
                "postal_code": "28013",
                "country": "ES",
            },
        ),
        headers=headers,
    )
    assert response.json["status"] == "approved", response.json


def test_a_listed_name_goes_to_manual_review_with_an_alert_and_maker_checker_applies(
    app, client, db_session, officer, other_officer, sanctions_list
):
    # Someone who is both a customer and an officer submits their own KYC.
    dual = make_user(db_session, first_name="Viktor", last_name="Karelin")
    db_session.add(UserRole(user_id=dual.id, role="compliance_officer"))
    uow.commit(db_session)
    dual_headers = auth_headers(app, dual)
    response = client.post(
        KYC,
        json=body(
            first_name="Víktor",
            last_name="Karélin",
            date_of_birth="1961-03-14",
            nationality="RU",
            document_number="751234567",
            address={
                "line1": "Tverskaya 1",
                "city": "Moscow",
                "postal_code": "125009",
                "country": "RU",
            },
        ),
        headers=dual_headers,
    )
    assert response.status_code == 201, response.json
    assert response.json["status"] == "manual_review"
    assert [r["code"] for r in response.json["reasons"]] == ["sanctions_match"]
    case_id = response.json["id"]
    alert = db_session.scalar(
        sa.select(ComplianceAlert).where(
            ComplianceAlert.user_id == dual.id, ComplianceAlert.alert_type == "sanctions_hit"
        )
    )
    assert alert.status == "open" and alert.severity == "critical"

    _, officer_headers = officer
    reviews = client.get(f"{KYC}/reviews", headers=officer_headers).json["items"]
    listed = next(r for r in reviews if r["id"] == case_id)
    assert listed["screening"][0]["name"] == "KARELIN, Viktor Semyonovich"
    assert listed["document_number"] == "•••••4567"

    own = client.post(
        f"{KYC}/{case_id}/decision",
        json={"decision": "approve", "reason": "mine"},
        headers=dual_headers,
    )
    assert own.status_code == 403 and own.json["error"]["code"] == "forbidden"

    other, other_headers = other_officer
    decided = client.post(
        f"{KYC}/{case_id}/decision",
        json={"decision": "reject", "reason": "confirmed match, DOB and nationality agree"},
        headers=other_headers,
    )
    assert decided.status_code == 200, decided.json
    assert decided.json["status"] == "rejected"
    assert _fresh(db_session, dual.id).kyc_status == "rejected"
    (record,) = _audit(db_session, "kyc.decided", case_id)
    assert record.actor_id == str(other.public_id) and record.changes["decision"] == "reject"
    twice = client.post(
        f"{KYC}/{case_id}/decision",
        json={"decision": "approve", "reason": "x"},
        headers=other_headers,
    )
    assert twice.status_code == 409


def test_full_level_needs_an_officer_and_raises_the_limits(
    app, client, db_session, customer, officer, sanctions_list
):
    user, headers = customer
    fresh = auth_headers(app, user, fresh=True)
    src = make_account(db_session, user, balance="9000.00")
    dst = make_account(db_session, make_user(db_session))

    def send(amount):
        return post(
            client,
            "/api/v1/transactions/transfer",
            fresh,
            {
                "from_account_id": str(src.public_id),
                "to_account_id": str(dst.public_id),
                "amount": amount,
                "currency": "USD",
            },
        )

    assert send("6000.00").json["error"]["code"] == "limit_exceeded"  # none: 5,000
    assert client.post(KYC, json=body(), headers=headers).json["level"] == "basic"
    assert send("6000.00").status_code == 201  # basic: 10,000
    top_up = post(
        client,
        "/api/v1/transactions/deposit",
        headers,
        {"account_id": str(src.public_id), "amount": "30000.00", "currency": "USD"},
    )
    assert top_up.status_code == 201, top_up.json  # approved customers deposit more
    assert send("12000.00").json["error"]["code"] == "limit_exceeded"

    upgrade = client.post(KYC, json=body(level="full"), headers=headers)
    assert upgrade.json["status"] == "manual_review" and upgrade.json["level"] == "basic"
    assert send("1000.00").status_code == 201  # a pending upgrade keeps the basic limits
    _, officer_headers = officer
    decided = client.post(
        f"{KYC}/{upgrade.json['id']}/decision",
        json={"decision": "approve", "reason": "passport checked by video call"},
        headers=officer_headers,
    )
    assert decided.status_code == 200 and decided.json["level"] == "full"
    assert _fresh(db_session, user.id).kyc_level == "full"
    assert send("12000.00").status_code == 201  # full: 50,000


def test_kyc_body_is_validated(client, customer):
    _, headers = customer
    response = client.post(KYC, json=body(document_type="library_card"), headers=headers)
    assert response.status_code == 422
    assert "document_type" in response.json["error"]["details"]
    extra = client.post(KYC, json=body(favourite_colour="blue"), headers=headers)
    assert extra.status_code == 422
