#!/usr/bin/env bash
# Runs the same load as scripts/bench-ingest.sh against Bugsink 2.6.2 (PyPI `bugsink`), set up
# as its single-server production guide describes: `bugsink-create-conf --template=singleserver`
# (SQLite, Snappea background worker), `bugsink-manage migrate` (+ the snappea database),
# `createsuperuser`, Gunicorn with the guide's flags (`--workers=5 --max-requests=1000
# --max-requests-jitter=100`, i.e. 2 x cores + 1) and `bugsink-runsnappea`. Left out of the
# guide: the non-root user, systemd, Nginx and TLS in front (the loadgen talks plain HTTP to
# Gunicorn on loopback), and collectstatic (no UI is used).
#
# Two settings are changed from the template, and BENCHMARKS.md says so:
#   - the ingest quotas (MAX_EVENTS_PER_[PROJECT_]PER_5_MINUTES/HOUR default 1,000/5,000, which
#     answer 429 after the first 1,000 events) are raised to 100M so that throughput is measured;
#   - the project's retention (default 10,000 events, older ones evicted) is raised to 10M.
#
#   scripts/bench-bugsink.sh [RUNS] [-- extra loadgen args]
#
# For each run: a fresh base dir, a fresh project, the servers started on a free port, the
# loadgen run, then the events table polled until it stops growing (Bugsink digests in Snappea,
# asynchronously). Prints one JSON line per run: the loadgen's report plus a "bugsink" object
# with stored events, processing time and rate, and peak RSS summed over all its processes.
# Environment: EVENTS (2000), CONCURRENCY (32), BUGSINK_VENV (/tmp/bugsink-venv),
# WAIT_QUIET=1 as in bench-ingest.sh, NO_BUILD=1. Slow; not part of CI.
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$PWD
RUNS=${1:-3}
shift || true
[[ "${1:-}" == "--" ]] && shift
EXTRA=("$@")
EVENTS=${EVENTS:-2000}
CONCURRENCY=${CONCURRENCY:-32}
VENV=${BUGSINK_VENV:-/tmp/bugsink-venv}

if [[ -z "${NO_BUILD:-}" ]]; then
  cargo build --release -p vigil-loadgen >&2
fi
LOADGEN=$REPO/target/release/vigil-loadgen

if [[ ! -x "$VENV/bin/bugsink-manage" ]]; then
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q 'bugsink==2.6.2' >&2
fi
export PATH="$VENV/bin:$PATH"

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

GUNICORN_PID= SNAPPEA_PID= SAMPLER_PID= BASE=
cleanup() {
  for pid in $SAMPLER_PID $SNAPPEA_PID $GUNICORN_PID; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in $SAMPLER_PID $SNAPPEA_PID $GUNICORN_PID; do
    wait "$pid" 2>/dev/null || true
  done
  if [[ -n "$BASE" ]]; then rm -rf "$BASE"; fi
  GUNICORN_PID= SNAPPEA_PID= SAMPLER_PID= BASE=
}
trap cleanup EXIT

for run in $(seq 1 "$RUNS"); do
  BASE=$(mktemp -d /tmp/bugsink-bench.XXXXXX)
  PORT=$(free_port)
  cd "$BASE"
  export PYTHONPATH=$BASE DJANGO_SETTINGS_MODULE=bugsink_conf
  bugsink-create-conf --template=singleserver --host=127.0.0.1 --base-dir="$BASE" >/dev/null
  cat >>bugsink_conf.py <<'EOF'

# Benchmark only: the default ingest quotas (1,000 events per 5 minutes) would answer 429 after
# the first 1,000 events; raised so that throughput is what is measured.
for _name in ("MAX_EVENTS_PER_PROJECT_PER_5_MINUTES", "MAX_EVENTS_PER_PROJECT_PER_HOUR",
              "MAX_EVENTS_PER_5_MINUTES", "MAX_EVENTS_PER_HOUR"):
    BUGSINK[_name] = 100_000_000
EOF
  bugsink-manage migrate -v0 >&2
  bugsink-manage migrate snappea --database=snappea -v0 >&2
  DJANGO_SUPERUSER_PASSWORD=admin bugsink-manage createsuperuser --noinput \
    --username admin@example.org --email admin@example.org >/dev/null
  DSN=$(bugsink-manage shell -c "
from teams.models import Team
from projects.models import Project
team = Team.objects.create(name='load')
project = Project.objects.create(team=team, name='load', retention_max_event_count=10_000_000)
print(f'http://{project.sentry_key.hex}@127.0.0.1:$PORT/{project.id}')
" 2>/dev/null | tail -n1)

  gunicorn --bind="127.0.0.1:$PORT" --workers=5 --access-logfile /dev/null --capture-output \
    --error-logfile "$BASE/gunicorn.log" --max-requests=1000 --max-requests-jitter=100 \
    bugsink.wsgi >/dev/null 2>&1 &
  GUNICORN_PID=$!
  bugsink-runsnappea >"$BASE/snappea.log" 2>&1 &
  SNAPPEA_PID=$!
  for _ in $(seq 1 200); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
    sleep 0.1
  done
  sleep 2

  [[ -n "${WAIT_QUIET:-}" ]] && wait_quiet
  # Peak RSS summed over Gunicorn's master and workers and Snappea (and their children).
  python3 - "$GUNICORN_PID" "$SNAPPEA_PID" >"$BASE/rss" <<'EOF' &
import os, sys, time, signal
roots = {int(p) for p in sys.argv[1:]}
peak = 0
def tree():
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                ppid = int(open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            kids.setdefault(ppid, []).append(int(d))
    out, todo = set(), list(roots)
    while todo:
        p = todo.pop()
        if p not in out:
            out.add(p)
            todo.extend(kids.get(p, []))
    return out
def rss(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
stop = False
def on_term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
while not stop:
    peak = max(peak, sum(rss(p) for p in tree()))
    time.sleep(0.25)
print(peak)
EOF
  SAMPLER_PID=$!

  echo "run $run/$RUNS: $DSN ${EXTRA[*]:-}" >&2
  START=$(date +%s.%N)
  REPORT=$(cd "$REPO" && "$LOADGEN" --dsn "$DSN" --events "$EVENTS" --concurrency "$CONCURRENCY" \
    --data-dir "$BASE" --json "${EXTRA[@]}")
  # Processing: Bugsink digests in Snappea after answering; poll the events table until it has
  # every accepted event or has not grown for 30 s.
  ACCEPTED=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["status"]["200"])' "$REPORT")
  PROCESSED=$(python3 - "$BASE/db.sqlite3" "$ACCEPTED" "$START" <<'EOF'
import sqlite3, sys, time, json
db, accepted, start = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
last, last_change = -1, time.time()
while True:
    n = con.execute("select count(*) from events_event").fetchone()[0]
    now = time.time()
    if n != last:
        last, last_change = n, now
    if n >= accepted or now - last_change > 30 or now - start > 1800:
        break
    time.sleep(0.25)
issues = con.execute("select count(*) from issues_issue").fetchone()[0]
secs = last_change - start
print(json.dumps({"stored_events": last, "issues": issues, "seconds": round(secs, 3),
                  "events_per_sec": round(last / secs, 1) if secs > 0 else None,
                  "drained": last >= accepted}))
EOF
)
  kill "$SAMPLER_PID"; wait "$SAMPLER_PID" 2>/dev/null || true; SAMPLER_PID=
  PEAK=$(cat "$BASE/rss")
  STORE=$(du -sb "$BASE" | cut -f1)
  python3 -c '
import json, sys
report = json.loads(sys.argv[1]); extra = json.loads(sys.argv[2])
extra["peak_rss_bytes_all_processes"] = int(sys.argv[3])
extra["store_bytes_after_processing"] = int(sys.argv[4])
extra["bytes_per_stored_event"] = round(int(sys.argv[4]) / extra["stored_events"], 1) if extra["stored_events"] else None
report["bugsink"] = extra
print(json.dumps(report))' "$REPORT" "$PROCESSED" "$PEAK" "$STORE"
  cd "$REPO"
  cleanup
done
