"""Bad input gets a 4xx envelope, never a 500 and never a traceback in the log (issue 9, §2)."""

from __future__ import annotations

import base64
import io
import json
import logging
import uuid

import pytest

from tests.auth.helpers import next_ip, registration
from tests.factories import auth_headers, make_user
from tests.money_helpers import balance_of, make_account, post

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

NUL = "a\x00b"
SURROGATE = "\\ud800"  # a lone UTF-16 surrogate, as a JSON escape


def _raw(client, method, url, raw: str, headers=None):
    return client.open(
        url,
        method=method,
        data=raw.encode(),
        content_type="application/json",
        headers=headers or {},
        environ_base={"REMOTE_ADDR": next_ip()},
    )


def _envelope(response, status: int, code: str | None = None):
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.json["error"]
    assert set(error) == {"code", "message", "details", "request_id"}
    if code:
        assert error["code"] == code
    return error


@pytest.fixture
def no_tracebacks(caplog):
    caplog.set_level(logging.INFO)
    yield
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


@pytest.fixture
def customer(app, db_session):
    user = make_user(db_session)
    account = make_account(db_session, user, balance="100.00")
    return user, account, auth_headers(app, user)


@pytest.mark.parametrize("bad", [NUL, SURROGATE])
def test_bad_text_in_any_string_field_is_422_naming_the_field(
    app, client, customer, bad, no_tracebacks
):
    _, account, headers = customer
    text = json.dumps(bad) if bad == NUL else f'"{bad}"'
    probes = [
        ("POST", "/api/v1/auth/password-reset/request", f'{{"email": {text}}}', {}, "email"),
        ("POST", "/api/v1/auth/login", f'{{"login": {text}, "password": "x"}}', {}, "login"),
        ("PATCH", "/api/v1/auth/me", f'{{"first_name": {text}}}', headers, "first_name"),
        (
            "PATCH",
            f"/api/v1/accounts/{account.public_id}",
            f'{{"name": {text}}}',
            headers,
            "name",
        ),
    ]
    body = registration()
    probes.append(("POST", "/api/v1/auth/register", _replace(body, "email", text), {}, "email"))
    money = {"account_id": str(account.public_id), "amount": "1.00", "currency": "USD"}
    probes.append(
        (
            "POST",
            "/api/v1/transactions/deposit",
            _replace({**money, "reference": "r"}, "reference", text),
            {**headers, "Idempotency-Key": str(uuid.uuid4())},
            "reference",
        )
    )
    transfer = {
        "from_account_id": str(account.public_id),
        "to_iban": "GB33BUKB20201555555555",
        "beneficiary_name": "Jane",
        "description": "d",
        "amount": "1.00",
        "currency": "USD",
    }
    for field in ("description", "beneficiary_name"):
        probes.append(
            (
                "POST",
                "/api/v1/transactions/transfer",
                _replace(transfer, field, text),
                {**headers, "Idempotency-Key": str(uuid.uuid4())},
                field,
            )
        )
    for method, url, raw, hdrs, field in probes:
        error = _envelope(_raw(client, method, url, raw, hdrs), 422, "validation_error")
        assert field in error["details"], (url, error)


def _replace(body: dict, field: str, raw_value: str) -> str:
    """The JSON of `body` with `field` set to a raw JSON text (escapes kept as sent)."""
    marker = "__RAW__"
    return json.dumps({**body, field: marker}).replace(f'"{marker}"', raw_value)


def test_deeply_nested_json_is_400(client, no_tracebacks):
    deep = "[" * 2000 + "]" * 2000
    _envelope(_raw(client, "POST", "/api/v1/auth/register", deep), 400, "bad_request")
    moderately = "[" * 40 + "]" * 40
    _envelope(_raw(client, "POST", "/api/v1/auth/register", moderately), 400, "bad_request")


def test_deep_json_logins_are_still_counted_by_the_rate_limit(client, no_tracebacks):
    deep = ('{"login": ' + "[" * 2000 + "]" * 2000 + "}").encode()
    ip = {"REMOTE_ADDR": next_ip()}
    statuses = [
        client.post(
            "/api/v1/auth/login", data=deep, content_type="application/json", environ_base=ip
        ).status_code
        for _ in range(11)
    ]
    assert statuses == [400] * 10 + [429]


def _cursor(payload) -> str:
    raw = json.dumps(payload).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_forged_cursors_are_422(client, customer, no_tracebacks):
    _, _, headers = customer
    naive = _cursor(["2026-01-01T00:00:00", str(uuid.uuid4())])
    nested = base64.urlsafe_b64encode(b"[" * 2500).decode()
    for cursor in (naive, nested, naive + ".AAAA", "x" * 5000):
        for url in ("/api/v1/accounts", "/api/v1/transactions"):
            response = client.get(url, query_string={"cursor": cursor}, headers=headers)
            assert _envelope(response, 422, "validation_error")["details"] == {
                "cursor": ["Not a cursor from this API."]
            }


def test_a_signed_cursor_pages_through(client, app, db_session, customer):
    user, _, headers = customer
    for _ in range(2):
        make_account(db_session, user)
    first = client.get("/api/v1/accounts?limit=2", headers=headers).json
    second = client.get(
        "/api/v1/accounts",
        query_string={"limit": 2, "cursor": first["next_cursor"]},
        headers=headers,
    )
    assert second.status_code == 200 and len(second.json["items"]) == 1


def test_out_of_range_dates_and_amounts_are_422(client, customer, no_tracebacks):
    _, account, headers = customer
    probes = [
        ("/api/v1/transactions", {"to": "9999-12-31"}, "to"),
        ("/api/v1/transactions", {"from": "0001-01-01T00:00:00Z"}, "from"),
        (
            f"/api/v1/accounts/{account.public_id}/statement",
            {"from": "2026-01-01", "to": "9999-12-31"},
            "to",
        ),
        ("/api/v1/transactions", {"max_amount": "1e5000"}, "max_amount"),
        ("/api/v1/transactions", {"min_amount": "9" * 40}, "min_amount"),
    ]
    for url, query, field in probes:
        error = _envelope(client.get(url, query_string=query, headers=headers), 422)
        assert field in error["details"], (url, query, error)


def test_nul_in_a_query_string_is_422(client, customer, no_tracebacks):
    _, _, headers = customer
    error = _envelope(
        client.get("/api/v1/transactions", query_string={"q": NUL}, headers=headers), 422
    )
    assert "q" in error["details"]


def test_an_amount_beyond_bigint_is_422(client, customer, no_tracebacks):
    _, account, headers = customer
    body = {
        "account_id": str(account.public_id),
        "amount": "92233720368547758.08",
        "currency": "USD",
    }
    response = post(client, "/api/v1/transactions/deposit", headers, body)
    assert "amount" in _envelope(response, 422)["details"]


def test_a_chunked_ten_megabyte_body_is_413(client, no_tracebacks):
    body = io.BytesIO(b'{"email": "' + b"a" * (10 * 1024 * 1024) + b'"}')
    response = client.post(
        "/api/v1/auth/password-reset/request",
        input_stream=body,
        headers={"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
        # What gunicorn sets for a chunked body: the stream ends where the body ends.
        environ_base={"REMOTE_ADDR": next_ip(), "wsgi.input_terminated": True},
    )
    _envelope(response, 413, "payload_too_large")


def test_a_declared_large_body_is_413(client, no_tracebacks):
    body = b'{"email": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    response = client.post(
        "/api/v1/auth/password-reset/request",
        data=body,
        content_type="application/json",
        environ_base={"REMOTE_ADDR": next_ip()},
    )
    _envelope(response, 413, "payload_too_large")


# --- what the contract says the edge refuses --------------------------------------------------


@pytest.mark.parametrize("amount", [" 1.00", "1.00 ", "\t1.00", "1.00\n", "1 .00", "+1.00"])
def test_an_amount_with_spaces_or_a_sign_is_422_and_moves_nothing(
    app, client, customer, amount, no_tracebacks
):
    _, account, headers = customer
    account_id = str(account.public_id)
    bodies = {
        "deposit": {"account_id": account_id, "amount": amount, "currency": "USD"},
        "withdrawal": {"account_id": account_id, "amount": amount, "currency": "USD"},
        "transfer": {
            "from_account_id": account_id,
            "to_iban": "GB33BUKB20201555555555",
            "beneficiary_name": "Jane",
            "amount": amount,
            "currency": "USD",
        },
    }
    for kind, body in bodies.items():
        error = _envelope(post(client, f"/api/v1/transactions/{kind}", headers, body), 422)
        assert error["code"] == "validation_error" and "amount" in error["details"], kind
    assert balance_of(app, account.public_id) == (10000, 0)


def test_an_amount_as_sent_still_works(app, client, customer):
    _, account, headers = customer
    body = {"account_id": str(account.public_id), "amount": "1.50", "currency": "USD"}
    response = post(client, "/api/v1/transactions/deposit", headers, body)
    assert response.status_code == 201 and response.json["amount"] == "1.50"


@pytest.mark.parametrize("blank", ["", " ", "   ", "\t", "\n", "\u00a0\u2003"])
def test_blank_names_are_422(client, customer, blank, no_tracebacks):
    _, account, headers = customer
    probes = [
        ("POST", "/api/v1/auth/register", registration(first_name=blank), {}, "first_name"),
        ("POST", "/api/v1/auth/register", registration(last_name=blank), {}, "last_name"),
        ("PATCH", "/api/v1/auth/me", {"first_name": blank}, headers, "first_name"),
        ("PATCH", "/api/v1/auth/me", {"last_name": blank}, headers, "last_name"),
        ("PATCH", f"/api/v1/accounts/{account.public_id}", {"name": blank}, headers, "name"),
        (
            "POST",
            "/api/v1/accounts",
            {"account_type": "savings", "currency": "USD", "name": blank},
            headers,
            "name",
        ),
    ]
    for method, url, body, hdrs, field in probes:
        response = client.open(
            url, method=method, json=body, headers=hdrs, environ_base={"REMOTE_ADDR": next_ip()}
        )
        error = _envelope(response, 422, "validation_error")
        assert field in error["details"], (url, error)


def test_names_with_surrounding_space_are_kept_as_sent(client, customer):
    _, account, headers = customer
    me = client.patch("/api/v1/auth/me", json={"first_name": " Ada "}, headers=headers)
    assert me.status_code == 200 and me.json["first_name"] == " Ada "
    renamed = client.patch(
        f"/api/v1/accounts/{account.public_id}", json={"name": "Rainy day "}, headers=headers
    )
    assert renamed.status_code == 200 and renamed.json["name"] == "Rainy day "


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ('{"first_name": "Mallory"}', "text/plain"),
        ("first_name=Mallory", "application/x-www-form-urlencoded"),
        ('{"first_name": "Mallory"}', None),
    ],
)
def test_a_body_that_is_not_json_is_415(client, customer, data, content_type, no_tracebacks):
    _, account, headers = customer
    for method, url in [
        ("PATCH", "/api/v1/auth/me"),
        ("PATCH", f"/api/v1/accounts/{account.public_id}"),
        ("POST", "/api/v1/accounts"),
        ("PUT", f"/api/v1/cards/{uuid.uuid4()}/controls"),
    ]:
        response = client.open(
            url, method=method, data=data, content_type=content_type, headers=headers
        )
        error = _envelope(response, 415, "unsupported_media_type")
        assert "JSON" in error["message"]
    assert client.get("/api/v1/auth/me", headers=headers).json["first_name"] != "Mallory"


def test_json_with_a_charset_or_a_suffix_is_still_json(client, customer):
    _, _, headers = customer
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = client.patch(
            "/api/v1/auth/me",
            data='{"last_name": "Lovelace"}',
            content_type=content_type,
            headers=headers,
        )
        assert response.status_code == 200 and response.json["last_name"] == "Lovelace"


def test_a_bodiless_post_needs_no_content_type(client, customer):
    _, account, headers = customer
    response = client.post(f"/api/v1/accounts/{account.public_id}/close", headers=headers)
    assert response.status_code != 415


def test_a_url_over_the_limit_is_414(app, client, no_tracebacks):
    limit = app.config["MAX_URL_LENGTH"]
    path = "/api/v1/transactions?q="
    response = client.get(path + "a" * (limit - len(path) + 1))
    _envelope(response, 414, "uri_too_long")
    assert client.get(path + "a" * (limit - len(path))).status_code != 414


def test_too_many_or_too_large_header_fields_are_431(app, client, no_tracebacks):
    count, size = app.config["MAX_HEADER_COUNT"], app.config["MAX_HEADER_FIELD_SIZE"]
    many = {f"X-Probe-{i}": "1" for i in range(count + 1)}
    _envelope(client.get("/health", headers=many), 431, "header_fields_too_large")
    large = {"X-Probe": "a" * (size - len("X-Probe") + 1)}
    error = _envelope(client.get("/health", headers=large), 431, "header_fields_too_large")
    assert "X-Probe" in error["details"]
    fits = {"X-Probe": "a" * (size - len("X-Probe"))}
    assert client.get("/health", headers=fits).status_code == 200
