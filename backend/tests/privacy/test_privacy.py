"""GDPR: a person exports everything held about them; an officer's approval erases them."""

from __future__ import annotations

import json
import uuid
from datetime import date

import pytest
import sqlalchemy as sa

from app.auth.models import User
from app.cards.issuing import issue_card
from app.compliance import kyc
from app.core import audit, uow
from app.core.audit import AuditLog
from app.core.money import parse_amount
from app.transactions.transfers import transfer
from tests.conftest import unique_email
from tests.factories import DEFAULT_PASSWORD, auth_headers, make_user
from tests.money_helpers import assert_ledger_consistent, make_account

pytestmark = pytest.mark.postgres

# The sections in the order they run: the erasers in this order (those that need the person's
# name as it was come first), the hold reasons in this order, and the audit records list them so.
SECTIONS = [
    "alerts",
    "sanctions_screenings",
    "kyc",
    "profile",
    "consents",
    "sessions",
    "passkeys",
    "linked_sign_ins",
    "accounts",
    "transactions",
    "cases",
    "email_outbox",
    "audit_records",
    "erasure_requests",
    "cards",
    "wealth",
    "events",
]
EXPORTED = [
    "sanctions_screenings",
    "kyc",
    "profile",
    "consents",
    "sessions",
    "passkeys",
    "linked_sign_ins",
    "accounts",
    "transactions",
    "audit_records",
    "erasure_requests",
    "cards",
    "wealth",
    "events",
]


def _letters(n: int) -> str:
    return "".join(chr(ord("a") + b % 26) for b in uuid.uuid4().bytes[:n])


@pytest.fixture
def officer(app, db_session):
    user = make_user(db_session, role="compliance_officer")
    return user, auth_headers(app, user)


@pytest.fixture
def person(app, client, db_session, monkeypatch):
    """A customer registered through the API (so the e-mail outbox holds their address), with
    an account whose money came and went, and a session of their own. Names, e-mail and IP
    are this test's own, so that a search for them finds no other test's rows."""
    first, last = f"Zephyrine{_letters(6)}", f"Quillfeather{_letters(6)}"
    ip = f"198.51.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    email = unique_email("zephyrine")
    registered = client.post(
        "/api/v1/auth/register",
        json={
            "email": email,
            "password": DEFAULT_PASSWORD,
            "first_name": first,
            "last_name": last,
            "terms_accepted": True,
            "privacy_accepted": True,
        },
        headers={"User-Agent": "Zephyrine-Phone/1.0"},
        environ_base={"REMOTE_ADDR": ip},
    )
    assert registered.status_code == 201, registered.json
    user = db_session.scalar(sa.select(User).where(User.email == email))
    kyc.submit(
        db_session,
        user=user,
        first_name=first,
        last_name=last,
        date_of_birth=date(1990, 4, 1),
        nationality="DE",
        address={
            "line1": f"{last} Strasse 7",
            "city": "Berlin",
            "postal_code": "10115",
            "country": "DE",
        },
        document_type="passport",
        document_number="C01X00T47",
    )
    friend = make_user(db_session)
    friends_account = make_account(db_session, friend, balance="50.00")
    account = make_account(db_session, user)
    monkeypatch.setitem(app.config, "CARD_REQUIRE_KYC", False)
    issue_card(
        db_session,
        user=user,
        account_id=account.public_id,
        card_type="virtual",
        cardholder_name=first.upper(),
    )
    usd = lambda text: parse_amount(text, "USD")  # noqa: E731
    transfer(
        db_session,
        user_id=friend.id,
        from_account_id=friends_account.public_id,
        to_account_id=account.public_id,
        amount=usd("20.00"),
        currency="USD",
    )
    return user, account, friends_account, auth_headers(app, user), ip


def test_export_holds_every_personal_datum_and_is_audited(client, db_session, person):
    user, account, _, headers, ip = person
    response = client.get("/api/v1/privacy/export", headers=headers)
    assert response.status_code == 200
    body = response.json
    assert body["profile"]["email"] == user.email
    assert body["profile"]["first_name"].startswith("Zephyrine")
    assert body["consents"]["privacy_accepted_at"] is not None
    assert len(body["sessions"]) >= 1
    assert [a["id"] for a in body["accounts"]] == [str(account.public_id)]
    assert body["accounts"][0]["balance"] == "20.00"
    assert [t["amount"] for t in body["transactions"]] == ["20.00"]
    assert [case["document_number"] for case in body["kyc"]] == ["***0T47"]
    assert body["kyc"][0]["last_name"] == user.last_name
    (card,) = body["cards"]
    assert card["pan"].startswith("**** **** **** ") and len(card["pan"]) == 19
    assert card["cardholder_name"] == user.first_name.upper()
    actions = {record["action"] for record in body["audit_records"]}
    assert "user.created" in actions
    created = next(r for r in body["audit_records"] if r["action"] == "user.created")
    assert created["ip"] == ip
    assert created["changes"]["email"].endswith("@example.com")  # masked, as stored
    assert created["changes"]["email"] != user.email
    db_session.expire_all()
    exported = db_session.scalars(
        sa.select(audit.AuditLog).where(
            audit.AuditLog.action == "privacy.exported",
            audit.AuditLog.resource_id == str(user.public_id),
        )
    ).all()
    assert len(exported) == 1


def _audited_sections(db_session, action: str, user: User) -> list[str]:
    db_session.expire_all()
    (record,) = db_session.scalars(
        sa.select(audit.AuditLog).where(
            audit.AuditLog.action == action,
            audit.AuditLog.resource_id == str(user.public_id),
        )
    ).all()
    return record.changes["sections"]


def test_the_export_body_and_its_audit_record_keep_their_order(client, db_session, person):
    user, _, _, headers, _ = person
    response = client.get("/api/v1/privacy/export", headers=headers)
    assert response.status_code == 200
    keys = [key for key, _ in json.loads(response.get_data(), object_pairs_hook=list)]
    assert keys == sorted([*EXPORTED, "generated_at"])
    assert _audited_sections(db_session, "privacy.exported", user) == EXPORTED


def _tables_holding(db_session, *needles: str) -> dict[str, list[str]]:
    """Every table whose rows, as text, still hold one of the needles."""
    found = {}
    tables = db_session.scalars(
        sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    ).all()
    for table in tables:
        for needle in needles:
            hits = db_session.scalar(
                sa.text(f'SELECT count(*) FROM "{table}" t WHERE t::text ILIKE :needle'),
                {"needle": f"%{needle}%"},
            )
            if hits:
                found.setdefault(table, []).append(needle)
    return found


def test_approved_erasure_pseudonymizes_and_both_verifies_stay_clean(
    app, client, db_session, person, officer
):
    user, account, friends_account, headers, ip = person
    email, first, last = user.email, user.first_name, user.last_name
    # Empty the account first: money held is a legal hold.
    transfer(
        db_session,
        user_id=user.id,
        from_account_id=account.public_id,
        to_account_id=friends_account.public_id,
        amount=parse_amount("20.00", "USD"),
        currency="USD",
    )
    assert _tables_holding(db_session, email, first, last, ip)  # the test can fail

    asked = client.post("/api/v1/privacy/erasure-request", headers=headers)
    assert asked.status_code == 202
    assert asked.json["status"] == "pending"
    request_id = asked.json["id"]

    _, officer_headers = officer
    waiting = client.get(
        "/api/v1/compliance/erasure-requests",
        query_string={"status": "pending"},
        headers=officer_headers,
    )
    assert waiting.status_code == 200
    mine = [r for r in waiting.json["items"] if r["id"] == request_id]
    assert mine and mine[0]["user_id"] == str(user.public_id)

    decided = client.post(
        f"/api/v1/compliance/erasure-requests/{request_id}/decision",
        json={"decision": "approve", "reason": "Article 17 request, no retention duty left"},
        headers=officer_headers,
    )
    assert decided.status_code == 200, decided.json
    assert decided.json["status"] == "approved"
    assert _audited_sections(db_session, "privacy.erasure_approved", user) == SECTIONS

    db_session.expire_all()
    assert _tables_holding(db_session, email, first, last, ip, "C01X00T47") == {}
    # The login is disabled, the old token too.
    login = client.post("/api/v1/auth/login", json={"login": email, "password": DEFAULT_PASSWORD})
    assert login.status_code == 401
    assert client.get("/api/v1/privacy/export", headers=headers).status_code == 401
    # Ledger and audit stay, and both verify.
    assert_ledger_consistent(app)
    result = audit.verify(db_session)
    assert result.valid, result.reason
    again = client.post(
        f"/api/v1/compliance/erasure-requests/{request_id}/decision",
        json={"decision": "approve", "reason": "twice"},
        headers=officer_headers,
    )
    assert again.status_code == 409 and again.json["error"]["code"] == "already_decided"


@pytest.mark.parametrize("key", [None, "erasure-decision-1"], ids=["no key", "idempotency key"])
def test_a_balance_is_a_legal_hold_refused_with_its_reason(
    client, db_session, person, officer, key
):
    """With or without an Idempotency-Key, the refusal keeps the request `legal_hold` and its
    `privacy.erasure_held` failure record."""
    user, account, _, headers, _ = person
    request_id = client.post("/api/v1/privacy/erasure-request", headers=headers).json["id"]
    _, officer_headers = officer
    refused = client.post(
        f"/api/v1/compliance/erasure-requests/{request_id}/decision",
        json={"decision": "approve", "reason": "requested"},
        headers={**officer_headers, **({"Idempotency-Key": key} if key else {})},
    )
    assert refused.status_code == 409
    error = refused.json["error"]
    assert error["code"] == "legal_hold"
    assert error["details"]["reasons"] == [
        f"account ***{account.account_number[-4:]} holds a balance of 20.00 USD"
    ]
    assert "20.00 USD" in error["message"]
    db_session.expire_all()
    assert db_session.get(User, user.id).email == user.email  # nothing was erased
    held = client.get(
        "/api/v1/compliance/erasure-requests",
        query_string={"status": "legal_hold"},
        headers=officer_headers,
    )
    assert request_id in [r["id"] for r in held.json["items"]]
    records = db_session.execute(
        sa.select(AuditLog.action, AuditLog.outcome).where(AuditLog.resource_id == request_id)
    ).all()
    assert ("privacy.erasure_held", "failure") in records


def test_the_hold_reasons_come_in_the_order_of_the_sections(client, db_session, person, officer):
    from app.compliance.models import ComplianceAlert

    user, account, _, headers, _ = person
    db_session.add(
        ComplianceAlert(alert_type="manual", severity="medium", status="open", user_id=user.id)
    )
    uow.commit(db_session)
    request_id = client.post("/api/v1/privacy/erasure-request", headers=headers).json["id"]
    refused = client.post(
        f"/api/v1/compliance/erasure-requests/{request_id}/decision",
        json={"decision": "approve", "reason": "requested"},
        headers=officer[1],
    )
    assert refused.status_code == 409
    assert refused.json["error"]["details"]["reasons"] == [
        f"account ***{account.account_number[-4:]} holds a balance of 20.00 USD",
        "1 compliance case(s) about the person are open",
    ]


def test_an_open_case_is_a_legal_hold(app, client, db_session, officer):
    from app.compliance.models import ComplianceAlert

    user = make_user(db_session, first_name="Case", last_name="Subject")
    db_session.add(
        ComplianceAlert(alert_type="manual", severity="medium", status="open", user_id=user.id)
    )
    uow.commit(db_session)
    request_id = client.post(
        "/api/v1/privacy/erasure-request", headers=auth_headers(app, user)
    ).json["id"]
    refused = client.post(
        f"/api/v1/compliance/erasure-requests/{request_id}/decision",
        json={"decision": "approve", "reason": "requested"},
        headers=officer[1],
    )
    assert refused.status_code == 409
    assert refused.json["error"]["details"]["reasons"] == [
        "1 compliance case(s) about the person are open"
    ]


def test_a_rejected_request_changes_nothing(app, client, db_session, officer):
    user = make_user(db_session)
    request_id = client.post(
        "/api/v1/privacy/erasure-request", headers=auth_headers(app, user)
    ).json["id"]
    rejected = client.post(
        f"/api/v1/compliance/erasure-requests/{request_id}/decision",
        json={"decision": "reject", "reason": "open tax retention period"},
        headers=officer[1],
    )
    assert rejected.status_code == 200 and rejected.json["status"] == "rejected"
    assert rejected.json["decision_reason"] == "open tax retention period"
    db_session.expire_all()
    assert db_session.get(User, user.id).is_active is True
    missing = client.post(
        f"/api/v1/compliance/erasure-requests/{uuid.uuid4()}/decision",
        json={"decision": "reject", "reason": "x"},
        headers=officer[1],
    )
    assert missing.status_code == 404
