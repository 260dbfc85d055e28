#!/usr/bin/env bash
# Reproduces BENCHMARKS.md "Symbolicated browser events": ingest throughput of a real
# @sentry/browser error from a minified bundle (tests/browser-app, bundled by esbuild with its
# 2 MB source map), first with no maps uploaded (symbolication looks and notes the missing map),
# then with the maps uploaded by `sentry-cli sourcemaps upload` (every event mapped against the
# 2 MB map, warm after the first).
#
#   scripts/bench-sourcemaps.sh [-- extra loadgen args]
#
# The event is captured once: the page runs in headless Chromium against
# ../shared/tools/capture_server.py, and the captured envelope is the load generator's template.
# Environment: EVENTS (20000), CONCURRENCY (32), NO_BUILD=1 to skip the build.
# Needs what scripts/test.sh installs (tests/node's esbuild and @sentry/browser, .venv's
# sentry-cli and Selenium, Debian's chromium). Not part of CI: it measures the machine.
set -euo pipefail
export VIGIL_SPIKE_PROTECTION_MULTIPLE="${VIGIL_SPIKE_PROTECTION_MULTIPLE:-0}"

cd "$(dirname "$0")/.."
[[ "${1:-}" == "--" ]] && shift
EXTRA=("$@")
EVENTS=${EVENTS:-20000}
CONCURRENCY=${CONCURRENCY:-32}
ROOT=$(pwd)
SHARED=${SHARED:-$ROOT/../shared}

if [[ -z "${NO_BUILD:-}" ]]; then
  cargo build --release -p vigil -p vigil-loadgen >&2
fi
VIGIL=${VIGIL:-target/release/vigil}
LOADGEN=target/release/vigil-loadgen
SENTRY_CLI=.venv/bin/sentry-cli

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

WORK=$(mktemp -d /tmp/vigil-bench-sourcemaps.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "building the browser app" >&2
(cd tests/browser-app && NODE_PATH="$ROOT/tests/node/node_modules" \
  "$ROOT/tests/node/node_modules/.bin/esbuild" src/main.js --bundle --minify --sourcemap \
  --format=iife --outfile="$WORK/dist/app.min.js" --log-level=warning)
cp tests/browser-app/index.html "$WORK/dist/"
SENTRY_DISABLE_UPDATE_CHECK=1 "$SENTRY_CLI" sourcemaps inject "$WORK/dist" >/dev/null
ls -l "$WORK/dist" >&2

echo "capturing the page's error" >&2
CAPTURE_PORT=$(free_port)
python3 "$SHARED/tools/capture_server.py" --port "$CAPTURE_PORT" \
  --out "$WORK/fixtures/browser-minified" >/dev/null 2>&1 &
PIDS+=($!)
sleep 1
CAPTURE_DSN="http://0123456789abcdef0123456789abcdef@127.0.0.1:$CAPTURE_PORT/42"
QUERY=$(python3 -c 'import sys, urllib.parse; print("dsn=" + urllib.parse.quote(sys.argv[1], safe="") + "&release=shop@1.0.0&code=BOGUS")' "$CAPTURE_DSN")
(cd tests/python && "$ROOT/.venv/bin/python" load_page.py "$WORK/dist" "$QUERY" >/dev/null)

for mode in no-maps maps; do
  DATA_DIR="$WORK/data-$mode"
  PORT=$(free_port)
  URL="http://127.0.0.1:$PORT"
  DSN=$("$VIGIL" --data-dir "$DATA_DIR" --public-url "$URL" project create shop --platform javascript | tail -n1)
  "$VIGIL" serve --bind "127.0.0.1:$PORT" --data-dir "$DATA_DIR" --public-url "$URL" \
    >"$WORK/$mode.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "$URL/metrics" 2>/dev/null && break
    sleep 0.1
  done
  if [[ "$mode" == maps ]]; then
    echo "bench-sourcemaps-password" | "$VIGIL" --data-dir "$DATA_DIR" user create \
      --email bench@example.com --password-stdin --admin >/dev/null
    TOKEN=$("$VIGIL" --data-dir "$DATA_DIR" token create --email bench@example.com)
    SENTRY_URL="$URL/" SENTRY_AUTH_TOKEN="$TOKEN" SENTRY_ORG=default SENTRY_PROJECT=shop \
      SENTRY_DISABLE_UPDATE_CHECK=1 "$SENTRY_CLI" sourcemaps upload "$WORK/dist" >/dev/null
  fi
  echo "$mode: $DSN" >&2
  "$LOADGEN" --dsn "$DSN" --fixtures "$WORK/fixtures" --template browser-minified \
    --events "$EVENTS" --concurrency "$CONCURRENCY" \
    --server-pid "$SERVER_PID" --data-dir "$DATA_DIR" --json "${EXTRA[@]}" \
    | sed "s/^{/{\"mode\":\"$mode\",/"
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
done
