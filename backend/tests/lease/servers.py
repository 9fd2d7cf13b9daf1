"""Processes for the several-instances tests: schedulers, RQ workers, gunicorns.

Each runs in its own process group, so a test can SIGKILL an instance with everything it
started (gunicorn's workers and outbox relay).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

BACKEND = Path(__file__).resolve().parents[2]


def flask_process(app: str, *args: str, **env: str) -> subprocess.Popen:
    """`flask --app <app> <args>` with the testing config and the given environment."""
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", app, *args],
        cwd=BACKEND,
        env={**os.environ, "FLOWLET_ENV": "testing", "LOG_LEVEL": "WARNING", "TZ": "UTC", **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def kill(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Send `sig` to the process and everything in its group; reap it if it ended."""
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return
    if sig in (signal.SIGKILL, signal.SIGTERM):
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def wait_until(predicate: Callable[[], object], timeout: float, every: float = 0.05) -> float:
    """Seconds until `predicate()` was true; AssertionError after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(every)
    raise AssertionError(f"not true within {timeout} s")
