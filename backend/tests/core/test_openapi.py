"""The OpenAPI document tells the truth (issue 9, §4), checked statically and by a bounded
schemathesis run against the real app: no 5xx, no response outside its documented schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.factories import auth_headers, make_user
from tests.money_helpers import make_account

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

MONEY_MOVING = [
    "/api/v1/transactions/deposit",
    "/api/v1/transactions/withdrawal",
    "/api/v1/transactions/transfer",
]


@pytest.fixture(scope="module")
def spec(app):
    return app.test_client().get("/openapi.json").json


def _operations(spec):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method != "parameters":
                yield path, method, op


def test_money_moving_posts_document_the_idempotency_key(spec):
    for path in MONEY_MOVING:
        params = spec["paths"][path]["post"]["parameters"]
        (key,) = [p for p in params if p["name"] == "Idempotency-Key"]
        assert key["in"] == "header" and key["required"] is True
    # Compliance decisions take one too (optional there); a KYC submission and a screening
    # query are not decisions.
    not_decisions = {"/api/v1/compliance/kyc", "/api/v1/compliance/screenings"}
    for path, method, op in _operations(spec):
        if (
            path.startswith("/api/v1/compliance/")
            and method == "post"
            and path not in not_decisions
        ):
            assert any(p["name"] == "Idempotency-Key" for p in op["parameters"])


def test_numeric_bounds_are_numbers(spec):
    stack = [spec]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key in ("minimum", "maximum"):
                if key in item:
                    assert isinstance(item[key], int | float), item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    (min_amount,) = [
        p
        for p in spec["paths"]["/api/v1/transactions"]["get"]["parameters"]
        if p["name"] == "min_amount"
    ]
    assert min_amount["schema"]["minimum"] == 0


def test_health_documents_its_success(spec):
    assert "200" in spec["paths"]["/health"]["get"]["responses"]
    detailed = spec["paths"]["/health/detailed"]["get"]["responses"]
    assert {"200", "503"} <= set(detailed)
    assert "200" in spec["paths"]["/metrics"]["get"]["responses"]


def test_every_operation_documents_the_envelope_for_its_4xx(spec):
    envelope = {"$ref": "#/components/schemas/Error"}
    for path, method, op in _operations(spec):
        expected = {"400", "404", "422", "429"}
        if op.get("security") != []:
            expected |= {"401", "403"}
        if method in {"post", "put", "patch", "delete"}:
            expected |= {"409", "413"}
        assert expected <= set(op["responses"]), (method, path)
        for code in expected:
            assert op["responses"][code]["content"]["application/json"]["schema"] == envelope


# --- a bounded schemathesis run ----------------------------------------------------------------

CASES_PER_OPERATION = 8
# Operations that would end the run's own session.
SKIPPED = {
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/auth/change-password"),
    ("DELETE", "/api/v1/auth/sessions/{session_id}"),
}


@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


@pytest.fixture(scope="module")
def customer_headers(app):
    from app.extensions import db

    with app.app_context():
        user = make_user(db.session)
        make_account(db.session, user, balance="100.00")
        headers = auth_headers(app, user)
        db.session.remove()
    return headers


def test_api_conforms_to_its_schema(api_schema, customer_headers):
    """Every operation, authenticated as a customer, a few cases each (a few hundred in all)."""
    failures: list[str] = []
    cases = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue

        @settings(
            max_examples=CASES_PER_OPERATION,
            derandomize=True,  # a fixed seed: the same cases on every run
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case):
            nonlocal cases
            cases += 1
            case.call_and_validate(
                headers=customer_headers,
                checks=[not_a_server_error, response_schema_conformance],
            )

        try:
            run()
        except Exception as exc:
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert cases >= 200
    assert not failures, "\n\n".join(failures)
