"""The OpenAPI document tells the truth (issue 9, §4), checked statically and by a bounded
schemathesis run against the real app: no 5xx, no response outside its documented schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from app.core.personal_data import personal_data
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
    from app.core.extensions import db

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


# --- the spec is never looser than validation --------------------------------------------------

# Values that validation refuses somewhere: blank text, money with spaces or signs, loose
# integers, bad codes, over-long text, trailing newlines. For every request field, a probe the
# server refuses must be refused by the field's schema in the document too.
PROBES = [
    *["", " ", "\t\n", " 1.00", "1.00 ", "1.00\n", "+1", "-1", "1e3", ".5", "1.5", "10.50"],
    *["0", "12", "1234", "1234\n", "12345", "4111111111111111\n", "+4915112345678\n"],
    *["abc", "usd", "USD", "XXQ", "US", "DE", "de", "ZZ", "Jane Doe", "x" * 300, "x" * 5000],
    *["2026-01-01", "2026-13-01", "not-a-date", "not-an-email", "ab", "checking", "nope"],
    "0f8fad5b-d9cb-469f-a165-70867728950e",
    *[12, 12.5, -1, 0, 2030, 2030.0, True, None, [], {}],
]


def _ecma_pattern(validator, pattern, instance, schema):
    """`pattern` as JSON Schema reads it (ECMA 262): `$` is the end of the text, `\\d` is ASCII."""
    import re

    from jsonschema.exceptions import ValidationError

    if isinstance(instance, str):
        translated = pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern
        if not re.search(translated, instance, re.ASCII):
            yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _json_schema(node, components):
    """An OpenAPI 3.0 schema as plain JSON Schema: refs inlined, `nullable` as a null type."""
    if isinstance(node, list):
        return [_json_schema(item, components) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _json_schema(components[node["$ref"].rsplit("/", 1)[-1]], components)
    out = {k: _json_schema(v, components) for k, v in node.items() if k != "nullable"}
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def _spec_accepts(prop: dict, value) -> bool:
    import jsonschema

    cls = jsonschema.validators.extend(jsonschema.Draft4Validator, {"pattern": _ecma_pattern})
    return cls(prop, format_checker=jsonschema.FormatChecker()).is_valid(value)


def _server_accepts(schema, key: str, value) -> bool:
    import marshmallow as ma

    try:
        schema.load({key: value}, partial=True)
    except ma.ValidationError as exc:
        return key not in exc.messages
    except Exception:  # a post_load that needs the other fields: the field itself passed
        return True
    return True


def _request_schemas(app):
    """(method, OpenAPI path, location, marshmallow schema) for every view's arguments."""
    import re

    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        for argument in getattr(view, "_apidoc", {}).get("arguments", {}).get("parameters", []):
            schema = argument["schema"]
            schema = schema() if isinstance(schema, type) else schema
            path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                yield method.lower(), path, argument.get("location", "json"), schema


def _looser(schema, properties: dict, where: str, components) -> list[str]:
    import marshmallow as ma

    problems = []
    for name, field in schema.load_fields.items():
        key = field.data_key or name
        if key not in properties:
            problems.append(f"{where}.{key}: not documented")
            continue
        prop = _json_schema(properties[key], components)
        if isinstance(field, ma.fields.Nested):
            nested = prop.get("properties", {})
            problems += _looser(field.schema, nested, f"{where}.{key}", components)
            continue
        values = PROBES + [[v] for v in PROBES if not isinstance(v, list | dict)]
        for value in values:
            if _spec_accepts(prop, value) and not _server_accepts(schema, key, value):
                problems.append(f"{where}.{key}: the spec accepts {value!r:.40}, the server not")
    return problems


def test_the_spec_is_never_looser_than_validation(app, spec):
    """Every request body and query parameter, field by field, against the probes above; and
    each body's `required` and `additionalProperties: false` as the schema enforces them."""
    import marshmallow as ma

    components = spec["components"]["schemas"]
    problems: list[str] = []
    checked = 0
    for method, path, location, schema in _request_schemas(app):
        op = spec["paths"][path][method]
        where = f"{method.upper()} {path}"
        if location == "json" and method == "get":
            continue  # a view serving GET and POST: its body belongs to the POST
        if location == "json":
            content = op["requestBody"]["content"]["application/json"]
            body = _json_schema(content["schema"], components)
            required = {f.data_key or n for n, f in schema.load_fields.items() if f.required}
            if not required <= set(body.get("required", [])):
                problems.append(f"{where}: required {sorted(required)} not all documented")
            if schema.unknown == ma.RAISE and body.get("additionalProperties") is not False:
                problems.append(f"{where}: additionalProperties is not false")
            problems += _looser(schema, body["properties"], where, components)
        else:
            params = {p["name"]: p["schema"] for p in op["parameters"] if p["in"] == "query"}
            strings = {k: v for k, v in params.items() if v.get("type") in (None, "string")}
            text_fields = [
                (n, f) for n, f in schema.load_fields.items() if (f.data_key or n) in strings
            ]
            for name, field in text_fields:
                key = field.data_key or name
                prop = _json_schema(strings[key], components)
                for value in (p for p in PROBES if isinstance(p, str)):
                    if _spec_accepts(prop, value) and not _server_accepts(schema, key, value):
                        problems.append(f"{where} ?{key}: the spec accepts {value!r:.40}")
        checked += 1
    assert checked > 35
    assert not problems, "\n".join(problems)


def test_authorization_documents_a_captured_amount_that_may_be_null(spec):
    captured = spec["components"]["schemas"]["Authorization"]["properties"]["captured_amount"]
    assert captured["type"] == "string" and captured["nullable"] is True


def test_the_personal_data_export_documents_every_section(app, spec):
    response = spec["paths"]["/api/v1/privacy/export"]["get"]["responses"]["200"]
    ref = response["content"]["application/json"]["schema"]["$ref"]
    documented = set(spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]["properties"])
    exported = {section.name for section in personal_data(app).exported}
    assert documented == exported | {"generated_at"}


def test_a_json_body_documents_415(spec):
    for _, method, op in _operations(spec):
        if "requestBody" in op:
            assert "415" in op["responses"], (method, op.get("summary"))
