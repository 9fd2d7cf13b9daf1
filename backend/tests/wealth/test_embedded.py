"""Without Redis (the embedded default) a sync runs inline, right after the request commits."""

from __future__ import annotations

import pytest

from app import create_app
from tests.conftest import make_config
from tests.factories import auth_headers, make_user
from tests.wealth.conftest import link, snapshots

pytestmark = [pytest.mark.postgres]


def test_without_redis_the_sync_runs_inline(pg_url, rates_server, db_session):
    inline = create_app(make_config(pg_url, EXCHANGE_RATES_URL=rates_server.url))
    assert inline.config["RQ_INLINE"] is True
    with inline.app_context():
        from app.extensions import db

        user = make_user(db.session, base_currency="USD")

        class Who:
            headers = auth_headers(inline, user)

        response = link(inline.test_client(), Who, username="ivy", password="pw")
        assert response.status_code == 202
        link_id = response.get_json()["linked_account"]["id"]
        shown = inline.test_client().get(f"/api/v1/linked-accounts/{link_id}", headers=Who.headers)
        assert shown.get_json()["status"] == "active"
        db.session.remove()
        db.engine.dispose()
    assert [s.account_ref for s in snapshots(db_session, link_id)] == ["SBX-CASH", "SBX-DEPOT"]
