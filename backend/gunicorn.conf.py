"""gunicorn settings, read from the environment (`gunicorn -c gunicorn.conf.py main:app`)."""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
_embedded = not os.environ.get("DATABASE_URL")
# SQLite allows one writer: one process with threads. PostgreSQL: sync workers, two per core.
# A request is CPU in Python between short database waits; on two cores, processes without
# threads beat threads sharing one interpreter lock per process (docs/performance.md compares
# sync and gthread). GUNICORN_THREADS > 1 picks gthread (streamed downloads need not: they
# beat the sync worker's heartbeat, see post_worker_init).
_cores = multiprocessing.cpu_count()
workers = int(os.environ.get("WEB_CONCURRENCY", 1 if _embedded else 2 * _cores))
threads = int(os.environ.get("GUNICORN_THREADS", 4 if _embedded else 1))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread" if threads > 1 else "sync")
# A request may take this long (a streamed download as long as it keeps sending chunks).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = 30
keepalive = 5
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 0))
max_requests_jitter = 100
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# The app answers a URL over MAX_URL_LENGTH (4096) with 414 and more than MAX_HEADER_COUNT (100)
# header fields, or one over MAX_HEADER_FIELD_SIZE (8190) bytes, with 431, in its JSON envelope
# (app/core/hygiene.py). gunicorn's own limits sit above those, a last resort whose plain-text
# 400 only a request far over the app's limits meets (docs/configuration.md).
limit_request_line = 8190  # gunicorn's maximum: method, URL and protocol
limit_request_fields = 2 * int(os.environ.get("MAX_HEADER_COUNT") or 100)
limit_request_field_size = 2 * int(os.environ.get("MAX_HEADER_FIELD_SIZE") or 8190)
preload_app = False


def post_worker_init(worker):
    """Streamed downloads beat the worker's heartbeat, so a long one outlives `timeout`."""
    from app.core.streaming import set_heartbeat

    set_heartbeat(worker.notify)


def child_exit(server, worker):
    """Let Prometheus forget a dead worker's live gauges in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


# The outbox relay beside the API (`flask outbox relay`): jobs committed while Redis was down
# reach RQ once it is back, even where no `flask worker` runs in this container.
# OUTBOX_RELAY=off leaves it to the workers (each `flask worker` relays too).
_relay = None


def when_ready(server):
    global _relay
    if os.environ.get("REDIS_URL") and os.environ.get("OUTBOX_RELAY", "on") != "off":
        import subprocess
        import sys

        _relay = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "main", "outbox", "relay"],
            cwd=os.path.dirname(os.path.abspath(__file__)),
        )
        server.log.info("outbox relay started (pid %s)", _relay.pid)


def on_exit(server):
    if _relay is not None:
        _relay.terminate()
        _relay.wait(timeout=10)
