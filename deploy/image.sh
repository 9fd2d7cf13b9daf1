#!/usr/bin/env bash
# `make image`: build the Dockerfile, then smoke-test the image: `flask init-db` and
# `flask ledger verify` against a scratch PostgreSQL database, gunicorn answering /health.
# Where there is no Docker engine, or its base images can be neither found nor pulled, it
# says so and exits 0: the image is then simply not built here.
#
#   IMAGE=flowlet:dev                     the tag to build
#   SMOKE_PG_ADMIN_URL=postgresql://postgres@127.0.0.1:5432/postgres
#                                         a server where a scratch database may be made
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${IMAGE:-flowlet:dev}
PG_ADMIN_URL=${SMOKE_PG_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
SMOKE_PORT=${SMOKE_PORT:-5088}

skip() { echo "make image: $*: the image is not built here." >&2; exit 0; }

command -v docker >/dev/null || skip "no docker command"
docker info >/dev/null 2>&1 || skip "no Docker engine answers (docker info fails)"
for base in $(awk 'toupper($1) == "FROM" {print $2}' Dockerfile | sort -u); do
    docker image inspect "$base" >/dev/null 2>&1 && continue
    timeout 300 docker pull -q "$base" >/dev/null 2>&1 || skip "base image $base is neither here nor pullable"
done

docker build -t "$IMAGE" .
size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
user=$(docker image inspect -f '{{.Config.User}}' "$IMAGE")
echo "image $IMAGE: $((size / 1000000)) MB, runs as user $user"
[[ -n "$user" && "$user" != root && "${user%%:*}" != 0 ]] || { echo "the image runs as root" >&2; exit 1; }

# The smoke test: a scratch database on the host's PostgreSQL, the container on the host's
# network (the engine may have no bridge), production settings with throwaway secrets.
db="flowlet_image_smoke_$$"
base_url=${PG_ADMIN_URL%/*}
psql "$PG_ADMIN_URL" -qc "CREATE DATABASE $db" >/dev/null
container=""
cleanup() {
    [[ -n "$container" ]] && docker rm -f "$container" >/dev/null 2>&1
    psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
}
trap cleanup EXIT
secret() { python3 -c "import secrets; print(secrets.token_urlsafe(48))"; }
key() { python3 -c "import base64, os; print('k1:' + base64.b64encode(os.urandom(32)).decode())"; }
env_args=(
    -e "DATABASE_URL=$base_url/$db" -e "PORT=$SMOKE_PORT" -e "HOST=127.0.0.1"
    -e "SECRET_KEY=$(secret)" -e "JWT_SECRET_KEY=$(secret)" -e "DATA_ENCRYPTION_KEYS=$(key)"
    -e "CARD_ENCRYPTION_KEYS=$(key)" -e "CARD_PAN_FINGERPRINT_KEY=$(secret)"
    -e "CARD_CVV_KEY=$(secret)" -e "FRONTEND_URL=http://127.0.0.1:$SMOKE_PORT"
)
run() { docker run --rm --network host --read-only --tmpfs /tmp "${env_args[@]}" "$IMAGE" "$@"; }

run flask --app main init-db
container=$(docker run -d --network host --read-only --tmpfs /tmp "${env_args[@]}" "$IMAGE")
for _ in $(seq 1 60); do
    curl -fsS "http://127.0.0.1:$SMOKE_PORT/health" >/dev/null 2>&1 && break
    sleep 0.5
done
curl -fsS "http://127.0.0.1:$SMOKE_PORT/health" | grep -q '"ok"' || {
    docker logs "$container" >&2; echo "the container does not answer /health" >&2; exit 1; }
curl -fsS "http://127.0.0.1:$SMOKE_PORT/" | grep -qi "<html" || {
    echo "the container does not serve the web app at /" >&2; exit 1; }
run flask --app main ledger verify
echo "image $IMAGE: /health answers, the web app is served, the ledger verifies"
