"""A worker killed at each phase of a movement: nothing half-written, and a retry with the same
key runs once or replays the original answer byte for byte (a real gunicorn, SIGKILL)."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.core.audit import AuditLog
from app.core.idempotency import IdempotencyKey
from app.ledger.models import JournalTransaction
from tests.money_helpers import assert_ledger_consistent, balance_of, own_transfer

pytestmark = pytest.mark.postgres

BACKEND = Path(__file__).resolve().parents[2]
TRANSFER = "/api/v1/transactions/transfer"
CRASH_CONFIG = "tests/transactions/crash_gunicorn.py"


@pytest.fixture
def server(pg_url, tmp_path):
    """One sync gunicorn worker on the test database; the master restarts a killed worker."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    crash_dir = tmp_path / "crash"
    crash_dir.mkdir()
    env = {
        **os.environ,
        "FLOWLET_ENV": "testing",
        "DATABASE_URL": pg_url.replace("+psycopg", ""),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "1",
        "GUNICORN_ACCESS_LOG": "/dev/null",
        "CRASH_DIR": str(crash_dir),
    }
    env.pop("REDIS_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", CRASH_CONFIG, "main:app"],
        cwd=BACKEND,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_up(port)
        yield port, crash_dir
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _wait_up(port: int) -> None:
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("gunicorn did not answer /health")


def _post(port: int, headers: dict, body: dict, key: str):
    """(status, headers, body bytes), or None when the connection died with the worker."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            "POST",
            TRANSFER,
            body=json.dumps(body),
            headers={**headers, "Content-Type": "application/json", "Idempotency-Key": key},
        )
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    except (ConnectionError, http.client.RemoteDisconnected, http.client.IncompleteRead):
        return None
    finally:
        conn.close()


def _state(db_session, src, key: str) -> tuple[int, int, int]:
    """Transfers out of `src`, their audit records, and the key's rows."""
    db_session.rollback()
    transfers = db_session.scalars(
        sa.select(JournalTransaction.public_id).where(JournalTransaction.from_account_id == src.id)
    ).all()
    audited = db_session.scalar(
        sa.select(sa.func.count())
        .select_from(AuditLog)
        .where(AuditLog.resource_id.in_([str(t) for t in transfers] or [""]))
    )
    keys = db_session.scalar(
        sa.select(sa.func.count()).select_from(IdempotencyKey).where(IdempotencyKey.key == key)
    )
    return len(transfers), audited, keys


@pytest.mark.parametrize("phase", ["after_lock", "before_commit"])
def test_a_worker_killed_before_the_commit_leaves_nothing_and_the_retry_runs_once(
    app, db_session, server, phase
):
    port, crash_dir = server
    headers, src, body = own_transfer(app, db_session, amount="12.34")
    key = f"crash-{phase}-{uuid.uuid4()}"
    (crash_dir / phase).write_text(key)

    assert _post(port, headers, body, key) is None  # the worker died mid-request
    assert not (crash_dir / phase).exists()
    assert _state(db_session, src, key) == (0, 0, 0)  # nothing half-written
    assert balance_of(app, src.public_id) == (10000, 0)

    _wait_up(port)
    status, response_headers, first = _post(port, headers, body, key)
    assert status == 201 and "Idempotent-Replayed" not in response_headers
    status, response_headers, again = _post(port, headers, body, key)
    assert status == 201 and response_headers["Idempotent-Replayed"] == "true"
    assert again == first
    assert _state(db_session, src, key) == (1, 1, 1)
    assert balance_of(app, src.public_id) == (8766, 0)
    assert_ledger_consistent(app)


def test_a_worker_killed_after_the_commit_replays_the_committed_answer_byte_for_byte(
    app, db_session, server
):
    port, crash_dir = server
    headers, src, body = own_transfer(app, db_session, amount="12.34")
    key = f"crash-after-{uuid.uuid4()}"
    (crash_dir / "after_commit").write_text(key)

    assert _post(port, headers, body, key) is None  # committed, then the worker died
    assert _state(db_session, src, key) == (1, 1, 1)
    (original,) = db_session.execute(
        sa.select(IdempotencyKey.response_body).where(IdempotencyKey.key == key)
    ).one()
    committed = json.loads(original)
    assert committed["status"] == "completed" and committed["amount"] == "12.34"

    _wait_up(port)  # at once: nothing to wait out
    started = time.monotonic()
    status, response_headers, replayed = _post(port, headers, body, key)
    assert time.monotonic() - started < 10
    assert status == 201 and response_headers["Idempotent-Replayed"] == "true"
    assert response_headers["Content-Type"] == "application/json"
    assert replayed == original  # the answer built before the COMMIT, byte for byte
    assert _state(db_session, src, key) == (1, 1, 1)
    assert balance_of(app, src.public_id) == (8766, 0)
    assert_ledger_consistent(app)
