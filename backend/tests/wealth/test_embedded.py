"""Without Redis (the embedded default) a sync runs inline, right after the request commits,
and its job's outcome is read from the job outbox."""

from __future__ import annotations

import pytest

from app import create_app
from tests.conftest import make_config
from tests.factories import auth_headers, make_user
from tests.wealth.conftest import link, snapshots

pytestmark = [pytest.mark.postgres]


@pytest.fixture
def inline(pg_url, rates_server):
    application = create_app(make_config(pg_url, EXCHANGE_RATES_URL=rates_server.url))
    assert application.config["RQ_INLINE"] is True
    yield application
    with application.app_context():
        from app.core.extensions import db

        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def who(inline):
    from app.core.extensions import db

    with inline.app_context():
        user = make_user(db.session, base_currency="USD")

        class Who:
            headers = auth_headers(inline, user)

        db.session.remove()
    return Who


def test_without_redis_the_sync_runs_inline(inline, who, db_session):
    client = inline.test_client()
    response = link(client, who, username="ivy", password="pw")
    assert response.status_code == 202
    body = response.get_json()
    link_id = body["linked_account"]["id"]
    shown = client.get(f"/api/v1/linked-accounts/{link_id}", headers=who.headers)
    assert shown.get_json()["status"] == "active"
    job = client.get(f"/api/v1/jobs/{body['job_id']}", headers=who.headers)
    assert job.status_code == 200
    assert job.get_json()["status"] == "finished" and job.get_json()["error"] is None
    assert [s.account_ref for s in snapshots(db_session, link_id)] == ["SBX-CASH", "SBX-DEPOT"]


def test_a_failed_inline_job_shows_its_error(inline, who):
    client = inline.test_client()
    body = link(client, who, username="down-ivy", password="pw").get_json()
    job = client.get(f"/api/v1/jobs/{body['job_id']}", headers=who.headers).get_json()
    assert job["status"] == "failed"
    assert job["error"] == "BrokerError: The sandbox broker is unavailable."
    # Someone else asking gets 404, as with Redis.
    with inline.app_context():
        from app.core.extensions import db

        stranger = auth_headers(inline, make_user(db.session))
        db.session.remove()
    assert client.get(f"/api/v1/jobs/{body['job_id']}", headers=stranger).status_code == 404
