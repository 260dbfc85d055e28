#!/usr/bin/env bash
# Reproduces BENCHMARKS.md "Alerts: ingest with 0 and 50 rules": for each run, and for 0 and
# then 50 alert rules on the project, starts `vigil serve` on a free loopback port with a fresh
# temporary data dir, replaces the project's rules through the rules API (the default rule is
# deleted; 50 rules are a mix of first-seen, more than 100 events or users in 1h, tag and level
# filters, each POSTing a webhook to a local receiver that answers 200), runs `vigil-loadgen`
# against it, and prints the loadgen's JSON line with `"rules": N` added (one per run) on stdout,
# then the medians. Progress goes to stderr. The two loads alternate so that a busy moment of
# the machine does not fall on one of them only.
#
#   scripts/bench-alerts.sh [RUNS] [-- extra loadgen args]
#
# RUNS defaults to 3. Environment: EVENTS (20000), CONCURRENCY (32), RULES ("0 50"),
# MIX=no-frequency to make the frequency conditions first-seen ones (what they cost alone),
# MIX=no-users to make the unique-user conditions event-frequency ones,
# NO_BUILD=1 to skip the build, WAIT_QUIET=1 to wait before each run until no cargo/rustc runs
# and load average < 1. Not part of CI: it measures the machine it runs on.
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
RULE_COUNTS=${RULES:-"0 50"}

if [[ -z "${NO_BUILD:-}" ]]; then
  cargo build --release -p vigil -p vigil-loadgen >&2
fi
VIGIL=target/release/vigil
LOADGEN=target/release/vigil-loadgen

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_quiet() {
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
RECEIVER_PID=
DATA_DIR=
RESULTS=$(mktemp /tmp/vigil-bench-alerts.XXXXXX)
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [[ -n "$DATA_DIR" ]]; then rm -rf "$DATA_DIR" "$DATA_DIR.log"; fi
  SERVER_PID= DATA_DIR=
}
stop_all() {
  cleanup
  if [[ -n "$RECEIVER_PID" ]]; then kill "$RECEIVER_PID" 2>/dev/null || true; wait "$RECEIVER_PID" 2>/dev/null || true; fi
  rm -f "$RESULTS"
}
trap stop_all EXIT

# The webhook receiver: answers 200 to every POST, counts them.
RECEIVER_PORT=$(free_port)
python3 - "$RECEIVER_PORT" >&2 <<'EOF' &
import http.server, sys
class Hook(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Hook).serve_forever()
EOF
RECEIVER_PID=$!
HOOK="http://127.0.0.1:$RECEIVER_PORT/hook"

# The body of rule number $1 of the mix.
rule_body() {
  local i=$1 first='{"id":"sentry.rules.conditions.first_seen_event.FirstSeenEventCondition"}'
  local often='{"id":"sentry.rules.conditions.event_frequency.EventFrequencyCondition","value":100,"interval":"1h","comparisonType":"count"}'
  local users='{"id":"sentry.rules.conditions.event_frequency.EventUniqueUserFrequencyCondition","value":100,"interval":"1h","comparisonType":"count"}'
  local regressed='{"id":"sentry.rules.conditions.regression_event.RegressionEventCondition"}'
  local env_tag='{"id":"sentry.rules.filters.tagged_event.TaggedEventFilter","key":"environment","match":"eq","value":"production"}'
  local server_tag='{"id":"sentry.rules.filters.tagged_event.TaggedEventFilter","key":"server_name","match":"co","value":"a"}'
  local release_tag='{"id":"sentry.rules.filters.tagged_event.TaggedEventFilter","key":"release","match":"is","value":""}'
  local level='{"id":"sentry.rules.filters.level.LevelFilter","match":"gte","level":"40"}'
  local conditions filters match=all
  if [[ "${MIX:-}" == "no-frequency" ]]; then often=$first users=$first; fi
  if [[ "${MIX:-}" == "no-users" ]]; then users=$often; fi
  case $((i % 5)) in
    0) conditions="[$first]" filters="[]" ;;
    1) conditions="[$often]" filters="[]" ;;
    2) conditions="[$first]" filters="[$env_tag]" ;;
    3) conditions="[$often]" filters="[$server_tag,$level]" ;;
    4) conditions="[$users,$regressed]" filters="[$release_tag]" match=any ;;
  esac
  printf '{"name":"bench rule %d","frequency":30,"actionMatch":"%s","filterMatch":"all","conditions":%s,"filters":%s,"actions":[{"id":"vigil.actions.WebhookAction","url":"%s"}]}' \
    "$i" "$match" "$conditions" "$filters" "$HOOK"
}

for run in $(seq 1 "$RUNS"); do
  for rules in $RULE_COUNTS; do
    [[ -n "${WAIT_QUIET:-}" ]] && wait_quiet
    DATA_DIR=$(mktemp -d /tmp/vigil-bench.XXXXXX)
    PORT=$(free_port)
    URL="http://127.0.0.1:$PORT"
    export VIGIL_DATA_DIR="$DATA_DIR" VIGIL_PUBLIC_URL="$URL"
    DSN=$("$VIGIL" project create load | tail -n1)
    echo "bench password" | "$VIGIL" user create --email bench@example.com --password-stdin --admin >/dev/null
    TOKEN=$("$VIGIL" token create --email bench@example.com | tail -n1)
    "$VIGIL" serve --bind "127.0.0.1:$PORT" >"$DATA_DIR.log" 2>&1 &
    SERVER_PID=$!
    unset VIGIL_DATA_DIR VIGIL_PUBLIC_URL
    for _ in $(seq 1 100); do
      curl -fsS -o /dev/null "$URL/_health" 2>/dev/null && break
      sleep 0.1
    done
    API="$URL/api/0/projects/default/load/rules/"
    for id in $(curl -fsS -H "Authorization: Bearer $TOKEN" "$API" \
        | python3 -c 'import json,sys; print(" ".join(r["id"] for r in json.load(sys.stdin)))'); do
      curl -fsS -o /dev/null -X DELETE -H "Authorization: Bearer $TOKEN" "$API$id/"
    done
    for i in $(seq 0 $((rules - 1))); do
      curl -fsS -o /dev/null -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        -d "$(rule_body "$i")" "$API"
    done
    have=$(curl -fsS -H "Authorization: Bearer $TOKEN" "$API" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
    [[ "$have" == "$rules" ]] || { echo "the project has $have rules, not $rules" >&2; exit 1; }
    echo "run $run/$RUNS, $rules rules: $DSN ${EXTRA[*]:-}" >&2
    "$LOADGEN" --dsn "$DSN" --events "$EVENTS" --concurrency "$CONCURRENCY" \
      --server-pid "$SERVER_PID" --data-dir "$DATA_DIR" --json "${EXTRA[@]}" \
      | python3 -c 'import json,sys; r=json.loads(sys.stdin.readline()); r["rules"]=int(sys.argv[1]); print(json.dumps(r))' "$rules" \
      | tee -a "$RESULTS"
    notifications=$(curl -fsS -H "Authorization: Bearer $TOKEN" "$URL/api/0/projects/default/load/notifications/?limit=1000" \
      | python3 -c 'import json,sys,collections; print(dict(collections.Counter(n["status"] for n in json.load(sys.stdin))))')
    echo "  notifications after the run: $notifications" >&2
    rm -f "$DATA_DIR.log"
    cleanup
  done
done

# Medians per rule count.
python3 - "$RESULTS" >&2 <<'EOF'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
for rules in sorted({r["rules"] for r in runs}):
    mine = [r for r in runs if r["rules"] == rules]
    accepted = [r["accepted_per_sec"] for r in mine]
    processed = [(r.get("processed") or {}).get("events_per_sec", 0.0) for r in mine]
    p99 = [(r.get("latency_ms") or {}).get("p99", 0.0) for r in mine]
    cpu = [1000 * (r["server"].get("cpu_seconds") or 0) / max(r["sent"], 1) for r in mine]
    print(f"{rules:>3} rules: accepted {statistics.median(accepted):,.0f}/s {[round(a) for a in accepted]}, "
          f"processed {statistics.median(processed):,.0f}/s {[round(p) for p in processed]}, "
          f"p99 {statistics.median(p99):.1f} ms, server CPU {statistics.median(cpu):.3f} ms/event")
EOF
