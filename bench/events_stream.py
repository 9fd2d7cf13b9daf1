"""Event stream benchmark: 2,000 open streams on the asyncio stream server, under transfers.

    .venv/bin/python bench/events_stream.py        # or: make bench-events

1. Creates a database of its own (`flowlet_bench_events`), migrates it and seeds customers with
   one funded USD account each and a live session (token) each.
2. Starts gunicorn and the stream server (`flask events serve`) on 127.0.0.1, both with Redis.
3. Drives `POST /api/v1/transactions/transfer` between random customers with keep-alive
   clients for a fixed time: the transfer rate **without** streams.
4. A separate client process opens `--streams` concurrent SSE connections with aiohttp (a
   ticket each, from `POST /events/ticket`), spread over the customers. The stream server's
   resident memory (RSS, /proc) before and after gives the memory per stream.
5. Drives the same transfers again with every stream open: the transfer rate **with** streams,
   and for every event a stream received, the delay from its `occurred_at` (stamped in the
   transfer's transaction, just before its COMMIT: the delay measured is an upper bound of
   commit → client) to its arrival at the client; p50, p99 and max. It also counts that each
   stream received only its own customer's events, and the stream server's CPU.

Everything runs on this one machine: the client's 2,000 connections, gunicorn, PostgreSQL,
Redis and the stream server share its cores, so the figures are a floor, not a ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import resource
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

from harness import (
    HOST,
    NO_RULE_FIRES,
    PG_ADMIN,
    admin_sql,
    db_name,
    db_url,
    drive,
    free_port,
    seed_script,
    start_gunicorn,
    stop,
)

BACKEND = Path(__file__).resolve().parent.parent / "backend"
VENV_BIN = Path(sys.executable).parent
REDIS_URL = os.environ.get("BENCH_EVENTS_REDIS_URL", "redis://127.0.0.1:6379/15")
DB_NAME = db_name("events")

ENV = {
    "FLOWLET_ENV": "development",
    "DATABASE_URL": db_url(DB_NAME),
    "REDIS_URL": REDIS_URL,
    "LOG_LEVEL": "WARNING",
    "RATELIMIT_ENABLED": "false",
    "GUNICORN_ACCESS_LOG": "/dev/null",
    **NO_RULE_FIRES,
    "DB_POOL_SIZE": "2",
    "DB_MAX_OVERFLOW": "2",
    "JWT_ACCESS_TOKEN_SECONDS": "7200",
    # 2,000 tickets are fetched before the streams open: give them time.
    "EVENTS_TICKET_SECONDS": "600",
}
TRANSFER = "/api/v1/transactions/transfer"


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, **ENV}
    return subprocess.run(cmd, cwd=BACKEND, env=env, check=True, text=True, capture_output=True)


def setup(customers: int) -> list[dict]:
    print(f"creating database {DB_NAME} and migrating …", flush=True)
    admin_sql(
        PG_ADMIN, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)", f"CREATE DATABASE {DB_NAME}"
    )
    run([str(VENV_BIN / "flask"), "--app", "main", "init-db"])
    print(f"seeding {customers} customers …", flush=True)
    script = seed_script("stream", customers, balance_minor=100_000_000_00)
    result = run([sys.executable, "-c", script])
    return json.loads(result.stdout.strip().splitlines()[-1])


def start_stream_server(port: int) -> subprocess.Popen:
    env = {**os.environ, **ENV}
    proc = subprocess.Popen(
        [
            str(VENV_BIN / "flask"),
            "--app",
            "main",
            "events",
            "serve",
            "--host",
            HOST,
            "--port",
            str(port),
        ],
        cwd=BACKEND,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        if _health(port) is not None:
            return proc
        time.sleep(0.2)
    stop(proc)
    raise SystemExit("the stream server did not start")


def _health(port: int) -> dict | None:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=2) as response:
            return json.loads(response.read())
    except OSError:
        return None


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the transfer load ------------------------------------------------------------------------


def transfers(port: int, users: list[dict], clients: int, seconds: float) -> dict:
    def next_request():
        payer, payee = random.sample(users, 2)
        body = {
            "from_account_id": payer["account"],
            "to_account_id": payee["account"],
            "amount": "0.01",
            "currency": "USD",
        }
        headers = {
            "Authorization": f"Bearer {payer['token']}",
            "Idempotency-Key": str(uuid.uuid4()),
        }
        return TRANSFER, headers, json.dumps(body).encode()

    return drive(
        port, clients, next_request, lambda status, _body: status, seconds, 10**9, counted=201
    )


# --- the stream client (a process of its own) -------------------------------------------------


def _parse_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def _streams_main(web_port, stream_port, users, count, ready, done, results) -> None:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None, sock_connect=30)
    delays: list[float] = []
    foreign = [0]
    opened = [0]
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tickets: list[tuple[int, str]] = []
        semaphore = asyncio.Semaphore(64)

        async def ticket_for(n: int) -> None:
            user = users[n % len(users)]
            async with (
                semaphore,
                session.post(
                    f"http://{HOST}:{web_port}/api/v1/events/ticket",
                    headers={"Authorization": f"Bearer {user['token']}"},
                ) as response,
            ):
                body = await response.json()
            if "ticket" not in body:
                raise RuntimeError(f"no ticket: {response.status} {body}")
            tickets.append((n, body["ticket"]))

        await asyncio.gather(*(ticket_for(n) for n in range(count)))

        async def reader(n: int, ticket: str) -> None:
            mine = users[n % len(users)]["account"]
            async with session.get(
                f"http://{HOST}:{stream_port}/api/v1/events/stream?ticket={ticket}"
            ) as response:
                assert response.status == 200, response.status
                opened[0] += 1
                async for line in response.content:
                    if line.startswith(b"data: "):
                        received = time.time()
                        event = json.loads(line[6:])
                        if event["data"].get("account_id") != mine:
                            foreign[0] += 1
                        if recording.is_set():
                            delays.append(received - _parse_time(event["occurred_at"]))

        recording = asyncio.Event()
        tasks = [asyncio.create_task(reader(n, t)) for n, t in tickets]
        while opened[0] < count:
            await asyncio.sleep(0.1)
            if any(t.done() and t.exception() for t in tasks):
                raise next(t.exception() for t in tasks if t.done() and t.exception())
        ready.set()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, done.wait)  # "record"
        recording.set()
        done.clear()
        await loop.run_in_executor(None, done.wait)  # "stop"
        await asyncio.sleep(1)  # the last events in flight
        for task in tasks:
            task.cancel()
    results.put({"opened": opened[0], "delays": delays, "foreign": foreign[0]})


def stream_client(web_port, stream_port, users, count, ready, done, results) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(_streams_main(web_port, stream_port, users, count, ready, done, results))


# --- the run ----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--clients", type=int, default=16, help="concurrent transfer clients")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1))
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the children inherit it
    if hard < 2 * args.streams + 1000:
        raise SystemExit(f"ulimit -Hn is {hard}: too low for {args.streams} streams")

    users = setup(args.customers)
    web_port, stream_port = free_port(), free_port()
    web = start_gunicorn(BACKEND, VENV_BIN, ENV, web_port, args.workers)
    streams = start_stream_server(stream_port)
    client = None
    try:
        transfers(web_port, users, args.clients, 3)  # warm-up
        without = transfers(web_port, users, args.clients, args.seconds)
        print(f"transfers without streams: {without['tps']:.0f}/s", flush=True)

        rss_before = rss_kib(streams.pid)
        context = multiprocessing.get_context("spawn")
        ready, done, results = context.Event(), context.Event(), context.Queue()
        client = context.Process(
            target=stream_client,
            args=(web_port, stream_port, users, args.streams, ready, done, results),
        )
        started = time.perf_counter()
        client.start()
        deadline = time.monotonic() + 300
        while not ready.wait(0.5):
            if not client.is_alive() or time.monotonic() > deadline:
                raise SystemExit("the streams did not open")
        open_seconds = time.perf_counter() - started
        time.sleep(2)
        rss_after = rss_kib(streams.pid)
        health = _health(stream_port) or {}
        print(
            f"{health.get('streams')} streams open in {open_seconds:.1f} s; "
            f"server RSS {rss_before / 1024:.1f} → {rss_after / 1024:.1f} MiB",
            flush=True,
        )

        cpu_before = cpu_seconds(streams.pid)
        done.set()  # record
        time.sleep(0.2)
        loaded = transfers(web_port, users, args.clients, args.seconds)
        done.set()  # stop
        cpu_used = cpu_seconds(streams.pid) - cpu_before
        outcome = results.get(timeout=120)
        client.join(30)
    finally:
        if client is not None and client.is_alive():
            client.terminate()
        stop(streams)
        stop(web)

    delays_ms = [1000 * d for d in outcome["delays"]]
    per_stream_kib = (rss_after - rss_before) / max(args.streams, 1)
    report = {
        "streams": args.streams,
        "streams_open": outcome["opened"],
        "seconds_to_open": round(open_seconds, 1),
        "server_rss_mib_before": round(rss_before / 1024, 1),
        "server_rss_mib_after": round(rss_after / 1024, 1),
        "kib_per_stream": round(per_stream_kib, 1),
        "transfers_per_s_without_streams": round(without["tps"], 1),
        "transfers_per_s_with_streams": round(loaded["tps"], 1),
        "transfer_p50_ms_without": round(without["p50"], 1),
        "transfer_p50_ms_with": round(loaded["p50"], 1),
        "events_received": len(delays_ms),
        "commit_to_client_p50_ms": round(percentile(delays_ms, 0.50), 1),
        "commit_to_client_p99_ms": round(percentile(delays_ms, 0.99), 1),
        "commit_to_client_max_ms": round(max(delays_ms, default=float("nan")), 1),
        "commit_to_client_mean_ms": round(statistics.fmean(delays_ms), 1) if delays_ms else None,
        "foreign_events": outcome["foreign"],
        "stream_server_cpu_s": round(cpu_used, 2),
        "cores": os.cpu_count(),
    }
    print(json.dumps(report, indent=2))
    if outcome["foreign"]:
        raise SystemExit("a stream received another customer's event")
    if os.environ.get("KEEP_BENCH_DATABASE") != "1":
        admin_sql(PG_ADMIN, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


if __name__ == "__main__":
    main()
