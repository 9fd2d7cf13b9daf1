"""RBAC and user administration: roles, lock/unlock (tokens revoked at once), audit."""

import pytest

from app.admin.routes import blp as admin_blp
from app.auth.routes import blp as auth_blp
from tests.auth.helpers import audit_rows, bearer, login
from tests.factories import auth_headers, make_user

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

PUBLIC_AUTH_ROUTES = {
    "register",
    "login",
    "login_mfa",
    "refresh",
    "password_reset_request",
    "password_reset_confirm",
    "verify_email",
    # Signing in without a password: the link, the passkey and the identity provider prove who
    # it is.
    "magic_link_request",
    "magic_link_confirm",
    "passkey_login_options",
    "passkey_login",
    "oidc_providers",
    "oidc_authorize",
    "oidc_callback",
    "oidc_exchange",
}


def test_every_protected_route_declares_a_permission(app):
    checked = 0
    for blp in (auth_blp, admin_blp):
        prefix = f"{blp.name}."
        for endpoint, view in app.view_functions.items():
            if not endpoint.startswith(prefix):
                continue
            name = endpoint[len(prefix) :]
            if blp is auth_blp and name in PUBLIC_AUTH_ROUTES:
                continue
            assert getattr(view, "_flowlet_permission", None), endpoint
            checked += 1
    assert checked >= 14


@pytest.mark.parametrize("role", ["customer", "compliance_officer", "card_processor"])
def test_only_admins_reach_the_admin_api(client, app, db_session, role):
    user = make_user(db_session, role=role)
    response = client.get("/api/v1/admin/users", headers=auth_headers(app, user))
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    assert client.get("/api/v1/admin/users").status_code == 401


def test_admin_lists_and_filters_users(client, app, db_session):
    admin = make_user(db_session, role="admin")
    officer = make_user(db_session, role="compliance_officer", first_name="Filterable")
    headers = auth_headers(app, admin)
    response = client.get("/api/v1/admin/users", query_string={"q": officer.email}, headers=headers)
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert [item["id"] for item in items] == [str(officer.public_id)]
    assert items[0]["status"] == "active" and items[0]["roles"] == ["compliance_officer"]

    by_role = client.get(
        "/api/v1/admin/users",
        query_string={"role": "compliance_officer", "limit": 200},
        headers=headers,
    ).get_json()["items"]
    assert all("compliance_officer" in item["roles"] for item in by_role)
    assert str(officer.public_id) in {item["id"] for item in by_role}

    # Keyset pages: no overlap, and together they hold what one page holds.
    for _ in range(3):
        make_user(db_session)
    page1 = client.get("/api/v1/admin/users", query_string={"limit": 2}, headers=headers).get_json()
    assert len(page1["items"]) == 2 and page1["next_cursor"]
    page2 = client.get(
        "/api/v1/admin/users",
        query_string={"limit": 2, "cursor": page1["next_cursor"]},
        headers=headers,
    ).get_json()
    both = client.get("/api/v1/admin/users", query_string={"limit": 4}, headers=headers).get_json()
    ids = [item["id"] for item in page1["items"] + page2["items"]]
    assert len(set(ids)) == 4
    assert ids == [item["id"] for item in both["items"]][: len(ids)]


def test_lock_revokes_tokens_at_once_and_blocks_login(client, app, db_session):
    admin = make_user(db_session, role="admin")
    user = make_user(db_session)
    tokens = login(client, user.email).get_json()
    response = client.post(
        f"/api/v1/admin/users/{user.public_id}/lock",
        json={"reason": "suspicious activity"},
        headers=auth_headers(app, admin),
    )
    assert response.status_code == 200
    assert response.get_json()["status"] == "locked"
    refused = client.get("/api/v1/auth/me", headers=bearer(tokens["access_token"]))
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"] == "token_revoked"
    refresh = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.get_json()["error"]["code"] == "token_revoked"
    blocked = login(client, user.email)
    assert blocked.status_code == 423
    assert blocked.get_json()["error"]["code"] == "account_locked"

    locked_list = client.get(
        "/api/v1/admin/users",
        query_string={"status": "locked", "q": user.email},
        headers=auth_headers(app, admin),
    ).get_json()["items"]
    assert [item["id"] for item in locked_list] == [str(user.public_id)]

    unlock = client.post(
        f"/api/v1/admin/users/{user.public_id}/unlock", headers=auth_headers(app, admin)
    )
    assert unlock.status_code == 200
    assert login(client, user.email).status_code == 200

    rows = audit_rows(db_session, action="admin.user_locked", resource_id=str(user.public_id))
    assert rows[-1].actor_id == str(admin.public_id)
    assert rows[-1].changes["sessions_revoked"] == 1
    assert audit_rows(db_session, action="admin.user_unlocked", resource_id=str(user.public_id))


def test_admin_sets_roles_audited(client, app, db_session):
    admin = make_user(db_session, role="admin")
    user = make_user(db_session)
    headers = auth_headers(app, admin)
    response = client.put(
        f"/api/v1/admin/users/{user.public_id}/roles",
        json={"roles": ["customer", "compliance_officer"]},
        headers=headers,
    )
    assert response.status_code == 200
    assert response.get_json()["roles"] == ["compliance_officer", "customer"]
    # The new role applies to the user's next request.
    user_headers = auth_headers(app, user)
    assert client.get("/api/v1/admin/users", headers=user_headers).status_code == 403

    bad = client.put(
        f"/api/v1/admin/users/{user.public_id}/roles", json={"roles": ["root"]}, headers=headers
    )
    assert bad.status_code == 422
    empty = client.put(
        f"/api/v1/admin/users/{user.public_id}/roles", json={"roles": []}, headers=headers
    )
    assert empty.status_code == 422
    rows = audit_rows(db_session, action="admin.user_roles_set", resource_id=str(user.public_id))
    assert rows[-1].changes == {
        "before": ["customer"],
        "after": ["compliance_officer", "customer"],
    }


def test_admin_cannot_lock_or_demote_themselves(client, app, db_session):
    admin = make_user(db_session, role="admin")
    headers = auth_headers(app, admin)
    lock = client.post(f"/api/v1/admin/users/{admin.public_id}/lock", headers=headers)
    assert lock.status_code == 409
    demote = client.put(
        f"/api/v1/admin/users/{admin.public_id}/roles",
        json={"roles": ["customer"]},
        headers=headers,
    )
    assert demote.status_code == 409


def test_unknown_user_is_not_found(client, app, db_session):
    admin = make_user(db_session, role="admin")
    response = client.post(
        "/api/v1/admin/users/6f1c1f1e-0000-4000-8000-000000000000/lock",
        headers=auth_headers(app, admin),
    )
    assert response.status_code == 404
