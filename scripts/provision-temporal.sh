#!/usr/bin/env bash
# Provides the two Temporal binaries the engine runs against, pinned and cached outside the
# repository, without the SDK's own downloads (which need general internet access):
#   - the Temporal CLI (dev server with SQLite persistence and the Web UI), built from source
#     through the Go module proxy;
#   - the Java time-skipping test server, resolved from Maven Central, behind a wrapper that
#     `exec`s java so that a kill from the SDK reaches the JVM.
# Idempotent: a second run finds both in the cache and returns in well under a second.
# Users who already have `temporal` on PATH (or internet, for the SDK's download) can skip it.
set -euo pipefail

CLI_VERSION="1.5.1"
TEST_SERVER_VERSION="1.38.0"
CACHE_DIR="${QFPAY_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/qfpay-engine}"
CLI_DIR="$CACHE_DIR/temporal-cli-$CLI_VERSION"
TS_DIR="$CACHE_DIR/temporal-test-server-$TEST_SERVER_VERSION"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { printf '[provision] %s\n' "$*" >&2; }

provision_cli() {
  if [ -x "$CLI_DIR/temporal" ]; then
    log "Temporal CLI $CLI_VERSION: cached at $CLI_DIR/temporal"
    return
  fi
  if ! command -v go >/dev/null 2>&1; then
    log "Go is not installed: cannot build the Temporal CLI. Install Go (>= 1.23), or put a 'temporal' binary on PATH, or set TEMPORAL_CLI_PATH."
    return 1
  fi
  log "building Temporal CLI $CLI_VERSION with go install (first run only; several minutes)..."
  mkdir -p "$CLI_DIR.tmp"
  GOBIN="$CLI_DIR.tmp" GOFLAGS="${GOFLAGS:-} -buildvcs=false" go install "github.com/temporalio/cli/cmd/temporal@v$CLI_VERSION"
  rm -rf "$CLI_DIR" && mv "$CLI_DIR.tmp" "$CLI_DIR"
  log "Temporal CLI $CLI_VERSION: built at $CLI_DIR/temporal"
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

# --if-possible: used before `npm test` / `npm start`; a machine without Go or Java falls back
# to the SDK's own download instead of failing here.
if [ "${1:-}" = "--if-possible" ]; then
  provision_cli || log "continuing without a local Temporal CLI (the SDK will try to download one)"
  provision_test_server || log "continuing without a local test server (the SDK will try to download one)"
else
  provision_cli
  provision_test_server
fi
echo "TEMPORAL_CLI_PATH=$CLI_DIR/temporal"
echo "TEMPORAL_TEST_SERVER_PATH=$TS_DIR/temporal-test-server"
