"""Audit export benchmark: stream N records (default 1,000,000) through gunicorn, watch memory.

    .venv/bin/python bench/audit_export.py [--records 1000000] [--format jsonl]

1. Creates `flowlet_bench_export`, migrates it, writes and seals N records (as
   bench/audit_verify.py does) and a compliance officer.
2. Starts gunicorn (one gthread worker) on 127.0.0.1 and downloads
   `GET /api/v1/compliance/audit-logs/export` to a temporary file, sampling the worker's
   resident memory (VmRSS) every 0.2 s; the reference is its RSS after a first, empty export
   (imports and caches warm).
3. Verifies the downloaded file offline (`app/core/audit/chain.py`, standard library only) and
   prints the time and the peak RSS.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
BACKEND = HERE.parent / "backend"
sys.path.insert(0, str(BACKEND))
sys.path.insert(0, str(HERE))
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DB_NAME = "flowlet_bench_export"
PORT = int(os.environ.get("BENCH_PORT", "5102"))


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def worker_pid(master: int) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.2)
    raise RuntimeError("gunicorn started no worker")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    args = parser.parse_args()

    from audit_verify import _admin, fill

    _admin(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    _admin(f"CREATE DATABASE {DB_NAME}")
    database_url = PG_ADMIN.rsplit("/", 1)[0] + "/" + DB_NAME
    env = {
        **os.environ,
        "FLOWLET_ENV": "development",
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        "GUNICORN_ACCESS_LOG": "/dev/null",
        "RATELIMIT_ENABLED": "false",
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "2",
        "PORT": str(PORT),
        "JWT_ACCESS_TOKEN_SECONDS": "7200",
    }
    env.pop("REDIS_URL", None)
    os.environ.update({k: v for k, v in env.items() if k in ("FLOWLET_ENV", "DATABASE_URL")})
    os.environ.pop("REDIS_URL", None)

    from app import create_app
    from app.auth.users import create_user
    from app.core import audit
    from app.core.extensions import db
    from flask_migrate import upgrade

    app = create_app()
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        started = time.perf_counter()
        fill(db.engine, args.records)
        audit.seal(db.engine)
        print(f"wrote and sealed {args.records:,} records in {time.perf_counter() - started:.0f} s")
        officer = create_user(
            db.session,
            email="officer@bench.example",
            password="Sturdy-Ledger-Pass-42",
            first_name="Bench",
            last_name="Officer",
            roles=["compliance_officer"],
            email_verified=True,
        )
        db.session.commit()
        from app.auth.tokens import start_session

        token = start_session(
            db.session, user=officer, ip=None, user_agent="bench", fresh=False
        ).access_token
        db.session.commit()
        db.session.remove()
        db.engine.dispose()

    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "main:app"],
        cwd=BACKEND,
        env=env,
    )
    try:
        pid = worker_pid(server.pid)
        url = f"http://127.0.0.1:{PORT}/api/v1/compliance/audit-logs/export?format={args.format}"
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{PORT}/health", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        # A first, empty export warms the worker (imports, connection pool, statement caches),
        # so that what follows is the cost of the rows alone.
        warm = urllib.request.Request(
            url + "&resource_id=none", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(warm, timeout=60) as response:
            response.read()
        before = rss_kib(pid)
        peak = [before]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], rss_kib(pid))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        with tempfile.NamedTemporaryFile(suffix=f".{args.format}", delete=False) as out:
            started = time.perf_counter()
            with urllib.request.urlopen(request, timeout=3600) as response:
                disposition = response.headers["Content-Disposition"]
                while chunk := response.read(1 << 20):
                    out.write(chunk)
            took = time.perf_counter() - started
        done.set()
        sampler.join()
        size = Path(out.name).stat().st_size
        print(
            f"export ({args.format}): {size / 1e6:.0f} MB in {took:.0f} s "
            f"({took / args.records * 1e6:.0f} µs a record), {disposition}"
        )
        print(
            f"worker RSS: {before / 1024:.0f} MB before the request, peak {peak[0] / 1024:.0f} MB "
            f"(+{(peak[0] - before) / 1024:.0f} MB)"
        )
        check = subprocess.run(
            [sys.executable, "-I", "-S", str(BACKEND / "app/core/audit/chain.py"), out.name],
            capture_output=True,
            text=True,
        )
        print((check.stdout or check.stderr).strip())
        os.unlink(out.name)
        # The rows must not grow the worker: the bar is 150 MB over the warm worker's RSS (the
        # idle worker itself is about 130 MB, all of the application's imports included).
        return 0 if check.returncode == 0 and peak[0] - before < 150 * 1024 else 1
    finally:
        server.terminate()
        server.wait(timeout=30)
        _admin(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


if __name__ == "__main__":
    sys.exit(main())
