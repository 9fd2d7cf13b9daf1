"""Helpers for the identity tests: registration payloads, logins, a movable clock."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from app.core.audit import AuditLog
from tests.conftest import make_config, unique_email
from tests.factories import DEFAULT_PASSWORD

STRONG_PASSWORD = "Quiet-Harbor-Lantern-73"
_ips = itertools.count(1)


def next_ip() -> str:
    """A client address of its own, so per-IP limits of one test do not touch another."""
    n = next(_ips)
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def registration(**overrides) -> dict:
    body = {
        "email": unique_email("reg"),
        "password": STRONG_PASSWORD,
        "first_name": "Grace",
        "last_name": "Hopper",
        "terms_accepted": True,
        "privacy_accepted": True,
    }
    body.update(overrides)
    return body


def login(client, login: str, password: str = DEFAULT_PASSWORD, **headers):
    return client.post(
        "/api/v1/auth/login", json={"login": login, "password": password}, headers=headers
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Clock:
    """The identity domain's clock (`app.core.db.utcnow`), moved by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


def audit_rows(session, *, action: str, resource_id: str | None = None) -> list[AuditLog]:
    query = sa.select(AuditLog).where(AuditLog.action == action)
    if resource_id is not None:
        query = query.where(AuditLog.resource_id == resource_id)
    session.expire_all()
    return list(session.scalars(query.order_by(AuditLog.id)))


def app_with(pg_url: str, redis_url: str, **settings):
    """An app with settings of its own (a fixture's body: `yield from app_with(…)`); its
    database connections are closed afterwards."""
    from app import create_app
    from app.core.extensions import db

    application = create_app(make_config(pg_url, redis_url, **settings))
    yield application
    with application.app_context():
        db.engine.dispose()


def client_at(app, ip: str):
    """A test client whose requests come from `ip`."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client
