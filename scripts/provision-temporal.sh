#!/usr/bin/env bash
# Provides the Temporal binaries the engine runs against, pinned and cached outside the
# repository, without the SDK's own downloads (which need general internet access):
#   - the Temporal CLI (dev server with SQLite persistence and the Web UI), built from source
#     through the Go module proxy;
#   - the Java time-skipping test server, resolved from Maven Central, behind a wrapper that
#     `exec`s java so that a kill from the SDK reaches the JVM;
#   - with --cluster, also what `npm run cluster` runs (the production topology): the Temporal
#     server and its SQL schema tool at the version the CLI embeds, with the server's config
#     template (the one the temporalio/server image renders from its environment) and the
#     PostgreSQL schema files, and the Web UI server at the version the CLI embeds, with its
#     config template. PostgreSQL and nginx come from the system's packages, not from here.
# Idempotent: a second run finds everything in the cache and returns in well under a second.
# Users who already have `temporal` on PATH (or internet, for the SDK's download) can skip it.
#
#   scripts/provision-temporal.sh [--if-possible] [--cluster]
set -euo pipefail

CLI_VERSION="1.5.1"
TEST_SERVER_VERSION="1.38.0"
# The server and Web UI versions the CLI $CLI_VERSION embeds (its go.mod).
SERVER_VERSION="1.29.1"
UI_SERVER_VERSION="2.42.1"
CACHE_DIR="${QFPAY_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/qfpay-engine}"
CLI_DIR="$CACHE_DIR/temporal-cli-$CLI_VERSION"
TS_DIR="$CACHE_DIR/temporal-test-server-$TEST_SERVER_VERSION"
SERVER_DIR="$CACHE_DIR/temporal-server-$SERVER_VERSION"
UI_DIR="$CACHE_DIR/temporal-ui-server-$UI_SERVER_VERSION"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { printf '[provision] %s\n' "$*" >&2; }

# go_build DIR MODULE VERSION PKG:NAME...: builds each package of MODULE@VERSION into DIR.tmp
# under NAME, copies the module's files given in COPY_FILES (paths relative to the module root)
# beside them, then renames DIR.tmp to DIR, so DIR exists only when complete.
go_build() {
  local dir="$1" module="$2" version="$3"
  shift 3
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp/bin"
  local spec pkgs=()
  for spec in "$@"; do pkgs+=("$module/${spec%%:*}@v$version"); done
  GOBIN="$dir.tmp/bin" GOFLAGS="${GOFLAGS:-} -buildvcs=false" go install "${pkgs[@]}"
  for spec in "$@"; do mv "$dir.tmp/bin/$(basename "${spec%%:*}")" "$dir.tmp/${spec##*:}"; done
  rmdir "$dir.tmp/bin"
  if [ -n "${COPY_FILES:-}" ]; then
    local src rel
    src="$(go mod download -json "$module@v$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    for rel in $COPY_FILES; do
      mkdir -p "$dir.tmp/$(dirname "$rel")"
      cp -R "$src/$rel" "$dir.tmp/$rel"
      chmod -R u+w "$dir.tmp/$rel"
    done
  fi
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
}

# provision_go WHAT DIR MODULE VERSION PKG:NAME... [-- HINT]: cached when DIR holds every NAME,
# else built with go_build (HINT: what else the user can do without Go).
provision_go() {
  local what="$1" dir="$2" module="$3" version="$4"
  shift 4
  local specs=() hint="" spec complete=true
  while [ $# -gt 0 ]; do
    if [ "$1" = "--" ]; then hint="$2" && break; fi
    specs+=("$1") && shift
  done
  for spec in "${specs[@]}"; do [ -x "$dir/${spec##*:}" ] || complete=false; done
  if $complete; then
    log "$what $version: cached at $dir"
    return
  fi
  if ! command -v go >/dev/null 2>&1; then
    log "Go is not installed: cannot build $what. Install Go (>= 1.23)$hint."
    return 1
  fi
  log "building $what $version with go install (first run only; several minutes)..."
  go_build "$dir" "$module" "$version" "${specs[@]}"
  log "$what $version: built at $dir"
}

provision_cli() {
  provision_go "Temporal CLI" "$CLI_DIR" github.com/temporalio/cli "$CLI_VERSION" cmd/temporal:temporal \
    -- ", or put a 'temporal' binary on PATH, or set TEMPORAL_CLI_PATH"
}

# The server, its SQL tool, its config template (the one the temporalio/server image renders
# from its environment) and the PostgreSQL schema files.
provision_server() {
  COPY_FILES="config/docker.yaml schema/postgresql/v12" provision_go "Temporal server and temporal-sql-tool" \
    "$SERVER_DIR" go.temporal.io/server "$SERVER_VERSION" cmd/server:temporal-server cmd/tools/sql:temporal-sql-tool
}

provision_ui_server() {
  COPY_FILES="config/docker.yaml" provision_go "Temporal Web UI server" \
    "$UI_DIR" github.com/temporalio/ui-server/v2 "$UI_SERVER_VERSION" cmd/server:temporal-ui-server
}

provision_test_server() {
  if [ -x "$TS_DIR/temporal-test-server" ] && [ -f "$TS_DIR/lib/temporal-test-server-$TEST_SERVER_VERSION.jar" ]; then
    log "Temporal test server $TEST_SERVER_VERSION: cached at $TS_DIR/temporal-test-server"
    return
  fi
  if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
    log "Java and Maven are needed to fetch the time-skipping test server (or set TEMPORAL_TEST_SERVER_PATH)."
    return 1
  fi
  log "resolving io.temporal:temporal-test-server:$TEST_SERVER_VERSION from Maven Central..."
  rm -rf "$TS_DIR.tmp" && mkdir -p "$TS_DIR.tmp/lib"
  mvn -q -B -Dstyle.color=never -f "$HERE/provision/test-server-pom.xml" \
    -Dtemporal.test.server.version="$TEST_SERVER_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$TS_DIR.tmp/lib"
  cat >"$TS_DIR.tmp/temporal-test-server" <<'WRAPPER'
#!/bin/sh
# Usage: temporal-test-server <port> [--enable-time-skipping]
# exec, so that the signal the SDK sends on shutdown reaches the JVM itself.
DIR="$(cd "$(dirname "$0")" && pwd)"
exec java ${TEMPORAL_TEST_SERVER_JAVA_OPTS:--Xss1m -XX:+UseSerialGC -XX:TieredStopAtLevel=1} -cp "$DIR/lib/*" io.temporal.testserver.TestServer "$@"
WRAPPER
  chmod +x "$TS_DIR.tmp/temporal-test-server"
  rm -rf "$TS_DIR" && mv "$TS_DIR.tmp" "$TS_DIR"
  log "Temporal test server $TEST_SERVER_VERSION: installed at $TS_DIR/temporal-test-server"
}

if_possible=false cluster=false
for arg in "$@"; do
  case "$arg" in
    --if-possible) if_possible=true ;;
    --cluster) cluster=true ;;
    *) log "unknown option $arg (known: --if-possible, --cluster)" && exit 64 ;;
  esac
done

# One provisioning at a time per cache: a second run waits for the first instead of building
# the same thing into the same directory.
mkdir -p "$CACHE_DIR"
exec 9>"$CACHE_DIR/.provision.lock"
flock 9

# --if-possible: used before `npm test` / `npm start`; a machine without Go or Java falls back
# to the SDK's own download instead of failing here. The cluster's binaries (--cluster) have no
# such fallback: without them `npm run cluster` cannot start, so they are always required.
if $if_possible; then
  provision_cli || log "continuing without a local Temporal CLI (the SDK will try to download one)"
  provision_test_server || log "continuing without a local test server (the SDK will try to download one)"
else
  provision_cli
  provision_test_server
fi
echo "TEMPORAL_CLI_PATH=$CLI_DIR/temporal"
echo "TEMPORAL_TEST_SERVER_PATH=$TS_DIR/temporal-test-server"
if $cluster; then
  provision_server
  provision_ui_server
  echo "TEMPORAL_SERVER_PATH=$SERVER_DIR/temporal-server"
  echo "TEMPORAL_SQL_TOOL_PATH=$SERVER_DIR/temporal-sql-tool"
  echo "TEMPORAL_UI_SERVER_PATH=$UI_DIR/temporal-ui-server"
fi
