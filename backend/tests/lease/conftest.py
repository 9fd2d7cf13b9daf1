from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from app import create_app
from tests.conftest import create_pg_database, drop_pg_database, make_config, migrate, worker_id


@pytest.fixture(scope="module")
def own_db() -> Iterator[str]:
    """A migrated database of this module's own: `ledger verify` and `audit verify` then judge
    only what these tests did, not what other tests left (some tamper on purpose)."""
    name = f"flowlet_lease_{worker_id()}"
    url = create_pg_database(name)
    migrate(create_app(make_config(url)))
    yield url
    drop_pg_database(name)


@pytest.fixture(scope="module")
def own_app(own_db: str, redis_url: str) -> Iterator[Flask]:
    application = create_app(make_config(own_db, redis_url))
    yield application
    with application.app_context():
        from app.core.extensions import db

        db.engine.dispose()
