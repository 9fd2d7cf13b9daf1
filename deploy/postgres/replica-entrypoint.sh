#!/bin/bash
# The replica's entrypoint: on an empty data directory, clone the primary with
# `pg_basebackup -R` (standby.signal and primary_conninfo written for us, a replication slot
# created so the primary keeps the WAL the replica has not received yet); then hand over to
# the image's own entrypoint, which starts PostgreSQL as a hot standby.
# To rebuild a replica from scratch, drop its slot on the primary first
# (SELECT pg_drop_replication_slot('replica_1')), then remove its volume.
set -euo pipefail
: "${PRIMARY_HOST:?PRIMARY_HOST is required}"
: "${REPLICATION_PASSWORD:?REPLICATION_PASSWORD is required}"
PGDATA=${PGDATA:-/var/lib/postgresql/data}

if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
    until pg_isready -h "$PRIMARY_HOST" -p 5432 -q; do sleep 1; done
    mkdir -p "$PGDATA"
    chown postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
    # The password travels in a private passfile, never on a command line.
    passfile=$(mktemp)
    echo "$PRIMARY_HOST:5432:replication:replicator:$REPLICATION_PASSWORD" > "$passfile"
    chown postgres "$passfile"
    chmod 600 "$passfile"
    gosu postgres env PGPASSFILE="$passfile" pg_basebackup \
        --host="$PRIMARY_HOST" --port=5432 --username=replicator \
        --pgdata="$PGDATA" --wal-method=stream --write-recovery-conf \
        --create-slot --slot="${REPLICATION_SLOT:-replica_1}" --checkpoint=fast --progress
    # primary_conninfo must find the password too after a restart: keep the passfile with
    # the data (readable by postgres only).
    install -o postgres -g postgres -m 600 "$passfile" "$PGDATA/.pgpass"
    rm -f "$passfile"
    echo "primary_conninfo = 'host=$PRIMARY_HOST port=5432 user=replicator passfile=$PGDATA/.pgpass application_name=${REPLICATION_SLOT:-replica_1}'" \
        >> "$PGDATA/postgresql.auto.conf"
fi

exec docker-entrypoint.sh "$@"
