"""Property: whatever body, cursor or query string a client sends, no route answers 5xx
(issue 9, §2). Every route of the app, authenticated, with generated hostile input."""

from __future__ import annotations

import base64
import json
import uuid
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.factories import auth_headers, make_user
from tests.money_helpers import make_account

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

# Text that has broken storage or parsing before: NUL, lone surrogates, huge numbers, far dates.
NASTY_TEXT = st.sampled_from(
    [
        "\x00",
        "a\x00b",
        "\ud800",
        "\udfff x",
        "1e5000",
        "-1e5000",
        "NaN",
        "Infinity",
        "9" * 40,
        "92233720368547758.08",
        "9999-12-31",
        "0001-01-01",
        "9999-12-31T23:59:59",
        "2026-01-01T00:00:00",
        "[" * 2500,
        "",
        " ",
        "%00",
        "USD",
        "10.00",
    ]
)
TEXT = st.one_of(NASTY_TEXT, st.text(max_size=30))
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(TEXT, children, max_size=4)
    ),
    max_leaves=12,
)
FIELD_NAMES = st.sampled_from(
    [
        "amount",
        "currency",
        "account_id",
        "from_account_id",
        "to_account_id",
        "to_iban",
        "description",
        "reference",
        "beneficiary_name",
        "email",
        "login",
        "password",
        "name",
        "first_name",
        "notes",
        "roles",
        "status",
        "token",
    ]
)
BODIES = st.one_of(
    st.dictionaries(FIELD_NAMES, JSON_VALUES, max_size=6),
    JSON_VALUES,
    st.builds(lambda n: "[" * n + "]" * n, st.integers(min_value=30, max_value=3000)),
)
QUERY_KEYS = st.sampled_from(
    [
        "cursor",
        "limit",
        "from",
        "to",
        "min_amount",
        "max_amount",
        "q",
        "type",
        "status",
        "account_id",
        "format",
        "role",
    ]
)
CURSORS = st.one_of(
    TEXT,
    st.builds(
        lambda payload: base64.urlsafe_b64encode(payload.encode("utf-8", "surrogatepass")).decode(),
        st.one_of(TEXT, st.just('["2026-01-01T00:00:00", "' + str(uuid.uuid4()) + '"]')),
    ),
)
NESTED_CURSOR = base64.urlsafe_b64encode(b"[" * 2500).decode()
NASTY_QUERY = {
    "to": "9999-12-31",
    "from": "2026-01-01",
    "max_amount": "1e5000",
    "cursor": base64.urlsafe_b64encode(
        json.dumps(["2026-01-01T00:00:00", str(uuid.uuid4())]).encode()
    ).decode(),
}
QUERIES = st.dictionaries(QUERY_KEYS, st.one_of(TEXT, CURSORS), max_size=4)


def _encode(query: dict) -> str:
    """Percent-encode as a client would, surrogates included (as their raw UTF-8 bytes)."""
    return "&".join(
        f"{quote(k)}={quote(v.encode('utf-8', 'surrogatepass'))}" for k, v in query.items()
    )


def _header_value(text: str) -> str:
    """Any bytes a client can put in a header line (its UTF-8 read as latin-1, no CR/LF)."""
    raw = text.encode("utf-8", "surrogatepass").decode("latin-1")
    return "".join(ch for ch in raw if ch not in "\r\n")


def _routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule.startswith("/docs/assets"):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield rule, method


def _url(rule) -> str:
    url = rule.rule
    for arg in rule.arguments:
        url = url.replace(f"<uuid:{arg}>", str(uuid.uuid4()))
        url = url.replace(f"<{arg}>", "x").replace(f"<path:{arg}>", "x")
    return url


@pytest.fixture(scope="module")
def headers(app):
    from app.core.extensions import db

    with app.app_context():
        user = make_user(db.session)
        make_account(db.session, user, balance="50.00")
        result = auth_headers(app, user)
        db.session.remove()
    return result


EXAMPLES_PER_ROUTE = 5


@pytest.fixture
def built_web_app(app, tmp_path):
    """A minimal web build, so that `/` answers as in a deployment (not 503 "not built")."""
    (tmp_path / "index.html").write_text("<!doctype html><title>Flowlet</title>")
    previous = app.config["WEB_DIST_DIR"]
    app.config["WEB_DIST_DIR"] = str(tmp_path)
    yield
    app.config["WEB_DIST_DIR"] = previous


def test_no_route_answers_5xx_to_generated_input(app, headers, built_web_app):
    client = app.test_client()
    routes = [
        (rule, method)
        for rule, method in _routes(app)
        if (method, rule.rule) not in {("POST", "/api/v1/auth/logout")}
    ]
    assert len(routes) > 30
    probed: set[tuple[str, str]] = set()
    for rule, method in routes:
        _probe_route(client, headers, rule, method, probed)
    assert probed == {(method, rule.rule) for rule, method in routes}


def _probe_route(client, headers, rule, method, probed) -> None:
    """EXAMPLES_PER_ROUTE generated requests to one route; none may answer 5xx."""

    @settings(
        max_examples=EXAMPLES_PER_ROUTE,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    # The inputs that once answered 500 are always among the cases; then generated ones.
    @example(body="[" * 2000 + "]" * 2000, query={}, key=None)
    @example(body={"email": "a\x00b"}, query=NASTY_QUERY, key=None)
    @example(body={}, query={"cursor": NESTED_CURSOR, "limit": "2"}, key="\x7f")
    @given(
        body=BODIES,
        query=QUERIES,
        key=st.one_of(st.none(), st.just(str(uuid.uuid4())), TEXT.map(_header_value)),
    )
    def probe(body, query, key):
        hdrs = dict(headers)
        if key is not None:
            hdrs["Idempotency-Key"] = key
        raw = body if isinstance(body, str) else json.dumps(body)
        response = client.open(
            _url(rule),
            method=method,
            query_string=_encode(query),
            data=raw.encode("utf-8", "surrogatepass"),
            content_type="application/json",
            headers=hdrs,
        )
        probed.add((method, rule.rule))
        assert response.status_code < 500, (method, rule.rule, query, raw[:200], response.json)

    probe()
