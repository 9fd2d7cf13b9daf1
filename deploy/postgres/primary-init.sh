#!/bin/bash
# Run once by the postgres image when it initialises the primary's data directory
# (/docker-entrypoint-initdb.d): a replication role, and pg_hba lines letting it stream.
set -euo pipefail
: "${REPLICATION_PASSWORD:?REPLICATION_PASSWORD is required}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v password="$REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'password';
SQL

echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
