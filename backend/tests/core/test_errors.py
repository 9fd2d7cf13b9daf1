"""Every error leaves in the envelope of API.md, with the request id."""

import logging

import marshmallow as ma
import pytest

from app import create_app
from app.core.api import Blueprint, Schema
from app.core.errors import Conflict
from tests.conftest import make_config


class EchoSchema(Schema):
    amount = ma.fields.Decimal(required=True, as_string=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=5))


@pytest.fixture(scope="module")
def app():
    application = create_app(make_config("sqlite://"))
    blp = Blueprint("probe", __name__, url_prefix="/api/v1/probe")

    @blp.route("/echo", methods=["POST"])
    @blp.arguments(EchoSchema)
    def echo(data):
        return {"ok": True}

    @blp.route("/boom")
    def boom():
        raise RuntimeError("secret detail: password=hunter2 SELECT * FROM users")

    @blp.route("/conflict")
    def conflict():
        raise Conflict("Already done.", details={"id": ["taken"]})

    application.extensions["flowlet_api"].register_blueprint(blp)
    return application


@pytest.fixture
def client(app):
    return app.test_client()


def assert_envelope(response, status, code):
    assert response.status_code == status
    body = response.get_json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert body["error"]["request_id"] == response.headers["X-Request-ID"]
    return body["error"]


def test_unknown_route_is_a_404_envelope(client):
    assert_envelope(client.get("/api/v1/nothing-here"), 404, "not_found")


def test_wrong_method_is_a_405_envelope_with_allow(client):
    response = client.delete("/health")
    assert_envelope(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_schema_errors_are_422_with_field_details(client):
    response = client.post("/api/v1/probe/echo", json={"amount": "abc", "name": "toolong", "x": 1})
    error = assert_envelope(response, 422, "validation_error")
    assert error["details"]["amount"] == ["Not a valid number."]
    assert "name" in error["details"]
    assert error["details"]["x"] == ["Unknown field."]


def test_malformed_json_is_a_client_error(client):
    response = client.post(
        "/api/v1/probe/echo", data="{not json", headers={"Content-Type": "application/json"}
    )
    error = assert_envelope(response, 400, "bad_request")
    assert "valid JSON" in error["message"]


def test_domain_errors_keep_their_status_code_and_details(client):
    error = assert_envelope(client.get("/api/v1/probe/conflict"), 409, "conflict")
    assert error["details"] == {"id": ["taken"]}
    assert error["message"] == "Already done."


def test_unexpected_error_is_a_bare_500_and_is_logged_with_request_id(client, caplog):
    with caplog.at_level(logging.ERROR):
        response = client.get("/api/v1/probe/boom", headers={"X-Request-ID": "req-500-check"})
    error = assert_envelope(response, 500, "internal_error")
    text = response.get_data(as_text=True)
    assert "hunter2" not in text and "SELECT" not in text and "Traceback" not in text
    assert error["request_id"] == "req-500-check"
    assert any("unhandled error" in r.getMessage() for r in caplog.records)


def test_request_id_is_generated_or_echoed(client):
    generated = client.get("/health").headers["X-Request-ID"]
    assert len(generated) == 36
    assert (
        client.get("/health", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"]
        == "abc-123"
    )
    # Values outside the safe alphabet are replaced, not echoed.
    replaced = client.get("/health", headers={"X-Request-ID": "<script>x</script>"})
    assert replaced.headers["X-Request-ID"] != "<script>x</script>"
    assert len(replaced.headers["X-Request-ID"]) == 36
