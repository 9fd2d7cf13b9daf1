"""A private PostgreSQL primary and its streaming replica (`pg_basebackup -R`), for the tests of
the read replica: built in a directory under /tmp on ports of their own, stopped and removed by
`PrivateReplication.close()`. Nothing here touches the machine's own cluster.

PostgreSQL refuses to run as root: when the tests do, the cluster commands run as `postgres`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

PG_BIN = Path(os.environ.get("TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
PORTS = range(5440, 5450)  # the private clusters' ports on a shared machine


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def _run(*args: str) -> None:
    subprocess.run(
        _as_postgres([str(a) for a in args]), check=True, capture_output=True, timeout=120
    )


def _free_ports(count: int) -> list[int]:
    free = []
    for port in PORTS:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                free.append(port)
        if len(free) == count:
            return free
    raise RuntimeError(f"no {count} free ports in {PORTS}")


@dataclass
class PrivateReplication:
    """A primary and its hot standby, each a data directory under `root`."""

    root: Path
    primary_port: int
    replica_port: int
    running: list[Path] = field(default_factory=list)

    @property
    def primary(self) -> Path:
        return self.root / "primary"

    @property
    def standby(self) -> Path:
        return self.root / "replica"

    def url(self, port: int, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{port}/{dbname}"

    def _start(self, datadir: Path, port: int) -> None:
        options = f"-p {port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        _run(PG_BIN / "pg_ctl", "-D", datadir, "-o", options, "-w", "-t", "60", "start",
             "-l", self.root / f"{datadir.name}.log")  # fmt: skip
        self.running.append(datadir)

    def start(self) -> None:
        _run(PG_BIN / "initdb", "-D", self.primary, "-A", "trust", "-U", "postgres")
        self._start(self.primary, self.primary_port)
        _run(PG_BIN / "pg_basebackup", "-h", "127.0.0.1", "-p", self.primary_port,
             "-U", "postgres", "-D", self.standby, "-R", "-X", "stream")  # fmt: skip
        self._start(self.standby, self.replica_port)

    def execute(self, port: int, statement: str, dbname: str = "postgres") -> tuple:
        """Run one statement as the superuser and return its first row (if any)."""
        with psycopg.connect(self.url(port, dbname), autocommit=True) as conn:
            cursor = conn.execute(statement)
            return cursor.fetchone() if cursor.description else ()

    def wait_replayed(self, timeout: float = 30) -> None:
        """Until the replica has replayed everything the primary has written so far."""
        (target,) = self.execute(self.primary_port, "SELECT pg_current_wal_lsn()::text")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            query = f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"
            if self.execute(self.replica_port, query)[0]:
                return
            time.sleep(0.05)
        raise TimeoutError("the replica did not catch up")

    def close(self) -> None:
        for datadir in reversed(self.running):
            _run(PG_BIN / "pg_ctl", "-D", datadir, "-m", "immediate", "-w", "stop")
        self.running.clear()
        shutil.rmtree(self.root, ignore_errors=True)


def start_replication() -> PrivateReplication:
    """Build and start a primary and its replica in a fresh directory under /tmp."""
    if not (PG_BIN / "pg_basebackup").exists():
        raise FileNotFoundError(f"PostgreSQL binaries not found in {PG_BIN}")
    root = Path(tempfile.mkdtemp(prefix="flowlet-replica-", dir="/tmp"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    primary_port, replica_port = _free_ports(2)
    replication = PrivateReplication(root, primary_port, replica_port)
    try:
        replication.start()
    except BaseException:
        replication.close()
        raise
    return replication
