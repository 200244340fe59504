#!/bin/sh
# One-shot job: creates the Temporal databases on PostgreSQL and brings both schemas to the
# version of the schema files it is given. Every step is idempotent, so the job runs again
# harmlessly on each start (and upgrades the schema after a server upgrade).
#
# Runs in the temporalio/admin-tools image under docker compose (the schema files are the
# image's), and on the host under `npm run cluster` (temporal-sql-tool on PATH and
# TEMPORAL_SCHEMA_DIR pointing at the provisioned server's schema files). POSIX sh and the sql
# tool only: no other tool is assumed.
set -eu

: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${SQL_PASSWORD:?}"
DB_PORT="${DB_PORT:-5432}"
DBNAME="${DBNAME:-temporal}"
VISIBILITY_DBNAME="${VISIBILITY_DBNAME:-temporal_visibility}"
SCHEMA_DIR="${TEMPORAL_SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}"

sql() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" "$@"
}

# The first step waits for PostgreSQL: the sql tool's own connection is the probe.
tries=0
until sql --db "$DBNAME" create; do
  tries=$((tries + 1))
  if [ "$tries" -ge 60 ]; then
    echo "PostgreSQL at $POSTGRES_SEEDS:$DB_PORT does not accept the connection" >&2
    exit 1
  fi
  sleep 1
done

setup() {
  db="$1"
  versioned="$2"
  echo "schema: $db"
  sql --db "$db" create
  sql --db "$db" setup-schema -v 0.0
  sql --db "$db" update-schema -d "$SCHEMA_DIR/$versioned/versioned"
}

setup "$DBNAME" temporal
setup "$VISIBILITY_DBNAME" visibility
echo "schemas ready"
