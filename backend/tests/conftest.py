"""Test fixtures: a real PostgreSQL database per xdist worker, built by the migrations, and a
real Redis database per worker.

Locally, tests that need PostgreSQL or Redis skip when the server is absent; with `CI=true`
they fail instead (see .ci/run).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis as redis_lib
from flask import Flask
from flask.testing import FlaskClient
from psycopg import sql

from app import create_app
from app.config import Config, TestingConfig, normalize_db_url

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_BASE_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")


def _unavailable(what: str, exc: Exception) -> None:
    message = f"{what} is not reachable: {exc}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: tests may not skip)", pytrace=False)
    pytest.skip(message)


def worker_id() -> str:
    """This test process's tag for database names: checkout + xdist worker.

    Two checkouts on one machine (or two CI runs) never share a test database.
    """
    checkout = hashlib.sha1(str(Path(__file__).resolve().parent).encode()).hexdigest()[:8]
    return f"{checkout}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"


def _worker_number() -> int:
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(name[2:]) if name.startswith("gw") else 0


def _pg_url(dbname: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{dbname}"


def create_pg_database(name: str, template: str | None = None) -> str:
    """(Re)create a PostgreSQL database and return its URL."""
    conn = psycopg.connect(PG_ADMIN_URL)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            if template:
                cur.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                        sql.Identifier(name), sql.Identifier(template)
                    )
                )
            else:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()
    return _pg_url(name)


def drop_pg_database(name: str) -> None:
    conn = psycopg.connect(PG_ADMIN_URL)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    finally:
        conn.close()


def make_config(database_url: str, redis_url: str | None = None, **overrides) -> TestingConfig:
    """A TestingConfig pointed at the given services, with attribute overrides."""
    config = TestingConfig()
    database_url = normalize_db_url(database_url)
    config.SQLALCHEMY_DATABASE_URI = database_url
    config.SQLALCHEMY_ENGINE_OPTIONS = Config.engine_options(database_url)
    config.REDIS_URL = redis_url
    config.RQ_INLINE = redis_url is None
    config.RATELIMIT_STORAGE_URI = redis_url or "memory://"
    config.LOG_JSON = True
    for key, value in overrides.items():
        setattr(config, key, value)
    return config


def migrate(app: Flask) -> None:
    """Build the schema the only way it is ever built: by running the migrations."""
    from flask_migrate import upgrade

    from app.cli import run_reference_seeders

    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        run_reference_seeders()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test worker."""
    name = f"flowlet_test_{worker_id()}"
    try:
        url = create_pg_database(name)
    except psycopg.OperationalError as exc:
        _unavailable("PostgreSQL", exc)
    app = create_app(make_config(url))
    migrate(app)
    with app.app_context():
        from app.core.extensions import db

        db.engine.dispose()
    yield url
    if os.environ.get("KEEP_TEST_DATABASE") != "1":  # set it to inspect the data afterwards
        drop_pg_database(name)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A Redis database of its own for this test worker, emptied at the start."""
    base = int(os.environ.get("TEST_REDIS_DB_BASE", "1"))
    index = (base + _worker_number()) % 64  # the shared server has 64 databases
    url = f"{REDIS_BASE_URL}/{index}"
    try:
        client = redis_lib.Redis.from_url(url, socket_connect_timeout=2)
        client.flushdb()
        client.close()
    except redis_lib.RedisError as exc:
        _unavailable("Redis", exc)
    return url


@pytest.fixture(scope="session")
def app(pg_url: str, redis_url: str) -> Iterator[Flask]:
    """The application on real PostgreSQL and Redis (jobs go to RQ; see `run_jobs`)."""
    application = create_app(make_config(pg_url, redis_url))
    yield application
    with application.app_context():
        from app.core.extensions import db

        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def db_session(app: Flask):
    """The app's scoped session inside an app context (commits are real)."""
    from app.core.extensions import db

    with app.app_context():
        yield db.session
        db.session.remove()


@pytest.fixture
def run_jobs(app: Flask, redis_url: str):
    """Work every queued RQ job with a real worker on real Redis, then return."""
    from rq import Queue, SimpleWorker

    def _run(queues=("default", "sync", "notifications", "maintenance")) -> None:
        with app.app_context():
            connection = app.extensions["flowlet_redis"]
            worker = SimpleWorker(
                [Queue(q, connection=connection) for q in queues], connection=connection
            )
            worker.work(burst=True)

    return _run


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"
