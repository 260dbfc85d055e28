#!/usr/bin/env bash
# Reproduces BENCHMARKS.md "Ingest end to end, with the durable queue": builds Vigil and the
# load generator, then for each run starts `vigil serve` on a free loopback port with a fresh
# temporary data dir, runs `vigil-loadgen` against it, stops the server, and prints the
# loadgen's JSON line (one per run) on stdout. Progress goes to stderr.
#
#   scripts/bench-ingest.sh [RUNS] [-- extra loadgen args]
#
# RUNS defaults to 3. Without extra args each run is `--events 20000 --concurrency 32`;
# extra args are appended (e.g. `-- --gzip`, `-- --template rust-panic`).
# Environment: EVENTS (20000), CONCURRENCY (32), NO_BUILD=1 to skip the build, VIGIL=<path>
# to measure another build of the server (e.g. the commit before a change, built in a worktree),
# WAIT_QUIET=1 to wait before each run until no cargo/rustc runs and load average < 1.
# Not part of CI: it takes a minute or more and measures the machine it runs on.
set -euo pipefail
# A benchmark's load is a spike by design: spike protection (on by default, its floor 10,000
# items an hour) would cut it, so it is off unless the caller sets it.
export VIGIL_SPIKE_PROTECTION_MULTIPLE="${VIGIL_SPIKE_PROTECTION_MULTIPLE:-0}"

cd "$(dirname "$0")/.."
RUNS=${1:-3}
shift || true
[[ "${1:-}" == "--" ]] && shift
EXTRA=("$@")
EVENTS=${EVENTS:-20000}
CONCURRENCY=${CONCURRENCY:-32}

if [[ -z "${NO_BUILD:-}" ]]; then
  cargo build --release -p vigil -p vigil-loadgen >&2
fi
VIGIL=${VIGIL:-target/release/vigil}
LOADGEN=target/release/vigil-loadgen

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_quiet() {
  # Other builds on the same 2 cores distort every figure: wait for them to finish.
  for _ in $(seq 1 120); do
    local load busy
    load=$(cut -d' ' -f1 /proc/loadavg)
    busy=$(ps -eo comm= | grep -cxE 'cargo|rustc|cc1|ld|rust-lld' || true)
    if [[ "$busy" -eq 0 ]] && awk -v l="$load" 'BEGIN{exit !(l < 1.0)}'; then
      return 0
    fi
    echo "waiting for a quiet machine (load $load, $busy build processes)" >&2
    sleep 10
  done
  echo "machine still busy; measuring anyway" >&2
}

SERVER_PID=
DATA_DIR=
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [[ -n "$DATA_DIR" ]]; then rm -rf "$DATA_DIR" "$DATA_DIR.log"; fi
  SERVER_PID= DATA_DIR=
}
trap cleanup EXIT

for run in $(seq 1 "$RUNS"); do
  [[ -n "${WAIT_QUIET:-}" ]] && wait_quiet
  DATA_DIR=$(mktemp -d /tmp/vigil-bench.XXXXXX)
  PORT=$(free_port)
  URL="http://127.0.0.1:$PORT"
  DSN=$("$VIGIL" --data-dir "$DATA_DIR" --public-url "$URL" project create load | tail -n1)
  "$VIGIL" serve --bind "127.0.0.1:$PORT" --data-dir "$DATA_DIR" --public-url "$URL" \
    >"$DATA_DIR.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "$URL/metrics" 2>/dev/null && break
    sleep 0.1
  done
  echo "run $run/$RUNS: $DSN ${EXTRA[*]:-}" >&2
  "$LOADGEN" --dsn "$DSN" --events "$EVENTS" --concurrency "$CONCURRENCY" \
    --server-pid "$SERVER_PID" --data-dir "$DATA_DIR" --json "${EXTRA[@]}"
  rm -f "$DATA_DIR.log"
  cleanup
done
