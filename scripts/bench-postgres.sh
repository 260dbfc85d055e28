#!/usr/bin/env bash
# Reproduces BENCHMARKS.md "Ingest on PostgreSQL": starts a throwaway PostgreSQL cluster
# (scripts/pg-cluster.sh), then for each run and each setup makes a fresh database, starts the
# node(s) on it, drives them with `vigil-loadgen`, and measures the database afterwards:
#
#   one-node   one `vigil serve`, one loadgen at CONCURRENCY
#   two-nodes  two `vigil serve` on the same database, one loadgen per node at CONCURRENCY/2,
#              EVENTS/2 each, started together
#
# Prints one JSON line per run and setup on stdout (the loadgen reports, the aggregates, the
# database size, the load average before the run), then the medians of each setup on stderr.
#
#   scripts/bench-postgres.sh [RUNS] [-- extra loadgen args]
#
# RUNS defaults to 3. Environment: EVENTS (20000), CONCURRENCY (32), SETUPS ("one-node
# two-nodes"), NO_BUILD=1 to skip the build, WAIT_QUIET=1 to wait before each run until no
# cargo/rustc runs and the load average is < 1 (at most QUIET_MAX seconds, default 1200),
# FIXTURES (the loadgen's --fixtures). Not part of CI: it measures the machine it runs on.
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
SETUPS=${SETUPS:-one-node two-nodes}
QUIET_MAX=${QUIET_MAX:-1200}
if [[ -n "${FIXTURES:-}" ]]; then
  EXTRA+=(--fixtures "$FIXTURES")
fi

if [[ -z "${NO_BUILD:-}" ]]; then
  cargo build --release -p vigil -p vigil-loadgen >&2
fi
VIGIL=target/release/vigil
LOADGEN=target/release/vigil-loadgen

# shellcheck source=scripts/pg-cluster.sh
source scripts/pg-cluster.sh
PSQL=

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_quiet() {
  # Other builds on the same cores distort every figure: wait for them to finish.
  local waited=0 load busy
  while (( waited < QUIET_MAX )); do
    load=$(cut -d' ' -f1 /proc/loadavg)
    busy=$(ps -eo comm= | grep -cxE 'cargo|rustc|cc1|ld|rust-lld' || true)
    if [[ "$busy" -eq 0 ]] && awk -v l="$load" 'BEGIN{exit !(l < 1.0)}'; then
      return 0
    fi
    echo "waiting for a quiet machine (load $load, $busy build processes)" >&2
    sleep 10
    waited=$((waited + 10))
  done
  echo "machine still busy after ${QUIET_MAX}s; measuring anyway" >&2
}

# CPU seconds (user + system) of this cluster's processes alive now (the postmaster and its
# children): the database's share of a run is the difference around it (backends live as long
# as the nodes' pooled connections).
pg_cpu() {
  local pid total=0 fields postmaster
  postmaster=$(head -n1 "$PG_CLUSTER_DIR/data/postmaster.pid")
  for pid in "$postmaster" $(pgrep -P "$postmaster"); do
    fields=$(cut -d')' -f2 "/proc/$pid/stat" 2>/dev/null) || continue
    total=$((total + $(awk '{print $12 + $13}' <<<"$fields")))
  done
  awk -v t="$total" 'BEGIN{printf "%.2f", t / 100}'
}

sql() {
  "$PSQL" "$1" -XAtq -c "$2"
}

NODE_PIDS=()
NODE_DIRS=()
OUT_DIR=$(mktemp -d /tmp/vigil-bench-pg.XXXXXX)
stop_nodes() {
  local pid dir
  for pid in "${NODE_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  for dir in "${NODE_DIRS[@]}"; do rm -rf "$dir"; done
  NODE_PIDS=() NODE_DIRS=()
}
cleanup() {
  stop_nodes
  pg_cluster_stop
  rm -rf "$OUT_DIR"
}
trap cleanup EXIT

pg_cluster_start >&2
PSQL=$PG_CLUSTER_BIN/psql
ADMIN_URL=$VIGIL_TEST_DATABASE_URL
# postgres://user@host:port/postgres -> postgres://user@host:port/<name>
database_url() { echo "${ADMIN_URL%/*}/$1"; }

# Starts a node on database URL $1 and port $2; its pid goes to NODE_PIDS.
start_node() {
  local url=$1 port=$2 dir
  dir=$(mktemp -d /tmp/vigil-bench-node.XXXXXX)
  NODE_DIRS+=("$dir")
  VIGIL_DATABASE_URL=$url "$VIGIL" serve --bind "127.0.0.1:$port" --data-dir "$dir" \
    --public-url "http://127.0.0.1:$port" >"$dir/serve.log" 2>&1 &
  NODE_PIDS+=($!)
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/_health" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "node on port $port did not become healthy:" >&2
  cat "$dir/serve.log" >&2
  return 1
}

# Runs setup $1 once on a fresh database; prints its JSON line.
run_setup() {
  local setup=$1 run=$2 name url port_a port_b dsn dsn_b size_before size_after load stored
  local cpu_before cpu_after queue_bytes
  name="bench_${setup//-/_}_$run"
  sql "$ADMIN_URL" "CREATE DATABASE $name"
  url=$(database_url "$name")
  port_a=$(free_port)
  # Migrates the database and prints the DSN.
  dsn=$(VIGIL_DATABASE_URL=$url "$VIGIL" --data-dir "$OUT_DIR" --public-url "http://127.0.0.1:$port_a" project create load | tail -n1)
  size_before=$(sql "$url" "SELECT pg_database_size(current_database())")
  load=$(cut -d' ' -f1 /proc/loadavg)
  start_node "$url" "$port_a"
  rm -f "$OUT_DIR"/*.json
  cpu_before=$(pg_cpu)
  case "$setup" in
    one-node)
      echo "run $run/$RUNS $setup: $dsn" >&2
      "$LOADGEN" --dsn "$dsn" --events "$EVENTS" --concurrency "$CONCURRENCY" \
        --server-pid "${NODE_PIDS[0]}" --json "${EXTRA[@]}" >"$OUT_DIR/a.json"
      ;;
    two-nodes)
      port_b=$(free_port)
      start_node "$url" "$port_b"
      dsn_b=${dsn/127.0.0.1:$port_a/127.0.0.1:$port_b}
      echo "run $run/$RUNS $setup: $dsn and $dsn_b" >&2
      "$LOADGEN" --dsn "$dsn" --events $((EVENTS / 2)) --concurrency $((CONCURRENCY / 2)) \
        --server-pid "${NODE_PIDS[0]}" --json "${EXTRA[@]}" >"$OUT_DIR/a.json" &
      local first=$!
      "$LOADGEN" --dsn "$dsn_b" --events $((EVENTS / 2)) --concurrency $((CONCURRENCY / 2)) \
        --server-pid "${NODE_PIDS[1]}" --json "${EXTRA[@]}" >"$OUT_DIR/b.json"
      wait "$first"
      ;;
    *) echo "unknown setup $setup" >&2; return 1 ;;
  esac
  # Every node's queue is empty (each loadgen waited for it); autovacuum has had the loadgen's
  # settle time. The size is what the database holds for these events, queue table included.
  cpu_after=$(pg_cpu)
  stored=$(sql "$url" "SELECT count(*) FROM events")
  size_after=$(sql "$url" "SELECT pg_database_size(current_database())")
  # The drained queue table keeps its pages until vacuum reuses them for the next envelopes.
  queue_bytes=$(sql "$url" "SELECT pg_total_relation_size('ingest_queue')")
  stop_nodes
  sql "$ADMIN_URL" "DROP DATABASE $name WITH (FORCE)"
  python3 - "$setup" "$run" "$load" "$size_before" "$size_after" "$stored" "$queue_bytes" \
    "$(awk -v a="$cpu_after" -v b="$cpu_before" 'BEGIN{print a - b}')" "$OUT_DIR"/*.json <<'EOF'
import json, sys
setup, run, load, before, after, stored, queue, pg_cpu = sys.argv[1:9]
reports = [json.loads(open(path).read().strip().splitlines()[-1]) for path in sys.argv[9:]]
accepted = sum(r["status"]["200"] for r in reports)
not_accepted = sum(r["sent"] - r["status"]["200"] for r in reports)
send_seconds = max(r["send_seconds"] for r in reports)
processed = [r["processed"] for r in reports if r.get("processed")]
processed_seconds = max((p["seconds"] for p in processed), default=None)
# Each loadgen reads its own node's counter when that node's view of the shared queue is empty,
# which can be up to a second early for the other node's last batches (docs/scaling.md); the
# stored events over the later drain are the cluster's rate.
processed_events = int(stored)
latency = {q: max(r["latency_ms"][q] for r in reports) for q in ("p50", "p95", "p99", "max")}
print(json.dumps({
    "setup": setup,
    "run": int(run),
    "loadavg_before": float(load),
    "accepted": accepted,
    "accepted_per_sec": accepted / send_seconds,
    "not_accepted": not_accepted,
    "processed_events": processed_events,
    "processed_per_sec": processed_events / processed_seconds if processed_seconds else None,
    "drained": all(p["drained"] for p in processed) and len(processed) == len(reports),
    "latency_ms_worst_node": latency,
    "peak_rss_bytes": [r["server"]["peak_rss_bytes"] for r in reports],
    "server_cpu_seconds": [r["server"]["cpu_seconds"] for r in reports],
    "postgres_cpu_seconds": float(pg_cpu),
    "events_stored": int(stored),
    "database_bytes_before": int(before),
    "database_bytes_after": int(after),
    "database_bytes_per_event": (int(after) - int(before)) / accepted if accepted else None,
    "queue_table_bytes_after": int(queue),
    "loadgen": reports,
}))
EOF
}

for run in $(seq 1 "$RUNS"); do
  for setup in $SETUPS; do
    [[ -n "${WAIT_QUIET:-}" ]] && wait_quiet
    run_setup "$setup" "$run" | tee -a "$OUT_DIR/runs.jsonl"
  done
done

python3 - "$OUT_DIR/runs.jsonl" >&2 <<'EOF'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
for setup in dict.fromkeys(r["setup"] for r in runs):
    rs = [r for r in runs if r["setup"] == setup]
    med = lambda f: statistics.median(f(r) for r in rs)
    print(f"{setup}: median of {len(rs)}: "
          f"accepted {med(lambda r: r['accepted_per_sec']):,.0f}/s, "
          f"processed {med(lambda r: r['processed_per_sec'] or 0):,.0f}/s, "
          f"p50/p95/p99 {med(lambda r: r['latency_ms_worst_node']['p50']):.1f}/"
          f"{med(lambda r: r['latency_ms_worst_node']['p95']):.1f}/"
          f"{med(lambda r: r['latency_ms_worst_node']['p99']):.1f} ms, "
          f"peak RSS {med(lambda r: max(r['peak_rss_bytes'])) / 2**20:.0f} MiB per node, "
          f"CPU per event {med(lambda r: sum(r['server_cpu_seconds']) / r['accepted']) * 1000:.3f} ms "
          f"in Vigil + {med(lambda r: r['postgres_cpu_seconds'] / r['accepted']) * 1000:.3f} ms "
          f"in PostgreSQL, "
          f"{med(lambda r: r['database_bytes_per_event']):,.0f} database bytes/event")
EOF
