#!/usr/bin/env python3
"""Runs the workspace's test binaries a few at a time, as `cargo test` would run them one by one.

    cargo test --workspace --release --no-run --message-format=json \\
        | python3 scripts/test-binaries.py [JOBS]

Reads cargo's JSON build messages on stdin and runs every test executable they name (unit tests
and each `tests/*.rs`), JOBS at once (default 2), each from its package's directory with the
variables cargo sets for it. Most of the suite's time is end-to-end tests waiting on servers,
SDKs, browsers and timers (one alert test waits out a rule's minute), so two binaries at a time
finish the suite in about half the time on two cores. The binaries that ran longest at the last
measurement start first.

Each binary's output is printed whole when it ends, under cargo's `Running …` line, so the log
reads as cargo's does and its `test result:` lines add up the same way. Exits non-zero when any
binary failed (every binary still runs: no fail-fast), after naming them.
"""
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

# The slowest binaries (seconds in a full run, 2026-12-08): started first so that the pool
# does not end with one long binary running alone.
SLOW_FIRST = [
    "alerts_e2e",
    "multi_node",
    "outcomes_e2e",
    "sourcemaps_e2e",
    "serve_and_cli",
    "quotas_multi_node",
    "browser_ui",
    "performance_e2e",
    "django_e2e",
]


def test_binaries(messages):
    binaries = []
    for line in messages:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get("reason") != "compiler-artifact":
            continue
        if not message.get("profile", {}).get("test") or not message.get("executable"):
            continue
        target = message["target"]
        package_dir = os.path.dirname(message["manifest_path"])
        source = os.path.relpath(target["src_path"], package_dir)
        kind = "unittests " if target["kind"] != ["test"] else ""
        binaries.append(
            {
                "name": target["name"],
                "label": f"{kind}{source}",
                "package": package_name(message["package_id"]),
                "dir": package_dir,
                "exe": message["executable"],
            }
        )
    return binaries


def package_name(package_id):
    """`path+file:///…/crates/server#vigil-server@0.1.0` (or the older `vigil-server 0.1.0 (…)`)."""
    if "#" in package_id:
        return package_id.rsplit("#", 1)[1].split("@", 1)[0]
    return package_id.split(" ", 1)[0]


def order(binary):
    name = binary["name"]
    return (SLOW_FIRST.index(name) if name in SLOW_FIRST else len(SLOW_FIRST), name)


def main():
    jobs = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    binaries = sorted(test_binaries(sys.stdin), key=order)
    if not binaries:
        print("test-binaries: cargo named no test executables", file=sys.stderr)
        return 1
    print_lock = threading.Lock()
    failed = []

    def run(binary):
        env = dict(os.environ)
        env["CARGO_MANIFEST_DIR"] = binary["dir"]
        env["CARGO_PKG_NAME"] = binary["package"]
        started = time.monotonic()
        result = subprocess.run(
            [binary["exe"]],
            cwd=binary["dir"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        elapsed = time.monotonic() - started
        exe = os.path.relpath(binary["exe"], os.getcwd())
        with print_lock:
            print(f"     Running {binary['label']} ({exe}) [{elapsed:.1f} s wall]", flush=True)
            sys.stdout.write(result.stdout.decode("utf-8", "replace"))
            if result.returncode != 0:
                failed.append(f"{binary['label']} ({binary['name']}): exit {result.returncode}")
                print(f"error: test binary {binary['name']} failed (exit {result.returncode})")
            sys.stdout.flush()

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(run, binaries))
    if failed:
        print(f"\n{len(failed)} test binaries failed:")
        for line in failed:
            print(f"  {line}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
