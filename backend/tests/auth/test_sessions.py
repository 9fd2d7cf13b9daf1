"""Sessions: each refresh family is listed with device and IP, and can be revoked."""

import uuid

import pytest

from tests.auth.helpers import audit_rows, bearer, login
from tests.factories import make_user

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def sessions(client, token):
    return client.get("/api/v1/auth/sessions", headers=bearer(token))


def test_sessions_are_listed_with_device_ip_and_times(client, db_session):
    user = make_user(db_session)
    phone = login(client, user.email, **{"User-Agent": "FlowletPhone/2.0"}).get_json()
    laptop = login(client, user.email).get_json()
    response = sessions(client, laptop["access_token"])
    assert response.status_code == 200
    body = response.get_json()
    assert body["next_cursor"] is None
    items = body["items"]
    assert len(items) == 2
    assert {item["device"] for item in items} == {"FlowletPhone/2.0", "FlowletTest/1.0 (pytest)"}
    assert {item["ip"] for item in items} == {client.environ_base["REMOTE_ADDR"]}
    assert [item["current"] for item in items].count(True) == 1
    for item in items:
        assert item["created_at"].endswith("Z") and item["last_used_at"].endswith("Z")
    current = next(item for item in items if item["current"])
    assert current["device"] == "FlowletTest/1.0 (pytest)"
    assert phone  # the other session


def test_revoking_a_session_ends_its_tokens(client, db_session):
    user = make_user(db_session)
    phone = login(client, user.email).get_json()
    laptop = login(client, user.email).get_json()
    items = sessions(client, laptop["access_token"]).get_json()["items"]
    phone_id = next(item["id"] for item in items if not item["current"])

    response = client.delete(
        f"/api/v1/auth/sessions/{phone_id}", headers=bearer(laptop["access_token"])
    )
    assert response.status_code == 204
    refused = client.get("/api/v1/auth/me", headers=bearer(phone["access_token"]))
    assert refused.get_json()["error"]["code"] == "token_revoked"
    assert [
        item["id"] for item in sessions(client, laptop["access_token"]).get_json()["items"]
    ] == [next(item["id"] for item in items if item["current"])]
    assert audit_rows(db_session, action="auth.session_revoked", resource_id=phone_id)


def test_another_users_session_is_not_found(client, db_session):
    alice, mallory = make_user(db_session), make_user(db_session)
    alice_tokens = login(client, alice.email).get_json()
    mallory_tokens = login(client, mallory.email).get_json()
    alice_session = sessions(client, alice_tokens["access_token"]).get_json()["items"][0]["id"]

    response = client.delete(
        f"/api/v1/auth/sessions/{alice_session}", headers=bearer(mallory_tokens["access_token"])
    )
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    # Alice's session is untouched.
    assert (
        client.get("/api/v1/auth/me", headers=bearer(alice_tokens["access_token"])).status_code
        == 200
    )
    unknown = client.delete(
        f"/api/v1/auth/sessions/{uuid.uuid4()}", headers=bearer(mallory_tokens["access_token"])
    )
    assert unknown.status_code == 404


def test_profile_update(client, db_session):
    user = make_user(db_session)
    token = login(client, user.email).get_json()["access_token"]
    response = client.patch(
        "/api/v1/auth/me",
        json={"first_name": "Ada", "phone": "+4915112345678", "base_currency": "EUR"},
        headers=bearer(token),
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["first_name"] == "Ada" and body["base_currency"] == "EUR"
    bad = client.patch(
        "/api/v1/auth/me", json={"base_currency": "XYZ", "roles": ["admin"]}, headers=bearer(token)
    )
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["details"]) == {"base_currency", "roles"}
