#!/usr/bin/env bash
# Serve the API. With DATABASE_URL and REDIS_URL set: gunicorn plus an RQ worker and the
# scheduler of periodic jobs beside it (one per host: the lease holder schedules, the
# others stand by).
# Without them: the embedded default (SQLite under backend/instance/, jobs inline, limits in memory).
set -euo pipefail
cd "$(dirname "$0")"
BIN="${BIN:-../.venv/bin}"
if [[ -n "${REDIS_URL:-}" ]]; then
    "$BIN/flask" --app main worker &
    worker_pid=$!
    # Cron fields of the schedule are read in UTC.
    TZ=UTC "$BIN/flask" --app main scheduler &
    scheduler_pid=$!
    trap 'kill "$worker_pid" "$scheduler_pid" 2>/dev/null || true' EXIT INT TERM
fi
if [[ -n "${DATABASE_URL:-}" && -z "${PROMETHEUS_MULTIPROC_DIR:-}" ]]; then
    # Several gunicorn workers: /metrics aggregates them through a shared directory.
    PROMETHEUS_MULTIPROC_DIR="$(mktemp -d -t flowlet-metrics.XXXXXX)"
    export PROMETHEUS_MULTIPROC_DIR
fi
echo "Flowlet API on http://${HOST:-127.0.0.1}:${PORT:-5000} (docs at /docs)"
"$BIN/gunicorn" -c gunicorn.conf.py main:app
