#!/usr/bin/env bash
# Reproduces BENCHMARKS.md "Performance monitoring": transactions ingested per second, and the
# summaries' query times over a million stored transactions.
#
#   scripts/bench-performance.sh [RUNS] [-- extra loadgen args]
#
# 1. Ingest, RUNS times (default 3): a fresh temporary data dir and project, `vigil serve` on a
#    free loopback port, then `vigil-loadgen --transactions --spans 30 --transaction-names 50
#    --events $TRANSACTIONS --concurrency $CONCURRENCY --json [args]` (Python-SDK transactions,
#    fresh ids, 20% with an N+1 run of 12 SELECTs). Prints the loadgen's JSON line, then a
#    line of what the server stored (transactions, spans, issues: read from the data dir's
#    SQLite file after the drain).
# 2. Summaries: `summary_bench --transactions $SUMMARY_TRANSACTIONS` (crates/store/examples):
#    loads that many transactions through the store and times the summary queries (median and
#    max of 20 runs); also on PostgreSQL when VIGIL_TEST_DATABASE_URL is set.
#
# Environment: TRANSACTIONS (10000), CONCURRENCY (32), SUMMARY_TRANSACTIONS (1000000),
# SKIP_INGEST=1 / SKIP_SUMMARY=1 to run one part only, NO_BUILD=1 to skip the build,
# WAIT_QUIET=1 to wait before each run until no cargo/rustc runs and the load average is < 1.
# Not part of CI: it takes minutes and measures the machine it runs on.
set -euo pipefail
# A benchmark's load is a spike by design: spike protection (on by default, its floor 10,000
# items an hour) would cut it, so it is off unless the caller sets it.
export VIGIL_SPIKE_PROTECTION_MULTIPLE="${VIGIL_SPIKE_PROTECTION_MULTIPLE:-0}"

cd "$(dirname "$0")/.."
RUNS=${1:-3}
shift || true
[[ "${1:-}" == "--" ]] && shift
EXTRA=("$@")
TRANSACTIONS=${TRANSACTIONS:-10000}
CONCURRENCY=${CONCURRENCY:-32}
SUMMARY_TRANSACTIONS=${SUMMARY_TRANSACTIONS:-1000000}

if [[ -z "${NO_BUILD:-}" ]]; then
  cargo build --release -p vigil -p vigil-loadgen >&2
  cargo build --release -p vigil-store --example summary_bench >&2
fi
VIGIL=target/release/vigil
LOADGEN=target/release/vigil-loadgen
SUMMARY=target/release/examples/summary_bench

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

# What the server stored, read-only from its SQLite file (Python's sqlite3: no CLI needed).
stored() {
  python3 - "$1/vigil.sqlite3" <<'EOF'
import json, sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
count = lambda table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
print(json.dumps({"stored": {t: count(t) for t in ("transactions", "spans", "issues", "events")}}))
EOF
}

SERVER_PID=
DATA_DIR=
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [[ -n "$DATA_DIR" ]]; then rm -rf "$DATA_DIR" "$DATA_DIR.log"; fi
  SERVER_PID= DATA_DIR=
}
trap cleanup EXIT

if [[ -z "${SKIP_INGEST:-}" ]]; then
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
    echo "run $run/$RUNS: $DSN load average $(cut -d' ' -f1-3 /proc/loadavg) ${EXTRA[*]:-}" >&2
    "$LOADGEN" --dsn "$DSN" --transactions --spans 30 --transaction-names 50 \
      --events "$TRANSACTIONS" --concurrency "$CONCURRENCY" \
      --server-pid "$SERVER_PID" --data-dir "$DATA_DIR" --json "${EXTRA[@]}"
    stored "$DATA_DIR"
    if grep -qiE 'error|panic' "$DATA_DIR.log"; then
      echo "server log had errors:" >&2
      grep -iE 'error|panic' "$DATA_DIR.log" | sort | uniq -c | sort -rn | head -n 5 >&2
    fi
    cleanup
  done
fi

if [[ -z "${SKIP_SUMMARY:-}" ]]; then
  [[ -n "${WAIT_QUIET:-}" ]] && wait_quiet
  echo "summaries over $SUMMARY_TRANSACTIONS transactions; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  "$SUMMARY" --transactions "$SUMMARY_TRANSACTIONS"
fi
