"""Over-long URLs and header fields get the JSON envelope from the app (414, 431), behind a real
gunicorn configured by `gunicorn.conf.py`: its own limits sit above the app's."""

from __future__ import annotations

import json
import socket

import pytest

from app import config
from tests.server_helpers import run_gunicorn

pytestmark = pytest.mark.postgres

LIMITS = config.TestingConfig()


@pytest.fixture(scope="module")
def server(pg_url):
    proc, port = run_gunicorn(pg_url)
    yield port
    proc.terminate()
    proc.wait(timeout=20)


def _send(port: int, target: str, headers: dict[str, str] | list[tuple[str, str]] = ()):
    """One raw HTTP/1.1 request; (status, headers text, body)."""
    items = headers.items() if isinstance(headers, dict) else headers
    head = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in items) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head.encode("latin-1"))
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    raw = b"".join(chunks).decode("latin-1")
    status_line, _, rest = raw.partition("\r\n")
    header_text, _, body = rest.partition("\r\n\r\n")
    return int(status_line.split()[1]), header_text.lower(), body


def _envelope(answer, status: int, code: str) -> None:
    got, headers, body = answer
    assert got == status, body[:300]
    assert "content-type: application/json" in headers
    assert json.loads(body)["error"]["code"] == code


def test_a_long_url_is_414_in_the_envelope(server):
    target = "/api/v1/transactions?q=" + "a" * LIMITS.MAX_URL_LENGTH
    assert len(target) + len("GET  HTTP/1.1") < 8190  # under gunicorn's request line limit
    _envelope(_send(server, target), 414, "uri_too_long")


def test_many_or_large_header_fields_are_431_in_the_envelope(server):
    many = [(f"X-Probe-{i}", "1") for i in range(LIMITS.MAX_HEADER_COUNT + 10)]
    _envelope(_send(server, "/health", many), 431, "header_fields_too_large")
    large = {"X-Probe": "a" * (LIMITS.MAX_HEADER_FIELD_SIZE + 100)}
    _envelope(_send(server, "/health", large), 431, "header_fields_too_large")


def test_requests_within_the_limits_pass(server):
    status, _, _ = _send(
        server,
        "/health?" + "a" * (LIMITS.MAX_URL_LENGTH - 200),
        {"X-Probe": "a" * (LIMITS.MAX_HEADER_FIELD_SIZE - 100)},
    )
    assert status == 200


def test_beyond_gunicorn_s_own_limit_the_request_is_still_refused(server):
    status, _, _ = _send(server, "/health?" + "a" * 9000)
    assert 400 <= status < 500
