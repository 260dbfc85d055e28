#!/usr/bin/env bash
# Every test Vigil has, after installing what the tests need. The README's test command and what
# CI runs (.ci/run); works on a fresh Debian machine as root or on a developer's machine.
#
#   bash scripts/test.sh
#
# 1. a Python venv at .venv with tests/python/requirements.txt (sentry-sdk, Django, Celery,
#    redis, Selenium), skipped when already installed from the same requirements; Debian's
#    chromium and chromium-driver for the web UI's browser test, and redis-server for the Celery
#    broker of the performance test, installed when missing; tests/node's @sentry/node from its
#    package-lock.json (`npm ci`, from npm's cache when it has the packages), skipped when
#    node_modules was installed from the same lock;
# 2. cargo fmt --check and clippy with warnings denied;
# 3. the release build and every workspace test in release (the end-to-end tests run that same
#    target/release/vigil, with the SDKs from the venv); the PostgreSQL tests run on the server
#    VIGIL_TEST_DATABASE_URL names, else on a throwaway cluster started here from Debian's
#    package `postgresql` (installed when missing) and removed at exit (scripts/pg-cluster.sh);
# 4. the grouping conformance score from ../shared (printed, never failing the run);
# 5. the divan benchmarks, briefly (their timings printed, never asserted), then the benchmark
#    gate scripts/bench-check.sh: instructions per item of each pipeline stage under valgrind
#    (Debian's package `valgrind`, installed when missing), failing the run when a stage grew
#    more than 10 % over benches/budget.txt;
# 6. every cargo-fuzz target in fuzz/ for VIGIL_FUZZ_SECONDS (20) each, seeded from ../shared's
#    SDK captures (scripts/fuzz.sh: cargo-fuzz installed when missing; nightly, or stable with
#    RUSTC_BOOTSTRAP=1).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
shared=$(dirname "$repo")/shared
cd "$repo"

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'scripts/test.sh: %s\n' "$*" >&2; exit 1; }

# Installs Debian packages when we are root on a machine with apt-get; otherwise says what is
# missing and stops.
apt_install() {
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        step "apt-get install $*"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
    else
        die "missing: $* (install them, or run as root on Debian to have them installed)"
    fi
}

command -v cargo >/dev/null 2>&1 || die "cargo not found: install the Rust toolchain (rustup)"
# rusqlite's bundled SQLite and zstd build C.
command -v cc >/dev/null 2>&1 || apt_install gcc libc6-dev
# Debian's python3 comes without venv and ensurepip; they are the package python3-venv.
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || apt_install python3 python3-venv
# The store's tests and an end-to-end test run on a real PostgreSQL too.
# shellcheck source=scripts/pg-cluster.sh
source scripts/pg-cluster.sh
if [ -z "${VIGIL_TEST_DATABASE_URL:-}" ] && [ -z "$(pg_cluster_bin)" ]; then
    apt_install postgresql
fi

# The web UI's end-to-end test drives a real headless Chromium through chromedriver.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    apt_install chromium chromium-driver
fi

# The benchmark gate counts instructions under valgrind.
command -v valgrind >/dev/null 2>&1 || apt_install valgrind

# The performance end-to-end test runs a real Celery worker on a throwaway Redis broker.
command -v redis-server >/dev/null 2>&1 || apt_install redis-server

# …and the official @sentry/node SDK, which wants Node 20.19 or newer (Debian's nodejs is older).
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 \
    || die "node and npm not found: install Node.js 20.19 or newer"
node -e 'const [major, minor] = process.versions.node.split(".").map(Number); process.exit(major > 20 || (major === 20 && minor >= 19) ? 0 : 1)' \
    || die "node $(node --version) is too old for @sentry/node: install Node.js 20.19 or newer"
node_lock=tests/node/package-lock.json
node_stamp=tests/node/node_modules/.package-lock.sha256
node_want=$(sha256sum "$node_lock" | cut -d' ' -f1)
if [ "$(cat "$node_stamp" 2>/dev/null)" = "$node_want" ] && [ -d tests/node/node_modules/@sentry/node ]; then
    step "tests/node/node_modules is up to date with $node_lock"
else
    step "npm ci in tests/node"
    # --prefer-offline: a rerun installs from npm's cache without asking the registry.
    (cd tests/node && npm ci --no-audit --no-fund --prefer-offline)
    echo "$node_want" >"$node_stamp"
fi

requirements=tests/python/requirements.txt
stamp=.venv/.requirements.sha256
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] \
    && .venv/bin/python -c 'import sentry_sdk, django, celery, redis, selenium, aiosmtpd' >/dev/null 2>&1; then
    step "Python venv .venv is up to date with $requirements"
else
    step "Python venv .venv from $requirements"
    # A venv without a working pip (made before python3-venv was there) is made anew.
    .venv/bin/python -m pip --version >/dev/null 2>&1 || python3 -m venv --clear .venv
    .venv/bin/python -m pip install --disable-pip-version-check --quiet -r "$requirements"
    echo "$want" >"$stamp"
fi
.venv/bin/python -c 'import sentry_sdk, django, celery, redis, selenium; print("sentry-sdk", sentry_sdk.VERSION, "Django", django.get_version(), "celery", celery.__version__, "redis", redis.__version__, "selenium", selenium.__version__)'
echo "node $(node --version), @sentry/node $(node -p 'require("./tests/node/node_modules/@sentry/node/package.json").version'), $(redis-server --version | cut -d' ' -f1-3)"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings denied)"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo build --release -p vigil"
cargo build --release -p vigil

test_log=$(mktemp)
trap 'rm -f "$test_log"; pg_cluster_stop' EXIT
if [ -n "${VIGIL_TEST_DATABASE_URL:-}" ]; then
    step "PostgreSQL for the tests: VIGIL_TEST_DATABASE_URL"
else
    step "PostgreSQL for the tests: a throwaway cluster"
    pg_cluster_start
fi

# The test binaries run two at a time (scripts/test-binaries.py: most of the suite is waiting on
# servers, SDKs, browsers and timers); every one runs even when another failed.
step "cargo test --workspace --release --no-run"
test_bins=$(mktemp)
cargo test --workspace --release --no-run --message-format=json-render-diagnostics >"$test_bins"
step "test binaries, ${VIGIL_TEST_JOBS:-2} at a time (scripts/test-binaries.py)"
test_status=0
python3 scripts/test-binaries.py "${VIGIL_TEST_JOBS:-2}" <"$test_bins" 2>&1 | tee "$test_log" || test_status=$?
rm -f "$test_bins"
step "doc tests"
cargo test --workspace --release --doc 2>&1 | tee -a "$test_log" || test_status=$?
[ "$test_status" = 0 ] || die "tests failed: see above"
# One closing line for the whole suite (cargo prints one per test binary, the last of which is
# often an empty doc-test run).
totals=$(awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
              END { printf "%d passed, %d failed, %d skipped", p, f, s }' "$test_log")

step "grouping conformance"
if [ -f "$shared/conformance/grouping/score.py" ]; then
    # The score is reported, not enforced: it measures how close grouping is to Sentry's.
    score=$(python3 "$shared/conformance/grouping/score.py" --vigil target/release/vigil 2>&1 | tail -n 1) || true
    echo "${score:-the scorer printed nothing}"
else
    echo "no $shared/conformance/grouping/score.py: skipped"
fi

# A short run of every divan benchmark, for the timings in the log: CI's machine is shared, so
# they are read, not asserted on. The gate below asserts on instruction counts instead.
# A bench that fails or a stage over budget fails the run after the closing line.
bench_status=0
step "cargo bench (short samples, timings only)"
DIVAN_SAMPLE_COUNT=10 DIVAN_MAX_TIME=1 cargo bench --workspace --bench '*' || bench_status=$?

step "benchmark gate: instructions per item of each stage (scripts/bench-check.sh)"
bash scripts/bench-check.sh || bench_status=$?

# Every parser of what arrives from outside, fuzzed for a bounded time from the SDK captures.
fuzz_status=0
step "fuzzing: every target in fuzz/ for ${VIGIL_FUZZ_SECONDS:-20} s (scripts/fuzz.sh)"
bash scripts/fuzz.sh "${VIGIL_FUZZ_SECONDS:-20}" || fuzz_status=$?

# The suite's closing line, last, for whoever reads the end of the log.
echo
echo "tests: $totals"
[ "$bench_status" = 0 ] || die "the benchmarks or their gate failed: see above"
[ "$fuzz_status" = 0 ] || die "fuzzing found a crash: see above"
