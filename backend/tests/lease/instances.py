"""Two web instances (real gunicorns) on one PostgreSQL database of their own and one Redis."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
from dataclasses import dataclass

from tests.server_helpers import run_gunicorn

# The load tests the machinery, not the business rules: no limit or fraud rule fires.
NO_RULES = {
    "TRANSFER_LIMITS": json.dumps({"none": {"per_transfer": "1000000", "daily": "1000000000"}}),
    "FRAUD_VELOCITY_MAX": "100000000",
    "FRAUD_REVIEW_THRESHOLD": "1000",
    "FRAUD_NEW_BENEFICIARY_AMOUNT": "1000000000",
}


@dataclass
class Instance:
    process: subprocess.Popen
    port: int

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """The whole instance: gunicorn's master, its workers and its outbox relay."""
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            return
        self.process.wait(timeout=20)


def start_instance(db_url: str, redis_url: str, **env: str) -> Instance:
    process, port = run_gunicorn(
        db_url,
        REDIS_URL=redis_url,
        WEB_CONCURRENCY="2",
        LOG_LEVEL="ERROR",
        JWT_ACCESS_TOKEN_SECONDS="3600",
        **env,
    )
    return Instance(process, port)


def call(
    port: int, method: str, path: str, body: dict | None = None, headers: dict | None = None
) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        payload = json.dumps(body) if body is not None else None
        sent = {**(headers or {}), **({"Content-Type": "application/json"} if payload else {})}
        conn.request(method, path, body=payload, headers=sent)
        response = conn.getresponse()
        data = response.read()
        return response.status, (json.loads(data) if data[:1] == b"{" else {})
    finally:
        conn.close()
