"""Registration: e-mail validation, consent, password policy, duplicates, e-mail verification."""

import re

import pytest
import sqlalchemy as sa

from app.auth.models import EmailOutbox, User
from app.core import crypto
from tests.auth.helpers import STRONG_PASSWORD, audit_rows, login, registration

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

USER_FIELDS = {
    "id",
    "email",
    "username",
    "first_name",
    "last_name",
    "roles",
    "email_verified",
    "mfa_enabled",
    "kyc_status",
    "base_currency",
    "created_at",
}


def test_register_creates_a_customer_with_consent_recorded(client, db_session, app):
    body = registration(username="Grace.H-" + registration()["email"][4:12])
    response = client.post("/api/v1/auth/register", json=body)
    assert response.status_code == 201
    user = response.get_json()["user"]
    assert set(user) == USER_FIELDS
    assert user["email"] == body["email"]
    assert user["username"] == body["username"].lower()
    assert user["roles"] == ["customer"]
    assert user["email_verified"] is False and user["mfa_enabled"] is False
    assert user["created_at"].endswith("Z")

    stored = db_session.scalar(sa.select(User).where(User.email == body["email"]))
    assert stored.terms_accepted_at is not None and stored.privacy_accepted_at is not None
    assert stored.policy_version == app.config["POLICY_VERSION"]
    assert stored.password_hash.startswith("$argon2id$")
    assert audit_rows(db_session, action="auth.registered", resource_id=user["id"])


def test_email_is_validated_and_normalized(client):
    response = client.post("/api/v1/auth/register", json=registration(email="not-an-email"))
    assert response.status_code == 422
    assert response.get_json()["error"]["details"]["email"]

    body = registration()
    body["email"] = body["email"].upper()
    response = client.post("/api/v1/auth/register", json=body)
    assert response.status_code == 201
    assert response.get_json()["user"]["email"] == body["email"].lower()


@pytest.mark.parametrize("field", ["terms_accepted", "privacy_accepted"])
def test_terms_and_privacy_must_be_accepted(client, field):
    response = client.post("/api/v1/auth/register", json=registration(**{field: False}))
    assert response.status_code == 422
    assert response.get_json()["error"]["details"][field] == ["Must be accepted."]

    body = registration()
    del body[field]
    response = client.post("/api/v1/auth/register", json=body)
    assert response.status_code == 422
    assert field in response.get_json()["error"]["details"]


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Sh0rt-pass", "at least 12"),
        ("x" * 129, "at most 128"),
        ("password1234", "commonly used"),
        ("qwertyuiop123", "commonly used"),
        ("aaaaaaaaaaaaaaaa", "easy to guess"),
        ("Grace-lantern-harbor-91", "name"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(client, password, reason):
    response = client.post("/api/v1/auth/register", json=registration(password=password))
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert any(reason in text for text in error["details"]["password"]), error["details"]


def test_password_containing_the_email_is_refused(client):
    body = registration(email="marigold.vance@example.com")
    body["password"] = "Marigold-orbit-trumpet-55"
    response = client.post("/api/v1/auth/register", json=body)
    assert response.status_code == 422
    assert any("e-mail" in text for text in response.get_json()["error"]["details"]["password"])


def test_duplicate_email_or_username_is_a_conflict_that_names_neither(client):
    first = registration(username="dup" + registration()["email"][4:14])
    assert client.post("/api/v1/auth/register", json=first).status_code == 201

    same_email = registration(email=first["email"])
    same_username = registration(username=first["username"])
    bodies = []
    for body in (same_email, same_username):
        response = client.post("/api/v1/auth/register", json=body)
        assert response.status_code == 409
        error = response.get_json()["error"]
        assert error["code"] == "conflict"
        assert first["email"] not in error["message"] and "username" not in error["message"]
        bodies.append((error["message"], error["details"]))
    assert bodies[0] == bodies[1]


def _outbox_token(db_session, email: str, kind: str) -> str:
    db_session.expire_all()
    message = db_session.scalar(
        sa.select(EmailOutbox)
        .where(EmailOutbox.to_address == email, EmailOutbox.kind == kind)
        .order_by(EmailOutbox.id.desc())
    )
    assert message is not None
    body = crypto.decrypt_str(message.body_encrypted, aad=b"email_outbox")
    return re.search(r"token=([A-Za-z0-9_.\-]+)", body).group(1)


def test_email_verification_token_is_single_use_and_expires(client, db_session, app, clock):
    body = registration()
    assert client.post("/api/v1/auth/register", json=body).status_code == 201
    token = _outbox_token(db_session, body["email"], "verify_email")

    assert client.post("/api/v1/auth/verify-email", json={"token": token + "x"}).status_code == 422
    assert client.post("/api/v1/auth/verify-email", json={"token": token}).status_code == 204
    again = client.post("/api/v1/auth/verify-email", json={"token": token})
    assert again.status_code == 422
    assert again.get_json()["error"]["details"]["token"]

    tokens = login(client, body["email"], STRONG_PASSWORD).get_json()
    assert tokens["user"]["email_verified"] is True

    # A second account's link, used after it expired, is refused.
    late = registration()
    assert client.post("/api/v1/auth/register", json=late).status_code == 201
    late_token = _outbox_token(db_session, late["email"], "verify_email")
    clock.advance(seconds=app.config["EMAIL_VERIFICATION_SECONDS"] + 1)
    assert client.post("/api/v1/auth/verify-email", json={"token": late_token}).status_code == 422


def test_the_outbox_keeps_message_bodies_encrypted(client, db_session):
    body = registration()
    assert client.post("/api/v1/auth/register", json=body).status_code == 201
    message = db_session.scalar(
        sa.select(EmailOutbox).where(EmailOutbox.to_address == body["email"])
    )
    assert "token=" not in message.body_encrypted
    assert crypto.key_id(message.body_encrypted) == "dev"
