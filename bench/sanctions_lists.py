"""Sanctions lists at publishers' size: loading OFAC's SDN files, and re-screening after a diff.

    .venv/bin/python bench/sanctions_lists.py [--entries 18000] [--customers 100000]
        [--changes 50]

1. Writes OFAC's three files in their published layout (headerless `SDN.CSV`, `ALT.CSV`,
   `ADD.CSV`, `-0-` for empty, remarks with dates of birth and nationalities, CRLF) for a list
   of `--entries` entries (seeded, synthetic names; 1.4 aliases an entry on average, like the
   real list's ~27,000 aliases for ~18,000 entries), into a dedicated PostgreSQL database
   (`flowlet_bench_sanctions`), migrated.
2. Loads them with `flask sanctions load --source ofac-sdn` in a child process: wall time and
   the child's peak memory (max RSS). Reference: PostgreSQL's floor for storing the same
   entries, one `COPY` of the rows into a table of the same columns.
3. Builds the in-memory index of the active lists (time; Python heap it holds, tracemalloc).
4. Creates `--customers` customers (seeded names; a few named like entries about to change),
   loads a second version with `--changes` entries added or changed, and times the
   re-screening of that diff (`rescreen_changes`) against a full re-screening of everyone
   (`rescreen_all`, the nightly run). Reference: reading every customer's name, the floor of
   any re-screening.

The database is dropped at the end. Jobs are queued on a private redis-server started on a
free port for the run, and never worked, so each phase is timed alone.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BACKEND = ROOT / "backend"
sys.path.insert(0, str(BACKEND))
sys.path.insert(0, str(ROOT / "bench"))

from screening_speed import person  # noqa: E402

PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DB_NAME = os.environ.get("BENCH_DB_PREFIX", "flowlet_bench") + "_sanctions"
NATIONS = ["Iran", "Russia", "Syria", "Korea, North", "Venezuela", "Cuba", "Burma", "Belarus"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _row(values: list[str]) -> str:
    cells = [f'"{v}"' if v else "-0- " for v in values]
    return ",".join(cells) + "\r\n"


def sdn_files(entries: int, seed: int, *, changed: int = 0, added: int = 0) -> dict[str, str]:
    """SDN.CSV, ALT.CSV and ADD.CSV of a synthetic list: `changed` entries get one more alias,
    `added` entries are appended (their names in `added_names`)."""
    sdn, alt, add = io.StringIO(), io.StringIO(), io.StringIO()
    alt_num = 0
    for n in range(1, entries + added + 1):
        rng = random.Random(seed * 1_000_003 + n)  # an entry is the same in every version
        individual = rng.random() < 0.6
        parts = person(rng)
        name = (
            f"{parts[-1].upper()}, {' '.join(p.title() for p in parts[:-1])}"
            if individual
            else f"{' '.join(p.upper() for p in parts)} TRADING LLC"
        )
        remarks = []
        if individual:
            day, month = rng.randint(1, 28), rng.choice(MONTHS)
            remarks.append(f"DOB {day:02d} {month} {rng.randint(1940, 1995)}")
            remarks.append(f"nationality {rng.choice(NATIONS)}")
        sdn.write(
            _row(
                [str(n), name, "individual" if individual else "", "SDGT"]
                + [""] * 7
                + ["; ".join(remarks) + "." if remarks else ""]
            )
        )
        names = [person(rng) for _ in range(rng.choice([0, 1, 1, 2, 2, 3]))]
        if n <= changed:
            names.append(person(random.Random(-n)))
        for alias in names:
            alt_num += 1
            alt.write(_row([str(n), str(alt_num), "a.k.a.", " ".join(alias).upper(), ""]))
        add.write(_row([str(n), str(n), "", "", rng.choice(NATIONS), ""]))
    return {"SDN.CSV": sdn.getvalue(), "ALT.CSV": alt.getvalue(), "ADD.CSV": add.getvalue()}


def _private_redis() -> tuple[subprocess.Popen, str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    return server, f"redis://127.0.0.1:{port}/0"


REDIS_URL = ""


def _flask(url: str, *args: str) -> tuple[float, int]:
    """Run `flask --app main ARGS` in a child; its wall time and the children's peak RSS."""
    env = {
        **os.environ,
        "FLOWLET_ENV": "development",
        "DATABASE_URL": url,
        "REDIS_URL": REDIS_URL,
        "LOG_LEVEL": "WARNING",
    }
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "main", *args],
        cwd=BACKEND,
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(done.stdout + done.stderr)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, max(peak, before)


def _copy_floor(url: str, text: str) -> float:
    """PostgreSQL storing the same entries: one COPY into a table of the same columns."""
    import psycopg

    rows = list(csv.reader(io.StringIO(text)))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TEMP TABLE floor (source_uid text, name text, entry_type text, "
            "program text, aliases json, dates_of_birth json, countries json, remarks text)"
        )
        started = time.perf_counter()
        with conn.cursor().copy("COPY floor FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[0], row[1], row[2], row[3], "[]", "[]", "[]", row[11]])
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=18000)
    parser.add_argument("--customers", type=int, default=100000)
    parser.add_argument("--changes", type=int, default=50)
    args = parser.parse_args()
    global REDIS_URL
    redis_server, REDIS_URL = _private_redis()
    os.environ.update(
        {
            "FLOWLET_ENV": "development",
            "DATABASE_URL": PG_ADMIN.rsplit("/", 1)[0] + "/" + DB_NAME,
            "REDIS_URL": REDIS_URL,
            "LOG_LEVEL": "WARNING",
        }
    )
    from tests.conftest import create_pg_database, drop_pg_database, migrate

    url = create_pg_database(DB_NAME)
    from app import create_app

    app = create_app()
    migrate(app)
    try:
        _run(app, url, args)
    finally:
        drop_pg_database(DB_NAME)
        redis_server.terminate()


def _run(app, url: str, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = sdn_files(args.entries, seed=1)
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8", newline="")
        size = sum(len(t) for t in files.values()) / 1e6
        print(
            f"OFAC files: {args.entries} entries, {files['ALT.CSV'].count(chr(10))} aliases, "
            f"{size:.1f} MB"
        )
        start, _ = _flask(url, "sanctions", "status")  # the command's start alone
        paths = [str(folder / name) for name in ("SDN.CSV", "ALT.CSV", "ADD.CSV")]
        elapsed, peak_kb = _flask(url, "sanctions", "load", *paths)
        floor = _copy_floor(url, files["SDN.CSV"])
        load = elapsed - start
        print(
            f"flask sanctions load: {elapsed:.2f} s, of which {start:.2f} s the command's start "
            f"(flask sanctions status); the load {load:.2f} s; peak RSS {peak_kb / 1024:.0f} MB"
        )
        print(f"floor, COPY of the SDN rows: {floor:.2f} s (the load is {load / floor:.0f}× it)")
        _index(app)
        _rescreen(app, folder, args)


def _index(app) -> None:
    from app.compliance.screening import index_for
    from app.core.extensions import db

    with app.app_context():
        app.extensions.pop("flowlet_sanctions_index", None)
        tracemalloc.start()
        started = time.perf_counter()
        _, index = index_for(db.session())
        elapsed = time.perf_counter() - started
        held, _peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"index: {len(index)} entries built in {elapsed:.2f} s (under tracemalloc), "
            f"holding {held / 1e6:.0f} MB of Python heap"
        )
        db.session.remove()


SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
FIRST = [
    "Anna",
    "Ben",
    "Clara",
    "David",
    "Emma",
    "Felix",
    "Grace",
    "Henry",
    "Iris",
    "Jonas",
    "Kate",
    "Liam",
    "Mia",
    "Noah",
    "Olivia",
    "Paul",
    "Rose",
    "Sam",
    "Tessa",
    "Victor",
]


def customer_name(rng: random.Random) -> list[str]:
    """A customer: a common first name and an invented surname of three syllables, so that
    the only customers who match the list are the ones the run names after entries."""
    return [rng.choice(FIRST), "".join(rng.choice(SYLLABLES) for _ in range(3))]


def _customers(app, count: int, hits: list[str]) -> None:
    import sqlalchemy as sa
    from app.auth.models import User
    from app.core.extensions import db

    rng = random.Random(7)
    rows = []
    for n in range(count):
        parts = hits[n].split() if n < len(hits) else customer_name(rng)
        rows.append(
            {
                "email": f"c{n}@bench.example",
                "password_hash": "-",
                "first_name": parts[0].title(),
                "last_name": " ".join(parts[1:]).title(),
            }
        )
    with app.app_context():
        session = db.session()
        for start in range(0, count, 10000):
            session.execute(sa.insert(User), rows[start : start + 10000])
        session.execute(sa.text("INSERT INTO user_roles SELECT id, 'customer' FROM users"))
        session.commit()
        db.session.remove()


def _rescreen(app, folder: Path, args: argparse.Namespace) -> None:
    import sqlalchemy as sa
    from app.compliance import lists, readers, rescreen
    from app.compliance.models import SanctionsList
    from app.core.extensions import db

    half = args.changes // 2
    second = sdn_files(args.entries, seed=1, changed=half, added=args.changes - half)
    added = [
        " ".join(reversed(r[1].replace(",", "").split()))
        for r in csv.reader(io.StringIO(second["SDN.CSV"]))
        if int(r[0]) > args.entries and r[2] == "individual"
    ][:10]
    _customers(app, args.customers, added)
    print(f"{args.customers} customers, {len(added)} of them named like added entries")
    with app.app_context():
        session = db.session()
        read = readers.read_files("ofac-sdn", {k: v.encode() for k, v in second.items()})
        version = lists.load_entries(
            session, read.entries, kind="ofac-sdn", source="ofac-sdn:SDN.CSV", sha256=read.sha256
        )
        print(
            f"second version: {version.added_count} added, {version.changed_count} changed, "
            f"{version.removed_count} removed"
        )
        started = time.perf_counter()
        hits = rescreen.rescreen_changes(session, list_id=version.id)
        diff_time = time.perf_counter() - started
        started = time.perf_counter()
        all_hits = rescreen.rescreen_all(session)
        full_time = time.perf_counter() - started
        started = time.perf_counter()
        names = session.execute(sa.text("SELECT id, first_name, last_name FROM users")).all()
        floor = time.perf_counter() - started
        assert session.scalar(sa.select(sa.func.count()).select_from(SanctionsList)) == 2
        db.session.remove()
    print(
        f"re-screen after the diff: {diff_time:.2f} s ({hits} hits); full re-screen: "
        f"{full_time:.2f} s ({all_hits} hits); {full_time / diff_time:.1f}× faster"
    )
    print(
        f"floor, reading {len(names)} customers' names: {floor:.2f} s "
        f"(diff re-screen {diff_time / floor:.1f}× it)"
    )


if __name__ == "__main__":
    main()
