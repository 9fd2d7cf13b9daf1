from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from app import create_app
from tests.conftest import make_config
from tests.outbox.servers import PrivateRedis


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.close()


@pytest.fixture
def outage_app(pg_url: str, private_redis: PrivateRedis) -> Iterator[Flask]:
    """The app on the shared PostgreSQL and a private Redis that tests may stop."""
    application = create_app(make_config(pg_url, private_redis.url))
    yield application
    with application.app_context():
        from app.core.extensions import db

        db.engine.dispose()
