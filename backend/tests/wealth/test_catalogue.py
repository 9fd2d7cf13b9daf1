"""The broker catalogue fixture: loaded by init-db, idempotent, its schemas checked."""

from __future__ import annotations

import json

import jsonschema
import pytest
import sqlalchemy as sa

from app.wealth.brokers import FIXTURE, load_catalogue
from app.wealth.models import Broker

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_init_db_loads_the_catalogue_and_is_safe_to_run_twice(app, db_session):
    expected = {entry["code"] for entry in json.loads(FIXTURE.read_text())}
    for _ in range(2):
        result = app.test_cli_runner().invoke(args=["init-db"])
        assert result.exit_code == 0, result.output
    db_session.expire_all()
    rows = db_session.scalars(sa.select(Broker).where(Broker.code.in_(expected))).all()
    assert {b.code for b in rows} == expected
    assert {b.integration_type for b in rows} == {"sandbox", "fints", "rest"}
    sandbox = next(b for b in rows if b.code == "sandbox")
    assert sandbox.supports_2fa is True and sandbox.country == "DE"


def test_a_fixture_with_an_invalid_credentials_schema_is_refused(db_session, tmp_path):
    bad = tmp_path / "brokers.json"
    bad.write_text(
        json.dumps(
            [
                {
                    "code": "broken",
                    "name": "Broken",
                    "integration_type": "rest",
                    "country": "DE",
                    "supports_2fa": False,
                    "credentials_schema": {"type": "no-such-type"},
                }
            ]
        )
    )
    with pytest.raises(jsonschema.SchemaError):
        load_catalogue(db_session, bad)
    db_session.rollback()
    assert db_session.scalar(sa.select(Broker).where(Broker.code == "broken")) is None
