"""Fixtures of the wealth tests: local rates and broker servers, a customer, a REST broker."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from app.core import uow
from app.wealth.models import Broker, LinkedAccount, WealthPosition, WealthSnapshot
from tests.factories import auth_headers, make_user
from tests.wealth.servers import (
    REST_SETTINGS_TEMPLATE,
    BrokerHandler,
    FrankfurterHandler,
    LocalServer,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

SYNC_QUEUES = ("sync", "default")


@pytest.fixture(scope="session")
def rates_server():
    with LocalServer(FrankfurterHandler) as server:
        yield server


@pytest.fixture
def broker_server():
    with LocalServer(BrokerHandler) as server:
        yield server


@pytest.fixture(autouse=True)
def wealth_config(app, rates_server):
    """Rates from the local service; retries without waiting (the backoff is still RQ's)."""
    saved = {k: app.config[k] for k in ("EXCHANGE_RATES_URL", "WEALTH_SYNC_RETRY_BASE_SECONDS")}
    app.config["EXCHANGE_RATES_URL"] = rates_server.url
    app.config["WEALTH_SYNC_RETRY_BASE_SECONDS"] = 0
    rates_server.state["fail"] = False
    yield
    app.config.update(saved)


class Customer:
    def __init__(self, app, user):
        self.user = user
        self.id = user.id
        self.email = user.email
        self.headers = auth_headers(app, user)


@pytest.fixture
def customer(app, db_session):
    return Customer(app, make_user(db_session, base_currency="EUR"))


@pytest.fixture
def other_customer(app, db_session):
    return Customer(app, make_user(db_session))


def add_broker(session, integration_type: str, fields: tuple[str, str], settings: dict) -> str:
    """A catalogue entry for a local test server; returns its code."""
    broker = Broker(
        code=f"{integration_type}-{uuid.uuid4().hex[:8]}",
        name=f"Local {integration_type} broker",
        integration_type=integration_type,
        country="DE",
        supports_2fa=True,
        credentials_schema={
            "type": "object",
            "required": list(fields),
            "properties": {name: {"type": "string"} for name in fields},
            "additionalProperties": False,
        },
        settings=settings,
    )
    session.add(broker)
    uow.commit(session)
    return broker.code


@pytest.fixture
def rest_broker(db_session, broker_server):
    """A REST broker in the catalogue whose base URL is the local broker server."""
    settings = {"base_url": broker_server.url, **REST_SETTINGS_TEMPLATE}
    return add_broker(db_session, "rest", ("username", "password"), settings)


@pytest.fixture
def sync_jobs(run_jobs):
    """Work the sync queue with a real RQ worker until it is empty."""
    return lambda: run_jobs(SYNC_QUEUES)


def link(client, customer, broker_code="sandbox", **credentials):
    credentials = credentials or {"username": "alice", "password": "pw"}
    return client.post(
        "/api/v1/linked-accounts",
        json={"broker_code": broker_code, "credentials": credentials},
        headers=customer.headers,
    )


def snapshots(session, linked_public_id) -> list[WealthSnapshot]:
    session.expire_all()
    return list(
        session.scalars(
            sa.select(WealthSnapshot)
            .join(LinkedAccount)
            .where(LinkedAccount.public_id == uuid.UUID(str(linked_public_id)))
            .order_by(WealthSnapshot.account_ref)
        )
    )


def positions(session, snapshot_id) -> list[WealthPosition]:
    return list(
        session.scalars(
            sa.select(WealthPosition)
            .where(WealthPosition.snapshot_id == snapshot_id)
            .order_by(WealthPosition.symbol)
        )
    )
