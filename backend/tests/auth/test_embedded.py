"""The embedded default (SQLite, no Redis: inline jobs, in-memory limits) runs the auth flow."""

from app import create_app
from tests.auth.helpers import STRONG_PASSWORD, bearer, login, registration
from tests.conftest import make_config, migrate


def test_register_login_refresh_logout_on_sqlite(tmp_path):
    app = create_app(make_config(f"sqlite:///{tmp_path / 'flowlet.db'}"))
    migrate(app)
    client = app.test_client()
    body = registration()
    assert client.post("/api/v1/auth/register", json=body).status_code == 201
    tokens = login(client, body["email"], STRONG_PASSWORD).get_json()
    assert client.get("/api/v1/auth/me", headers=bearer(tokens["access_token"])).status_code == 200
    rotated = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert rotated.status_code == 200
    reuse = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert reuse.get_json()["error"]["code"] == "token_revoked"
    fresh = login(client, body["email"], STRONG_PASSWORD).get_json()
    logout = client.post("/api/v1/auth/logout", headers=bearer(fresh["access_token"]))
    assert logout.status_code == 204
    assert client.get("/api/v1/auth/me", headers=bearer(fresh["access_token"])).status_code == 401
    with app.app_context():
        from app.core.extensions import db

        db.engine.dispose()
