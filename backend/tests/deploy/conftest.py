"""The deployment files under deploy/, checked by the tools that read them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import IN_CI

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"


def require_tool(name: str, package: str) -> str:
    """The path of a command-line tool; without it skip, or fail under CI=true (.ci/run
    installs the Debian package)."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (apt-get install {package})"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: tests may not skip)", pytrace=False)
        pytest.skip(message)
    return path
