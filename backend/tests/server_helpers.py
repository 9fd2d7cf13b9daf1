"""A real gunicorn serving the app, for what only a real HTTP server shows (timeouts, limits)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

BACKEND = Path(__file__).resolve().parents[1]


def pick_port() -> int:
    """A free 127.0.0.1 port: the first free one of `TEST_SERVER_PORTS` ("5200-5209") when
    set (machines that give tests a port range), else any the kernel picks."""
    first, _, last = os.environ.get("TEST_SERVER_PORTS", "0-0").partition("-")
    for candidate in range(int(first), int(last or first) + 1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return s.getsockname()[1]
    raise AssertionError(f"no free port in TEST_SERVER_PORTS={os.environ['TEST_SERVER_PORTS']}")


def run_gunicorn(url: str, timeout: int = 30, **env_overrides: str) -> tuple[subprocess.Popen, int]:
    """One sync gunicorn worker (`gunicorn.conf.py`) serving the app on a free 127.0.0.1 port,
    with the database at `url`; returns the process and its port once `/health` answers.
    Jobs run inline unless `REDIS_URL` is among the overrides."""
    port = pick_port()
    env = {
        **os.environ,
        "FLOWLET_ENV": "testing",
        "DATABASE_URL": url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "1",
        "GUNICORN_TIMEOUT": str(timeout),
        "GUNICORN_ACCESS_LOG": "/dev/null",
        **env_overrides,
    }
    if "REDIS_URL" not in env_overrides:
        env.pop("REDIS_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "main:app"],
        cwd=BACKEND,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # os.killpg ends it with its workers and outbox relay
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /health HTTP/1.0\r\n\r\n")
                if b"200" in s.recv(64):
                    return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("gunicorn did not start: " + proc.stderr.read().decode()[-2000:])
