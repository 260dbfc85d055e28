"""The oracle of crates/processing/tests/scrub.rs: Relay's own PII scrubbing.

Reads JSON lines of {"config": <Sentry data scrubbing settings>, "event": <event>} on stdin and
writes, per line, {"event": <the event as Relay's `pii_strip_event` returns it for the PII
config that `convert_datascrubbing_config` makes of those settings>} (or {"error": "..."}).
With "config": null the event only goes through Relay's schema and back (an empty PII config),
so that a result of Vigil's can be put in Relay's shape (Relay drops empty containers and
renames some fields when it reads an event) before the comparison.
"""

import json
import sys

from sentry_relay.processing import convert_datascrubbing_config, pii_strip_event


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        case = json.loads(line)
        try:
            config = case["config"]
            pii = {} if config is None else convert_datascrubbing_config(config)
            result = pii_strip_event(pii or {}, case["event"])
            out = {"event": result}
        except Exception as e:  # noqa: BLE001 - reported to the test, which fails on it
            out = {"error": repr(e)}
        sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
