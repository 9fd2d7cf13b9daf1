"""Fixtures of the identity tests."""

from __future__ import annotations

import pytest

from tests.auth.helpers import Clock, next_ip


@pytest.fixture
def client(app):
    """A test client with a client address of its own (per-IP limits stay per test)."""
    test_client = app.test_client()
    test_client.environ_base["REMOTE_ADDR"] = next_ip()
    test_client.environ_base["HTTP_USER_AGENT"] = "FlowletTest/1.0 (pytest)"
    return test_client


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """Control the time the identity domain reads; the database stays real."""
    moving = Clock()
    monkeypatch.setattr("app.core.db.utcnow", moving)
    return moving
