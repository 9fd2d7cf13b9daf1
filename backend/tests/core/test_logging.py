"""Logs are JSON with the request id, and never carry secrets or card numbers."""

import json
import logging

from app.core.logging import configure_logging, mask_text


def test_pan_and_bearer_tokens_are_masked_in_text():
    assert mask_text("card 4111 1111 1111 1111 declined") == "card 411111******1111 declined"
    assert mask_text("Authorization: Bearer abc.def.ghi") == "Authorization: Bearer [REDACTED]"
    # Not a Luhn-valid number: an order reference stays readable.
    assert mask_text("order 1234567890123") == "order 1234567890123"


def test_log_lines_are_json_and_mask_secret_fields(capsys):
    configure_logging("INFO", json=True)
    logging.getLogger("flowlet.test").info(
        "login for card 4111111111111111",
        extra={"password": "hunter2", "totp_secret": "JBSWY3DPEHPK3PXP", "user": "u-1"},
    )
    line = capsys.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["event"] == "login for card 411111******1111"
    assert record["password"] == "[REDACTED]"
    assert record["totp_secret"] == "[REDACTED]"
    assert record["user"] == "u-1"
    assert "hunter2" not in line and "JBSWY3DPEHPK3PXP" not in line
