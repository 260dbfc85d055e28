#!/usr/bin/env python3
"""Splits a server profile into the stages of one event's path: accept, queue, process, store.

    scripts/cpu-split.py FOLDED [--cpu-seconds S --events N]

FOLDED is the folded-stack file `scripts/flamegraph.sh` writes beside its SVG. Each sampled
stack is given to the first stage whose frame it contains (a worker's store call is "store",
not "process"); what matches none (kernel scheduling of idle threads, timers) is "other". With
the server's CPU seconds and the number of events of the run (both in the loadgen's JSON
report), the shares are turned into CPU milliseconds per event.
"""

import argparse
import collections

# First match wins: the order goes from the most specific frame to the most general.
STAGES = [
    ("store", ["::save_events", "::save_spans", "::save_raw_items", "::add_client_reports"]),
    ("process", ["jobs::workers::process", "jobs::process::"]),
    ("queue", ["queue::run_writer", "queue::writer", "Queue>::claim", "Queue>::ack"]),
    ("accept", ["axum::serve::handle_connection", "vigil_server::ingest::"]),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folded")
    parser.add_argument("--cpu-seconds", type=float)
    parser.add_argument("--events", type=int)
    args = parser.parse_args()

    samples = collections.Counter()
    total = 0
    with open(args.folded, encoding="utf-8", errors="replace") as folded:
        for line in folded:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not count.isdigit():
                continue
            n = int(count)
            total += n
            stage = next(
                (name for name, frames in STAGES if any(f in stack for f in frames)), "other"
            )
            samples[stage] += n
    if total == 0:
        raise SystemExit(f"{args.folded}: no samples")
    per_event = (
        args.cpu_seconds * 1000.0 / args.events if args.cpu_seconds and args.events else None
    )
    print("| stage | share of server CPU | CPU ms per event |")
    print("| --- | ---: | ---: |")
    for name in [s for s, _ in STAGES][::-1] + ["other"]:
        share = samples[name] / total
        ms = f"{share * per_event:.3f}" if per_event else "—"
        print(f"| {name} | {100 * share:.1f}% | {ms} |")
    if per_event:
        print(f"| all | 100% | {per_event:.3f} |")


if __name__ == "__main__":
    main()
