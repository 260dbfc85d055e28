#!/usr/bin/env bash
# Records where `vigil serve` spends its CPU under the benchmark load and draws it as a flame
# graph: starts the server on a fresh temporary data dir and a free loopback port, samples it
# with `perf record` (software clock: this machine kind has no hardware counters) while
# `vigil-loadgen` sends the load, then folds the stacks with inferno and writes the SVG.
#
#   scripts/flamegraph.sh OUT.svg [-- extra loadgen args]
#
# Without extra args the load is issue 14's target: 20,000 12 KB Rust panic events over 1,000
# issues at concurrency 32 (`--issues 1000 --template rust-panic`). The folded stacks are kept
# beside the SVG (OUT.folded) so shares can be computed from them. Needs `perf` (Debian's
# linux-perf) and inferno (`cargo install inferno`). NO_BUILD=1 skips the release build;
# VIGIL=<path> profiles another build of the server.
# Not part of CI: it measures the machine it runs on.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=${1:?usage: scripts/flamegraph.sh OUT.svg [-- loadgen args]}
shift
[[ "${1:-}" == "--" ]] && shift
EXTRA=("$@")
[[ ${#EXTRA[@]} -eq 0 ]] && EXTRA=(--issues 1000 --template rust-panic)

command -v perf >/dev/null || { echo "perf not found (apt-get install linux-perf)" >&2; exit 1; }
command -v inferno-flamegraph >/dev/null \
  || { echo "inferno not found (cargo install inferno)" >&2; exit 1; }
if [[ -z "${NO_BUILD:-}" ]]; then
  cargo build --release -p vigil -p vigil-loadgen >&2
fi
VIGIL=${VIGIL:-target/release/vigil}
LOADGEN=target/release/vigil-loadgen

WORK=$(mktemp -d /tmp/vigil-flame.XXXXXX)
SERVER_PID=
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
URL="http://127.0.0.1:$PORT"
DSN=$("$VIGIL" --data-dir "$WORK/data" --public-url "$URL" project create load | tail -n1)
"$VIGIL" serve --bind "127.0.0.1:$PORT" --data-dir "$WORK/data" --public-url "$URL" \
  >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "$URL/metrics" 2>/dev/null && break
  sleep 0.1
done

# DWARF unwinding: the release profile keeps debug info but no frame pointers.
perf record -F 499 --call-graph dwarf,32768 -o "$WORK/perf.data" -p "$SERVER_PID" 2>/dev/null &
PERF_PID=$!
sleep 0.5
"$LOADGEN" --dsn "$DSN" --events "${EVENTS:-20000}" --concurrency "${CONCURRENCY:-32}" \
  --server-pid "$SERVER_PID" --settle 0.1 --json "${EXTRA[@]}" >&2
kill -INT "$PERF_PID"
wait "$PERF_PID" || true

FOLDED=${OUT%.svg}.folded
perf script -i "$WORK/perf.data" 2>/dev/null | inferno-collapse-perf >"$FOLDED" 2>/dev/null
inferno-flamegraph --minwidth 0.2 --title "vigil serve: ${EXTRA[*]}, concurrency ${CONCURRENCY:-32}" \
  "$FOLDED" >"$OUT"
echo "wrote $OUT and $FOLDED" >&2
