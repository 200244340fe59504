#!/bin/sh
# One-shot job (temporalio/admin-tools): creates the Temporal databases on PostgreSQL and brings
# both schemas to the version this admin-tools release ships. Every step is idempotent, so the
# job runs again harmlessly on each `docker compose up` (and upgrades the schema after an image
# bump).
set -eu

: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${SQL_PASSWORD:?}"
DB_PORT="${DB_PORT:-5432}"
DBNAME="${DBNAME:-temporal}"
VISIBILITY_DBNAME="${VISIBILITY_DBNAME:-temporal_visibility}"
SCHEMA_DIR="${TEMPORAL_SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}"

sql() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" "$@"
}

tries=0
until nc -z "$POSTGRES_SEEDS" "$DB_PORT"; do
  tries=$((tries + 1))
  if [ "$tries" -ge 60 ]; then
    echo "PostgreSQL at $POSTGRES_SEEDS:$DB_PORT is not reachable" >&2
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
