"""The restore drill (bench/restore_drill.py), shortened: a base backup under a transfer load
through the API, WAL archived, a point-in-time restore on a new cluster, the books verified,
and exactly the transfers acknowledged before the target time restored (about a minute).

It makes its own PostgreSQL clusters from PostgreSQL 15's binaries (ports 5450-5459) and its own
gunicorn (5210-5219); it skips where those binaries are not installed, except under CI=true.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DRILL = REPO / "bench" / "restore_drill.py"
PG_BIN = Path("/usr/lib/postgresql/15/bin")

pytestmark = pytest.mark.postgres


@pytest.mark.skipif(
    not (PG_BIN / "pg_basebackup").exists() and not os.environ.get("CI"),
    reason="PostgreSQL 15's binaries are not installed (under CI=true this fails instead)",
)
def test_point_in_time_restore_holds_exactly_what_was_acknowledged_before_the_target() -> None:
    done = subprocess.run(
        [sys.executable, str(DRILL), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "ledger verify: exit 0" in out and "audit verify: exit 0" in out, out
    checked = re.search(r"acknowledged before the target: (\d+), missing (\d+)", out)
    assert checked and int(checked[1]) > 0 and checked[2] == "0", out
    assert re.search(r"sent after it: \d+, restored 0", out), out
    assert re.search(r"^RPO \d+\.\d+ ms", out, re.M) and re.search(r"^RTO \d+\.\d+ s", out, re.M)
