"""With Redis down, login limits are counted in PostgreSQL, shared by every process: the
limit stays the limit (issue 9, §5: 70 bad logins gave 50 × 401 before the first 429)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app import create_app
from app.core.ratelimit import RateLimitCounter
from tests.auth.helpers import login, next_ip
from tests.conftest import make_config, unique_email

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _process(pg_url, redis_url):
    """One app per gunicorn process: its own memory, the same Redis and database."""
    return create_app(
        make_config(
            pg_url,
            redis_url,
            RATELIMIT_STORAGE_URI=f"flowlet+{redis_url}",
            RATELIMIT_LOGIN_PER_IP="1000 per minute",
            RATELIMIT_LOGIN_PER_ACCOUNT="10 per 15 minutes",
        )
    )


def test_with_redis_down_the_login_limit_holds_across_processes(pg_url, private_redis):
    processes = [_process(pg_url, private_redis.url) for _ in range(5)]
    private_redis.stop()
    target = unique_email("target")
    statuses = []
    for attempt in range(20):
        client = processes[attempt % len(processes)].test_client()
        client.environ_base["REMOTE_ADDR"] = next_ip()
        statuses.append(login(client, target, "Whatever-Password-1").status_code)
    assert statuses[:10] == [401] * 10
    assert set(statuses[10:]) == {429}
    with processes[0].app_context():
        from app.core.extensions import db

        counters = db.session.scalars(
            sa.select(RateLimitCounter).where(RateLimitCounter.key.contains(target.lower()))
        ).all()
        assert counters and max(c.count for c in counters) >= 10
        db.session.remove()


def test_with_redis_up_the_counters_stay_in_redis(pg_url, private_redis):
    app = _process(pg_url, private_redis.url)
    target = unique_email("target")
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = next_ip()
    assert login(client, target, "Whatever-Password-1").status_code == 401
    import redis as redis_lib

    assert redis_lib.Redis.from_url(private_redis.url).keys(f"*{target.lower()}*")
    with app.app_context():
        from app.core.extensions import db

        assert not db.session.scalars(
            sa.select(RateLimitCounter).where(RateLimitCounter.key.contains(target.lower()))
        ).all()
        db.session.remove()
