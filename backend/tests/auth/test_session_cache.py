"""How soon a revocation is seen: at once by the process that wrote it, within
`AUTH_SESSION_CACHE_SECONDS` by every other one (here a second app on the same database)."""

import time
import uuid

import pytest

from app import create_app
from app.auth.tokens import LiveSessions, Principal
from tests.auth.helpers import STRONG_PASSWORD, bearer, login
from tests.conftest import make_config
from tests.factories import DEFAULT_PASSWORD, auth_headers, make_user

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

CACHE_SECONDS = 1.0


def _other_process(pg_url, redis_url, seconds):
    application = create_app(make_config(pg_url, redis_url, AUTH_SESSION_CACHE_SECONDS=seconds))
    client = application.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.250.0.1"
    return application, client


@pytest.fixture
def other(pg_url, redis_url):
    """Another worker process: its own app, its own cache of live sessions."""
    application, client = _other_process(pg_url, redis_url, CACHE_SECONDS)
    yield client
    with application.app_context():
        from app.core.extensions import db

        db.engine.dispose()


def me(client, token):
    return client.get("/api/v1/auth/me", headers=bearer(token))


def _logout(client, app, user, tokens, db_session):
    client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"]))


def _revoke_session(client, app, user, tokens, db_session):
    laptop = login(client, user.email).get_json()
    items = client.get("/api/v1/auth/sessions", headers=bearer(laptop["access_token"])).get_json()
    sid = next(item["id"] for item in items["items"] if not item["current"])
    client.delete(f"/api/v1/auth/sessions/{sid}", headers=bearer(laptop["access_token"]))


def _change_password(client, app, user, tokens, db_session):
    laptop = login(client, user.email).get_json()
    client.post(
        "/api/v1/auth/change-password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": STRONG_PASSWORD},
        headers=bearer(laptop["access_token"]),
    )


def _admin_lock(client, app, user, tokens, db_session):
    admin = make_user(db_session, role="admin")
    client.post(
        f"/api/v1/admin/users/{user.public_id}/lock",
        json={"reason": "suspicious activity"},
        headers=auth_headers(app, admin),
    )


@pytest.mark.parametrize(
    "revoke", [_logout, _revoke_session, _change_password, _admin_lock], ids=lambda f: f.__name__
)
def test_another_process_refuses_a_revoked_token_within_the_cache_seconds(
    client, app, db_session, other, revoke
):
    user = make_user(db_session)
    tokens = login(client, user.email).get_json()
    assert me(other, tokens["access_token"]).status_code == 200  # the other process caches it

    revoke(client, app, user, tokens, db_session)
    revoked_at = time.monotonic()
    assert me(client, tokens["access_token"]).get_json()["error"]["code"] == "token_revoked"

    while (response := me(other, tokens["access_token"])).status_code == 200:
        assert time.monotonic() - revoked_at <= CACHE_SECONDS + 0.5
        time.sleep(0.05)
    # A locked user is refused as soon as a view loads the user row (`invalid_token`).
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] in {"token_revoked", "invalid_token"}


def test_the_bound_is_the_setting(client, db_session, pg_url):
    """A process that does not hear of a revocation (no shared Redis to announce it on) keeps
    accepting a revoked token, with a long setting, until it expires from its cache; with 0
    it asks the database on every request."""
    user = make_user(db_session)
    for seconds, after_logout in ((60.0, 200), (0.0, 401)):
        application, elsewhere = _other_process(pg_url, None, seconds)
        tokens = login(client, user.email).get_json()
        assert me(elsewhere, tokens["access_token"]).status_code == 200
        client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"]))
        assert me(elsewhere, tokens["access_token"]).status_code == after_logout
        with application.app_context():
            from app.core.extensions import db

            db.engine.dispose()


def test_a_revocation_announced_on_redis_ends_every_process_cache(
    client, db_session, pg_url, redis_url
):
    """Sharing Redis, another process with a long setting refuses a logged-out token at once."""
    user = make_user(db_session)
    application, elsewhere = _other_process(pg_url, redis_url, 60.0)
    tokens = login(client, user.email).get_json()
    assert me(elsewhere, tokens["access_token"]).status_code == 200
    assert me(elsewhere, tokens["access_token"]).status_code == 200  # from its cache
    client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"]))
    assert me(elsewhere, tokens["access_token"]).status_code == 401
    with application.app_context():
        from app.core.extensions import db

        db.engine.dispose()


def test_a_cached_session_still_needs_its_own_user(client, app, db_session):
    """The cache is keyed by session; a token naming another user with that session id is
    refused even while the session is cached."""
    from flask_jwt_extended import create_access_token, decode_token

    alice, mallory = make_user(db_session), make_user(db_session)
    tokens = login(client, alice.email).get_json()
    assert me(client, tokens["access_token"]).status_code == 200
    with app.app_context():
        sid = decode_token(tokens["access_token"])["sid"]
        forged = create_access_token(
            identity=str(mallory.public_id), additional_claims={"sid": sid}
        )
    assert me(client, forged).status_code == 401


def test_live_sessions_are_bounded_and_expire():
    def principal(n):
        return Principal(
            user_id=n, public_id=uuid.uuid4(), subject=str(n), roles=("customer",), active=True
        )

    live = LiveSessions(seconds=60, size=3)
    sids = [str(uuid.uuid4()) for _ in range(4)]
    for n, sid in enumerate(sids):
        live.put(sid, principal(n))
    assert live.get(sids[0]) is None  # the oldest went first
    assert [live.get(sid).user_id for sid in sids[1:]] == [1, 2, 3]
    live.forget([uuid.UUID(sids[1])])
    assert live.get(sids[1]) is None

    short = LiveSessions(seconds=0.05)
    short.put(sids[0], principal(0))
    assert short.get(sids[0]) is not None
    time.sleep(0.06)
    assert short.get(sids[0]) is None
    off = LiveSessions(seconds=0)
    off.put(sids[0], principal(0))
    assert off.get(sids[0]) is None


@pytest.mark.parametrize("to", ["own account", "iban"])
def test_a_transfer_refuses_a_locked_payer_while_its_session_is_still_cached(
    client, app, db_session, pg_url, redis_url, to
):
    """The payer is read with the movement's lock (or, for an IBAN, before it), so a payer
    locked by an admin moves no money, even where the session check would still pass."""
    from app.auth.models import User
    from tests.money_helpers import balance_of, own_transfer, post

    # No Redis there: it does not hear of the lock's revocation and trusts its cache.
    application, elsewhere = _other_process(pg_url, None, 60.0)
    try:
        headers, src, body = own_transfer(app, db_session, amount="1.00")
        if to == "iban":
            body = {
                **{k: body[k] for k in ("from_account_id", "amount", "currency")},
                "to_iban": "DE89370400440532013000",
                "beneficiary_name": "Erika Mustermann",
            }
        transfer = "/api/v1/transactions/transfer"
        assert post(elsewhere, transfer, headers, body).status_code == 201  # session cached
        paid = balance_of(app, str(src.public_id))
        _admin_lock(client, app, db_session.get(User, src.user_id), None, db_session)
        refused = post(elsewhere, transfer, headers, body)
        assert refused.status_code == 401, refused.get_json()
        assert refused.get_json()["error"]["code"] == "invalid_token"
        assert balance_of(app, str(src.public_id)) == paid
    finally:
        with application.app_context():
            from app.core.extensions import db

            db.engine.dispose()
