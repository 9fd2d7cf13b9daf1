"""No PAN or CVV in clear anywhere they could leak: the database (a full pg_dump), the logs,
the metrics, the OpenAPI document, the audit trail."""

from __future__ import annotations

import logging
import re
import subprocess

import pytest

from tests.cards.conftest import CARDS, authorize, issue, purchase, reveal
from tests.factories import auth_headers
from tests.money_helpers import post

pytestmark = pytest.mark.postgres

_BYTEA = re.compile(r"'\\x([0-9a-f]+)'")


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage() + " " + repr(record.__dict__))


def _card_traffic(app, client, customer, processor_headers) -> list[dict]:
    """Cards issued, revealed, PIN set, authorized (with CVV), declined, captured, replaced."""
    secrets = []
    for card_type in ("virtual", "physical", "virtual"):
        card = issue(client, customer, card_type)
        secrets.append({**reveal(app, client, customer, card["id"]), "card": card})
    fresh = auth_headers(app, customer.user, fresh=True)
    first = secrets[0]
    assert (
        client.post(
            f"{CARDS}/{first['card']['id']}/pin", headers=fresh, json={"pin": "4829"}
        ).status_code
        == 204
    )
    approved = authorize(client, processor_headers, purchase(first, amount="12.00"))
    assert approved.json["approved"] is True
    wrong = f"{(int(first['cvv']) + 7) % 1000:03d}"
    declined = authorize(client, processor_headers, purchase(first, cvv=wrong))
    assert declined.json["decline_reason"] == "invalid_cvv"
    inactive = authorize(client, processor_headers, purchase(secrets[1]))
    assert inactive.json["decline_reason"] == "card_inactive"
    capture = post(
        client,
        f"/api/v1/card-network/authorizations/{approved.json['authorization_id']}/capture",
        processor_headers,
        {"amount": "12.00"},
    )
    assert capture.status_code == 200
    replaced = post(
        client,
        f"{CARDS}/{secrets[2]['card']['id']}/cancel",
        customer.headers,
        {"reason": "lost", "replace": True},
    )
    replacement = replaced.json["replacement"]
    secrets.append({**reveal(app, client, customer, replacement["id"]), "card": replacement})
    return secrets


def _forms(pan: str) -> list[str]:
    spaced = " ".join(pan[i : i + 4] for i in range(0, len(pan), 4))
    return [pan, spaced, spaced.replace(" ", "-")]


def test_a_full_pg_dump_holds_no_pan_or_cvv_in_clear(
    app, client, customer, processor_headers, pg_url
):
    secrets = _card_traffic(app, client, customer, processor_headers)
    dump = subprocess.run(
        ["pg_dump", "--inserts", "--no-owner", "--dbname", pg_url],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    # Stored response bodies are bytea: read them as text too.
    decoded = "\n".join(bytes.fromhex(h).decode("utf-8", "replace") for h in _BYTEA.findall(dump))
    assert decoded, "the dump holds the stored idempotent responses"
    haystack = dump + "\n" + decoded
    # The sanctions lists are published reference data whose ids are short numbers (OFAC's
    # ent_num 306): a three-digit CVV is looked for everywhere else.
    customer_data = "\n".join(
        line for line in haystack.splitlines() if "INSERT INTO public.sanctions_" not in line
    )
    for secret in secrets:
        card = secret["card"]
        # The dump has the card: its id, BIN and last four are there in clear …
        assert card["id"] in dump and f"'{card['last4']}'" in dump
        # … and never its number or CVV (with --inserts, text is quoted and numbers are not).
        for form in _forms(secret["pan"]):
            assert form not in haystack
        cvv = secret["cvv"]
        assert f"'{cvv}'" not in customer_data and f'"{cvv}"' not in customer_data
        assert not re.search(rf"cvv[\"']?\s*[:=]\s*[\"']?{cvv}\b", haystack, re.IGNORECASE)
    # The PIN is an Argon2 hash only (the test PIN is no card's last four digits).
    if all(s["card"]["last4"] != "4829" for s in secrets):
        assert "'4829'" not in haystack and '"4829"' not in haystack
    assert "$argon2id$" in dump


def test_logs_metrics_and_openapi_never_show_a_pan_or_cvv(app, client, customer, processor_headers):
    collect = _Collect()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(collect)
    root.setLevel(logging.DEBUG)
    try:
        secrets = _card_traffic(app, client, customer, processor_headers)
        # A failing request carrying a PAN must not put it in a log line either.
        bad = authorize(client, processor_headers, {**purchase(secrets[0]), "amount": 5})
        assert bad.status_code == 422
    finally:
        root.removeHandler(collect)
        root.setLevel(previous)
    logs = "\n".join(collect.lines)
    assert logs, "the requests were logged"
    metrics = client.get("/metrics").get_data(as_text=True)
    openapi = client.get("/openapi.json").get_data(as_text=True)
    assert "flowlet_card_authorizations_total" in metrics
    for secret in secrets:
        for text in (logs, metrics, openapi):
            for form in _forms(secret["pan"]):
                assert form not in text
            # A three-digit CVV is a common number (a status code label is one): look for it
            # next to its name, and next to the card's last four digits.
            assert not re.search(
                rf"cvv[\"']?\s*[:=]\s*[\"']?{secret['cvv']}\b", text, re.IGNORECASE
            )
            assert not re.search(rf"{secret['pan'][-4:]}\W{{1,6}}{secret['cvv']}\b", text)
    schemas = client.get("/openapi.json").json["components"]["schemas"]
    shown = schemas["RevealedCard"]["properties"]
    sent = schemas["AuthorizationRequest"]["properties"]
    for field in (shown["pan"], shown["cvv"], sent["pan"], sent["cvv"]):
        assert "example" not in field and "default" not in field
