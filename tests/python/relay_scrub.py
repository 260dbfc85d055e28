"""The oracle of crates/processing/tests/scrub.rs: Relay's own PII scrubbing.

Reads JSON lines on stdin and writes one JSON line per input line:

- {"config": <Sentry data scrubbing settings>, "pii_config": <relayPiiConfig text or null>,
  "event": <event>} -> {"event": <the event as Relay scrubs it for that project>}: first the
  project's advanced rules (the PII config Sentry makes of `relayPiiConfig`, its rule ids
  prefixed `project:`, as Sentry's `get_pii_config` / `merge_pii_configs` do), then the PII
  config `convert_datascrubbing_config` makes of the settings, each by `pii_strip_event`, as
  Relay's processing applies a project's `piiConfig` and then its `datascrubbingSettings`.
  With "config": null and no "pii_config" the event only goes through Relay's schema and back
  (an empty PII config), so that a result of Vigil's can be put in Relay's shape (Relay drops
  empty containers and renames some fields when it reads an event) before the comparison.
- {"validate": <relayPiiConfig text>} -> {"valid": bool, "reason": <Relay's message or null>}
  (`validate_pii_config`, what Sentry's project endpoint checks).

Errors are reported as {"error": "..."}.
"""

import json
import sys

from sentry_relay.processing import (
    convert_datascrubbing_config,
    pii_strip_event,
    validate_pii_config,
)


def project_pii_config(text):
    """Sentry's PII config for a project's `relayPiiConfig` (no organization rules): rule ids
    and the references to them prefixed `project:` (an alias's reference stays as written, as
    Sentry's `_prefix_rule_references_in_rule` leaves it)."""
    if not text:
        return None
    config = json.loads(text)
    if not config:
        return None
    prefix = "project:"
    rules = config.get("rules") or {}
    merged = {}
    for rule_id, rule in rules.items():
        if isinstance(rule, dict) and rule.get("type") == "multiple" and rule.get("rules"):
            rule = dict(rule)
            rule["rules"] = [prefix + r if r in rules else r for r in rule["rules"]]
        merged.setdefault("rules", {})[prefix + rule_id] = rule
    for selector, applications in (config.get("applications") or {}).items():
        merged.setdefault("applications", {})[selector] = [
            prefix + a if a in rules else a for a in applications
        ]
    return merged or None


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        case = json.loads(line)
        try:
            if "validate" in case:
                try:
                    validate_pii_config(case["validate"])
                    out = {"valid": True, "reason": None}
                except ValueError as e:
                    out = {"valid": False, "reason": str(e)}
            else:
                event = case["event"]
                custom = project_pii_config(case.get("pii_config"))
                if custom:
                    event = pii_strip_event(custom, event)
                config = case["config"]
                pii = None if config is None else convert_datascrubbing_config(config)
                # Always a second pass (an empty config reads the event through Relay's schema
                # once more), so that Relay's result went through the schema after scrubbing as
                # Vigil's does before the comparison.
                event = pii_strip_event(pii or {}, event)
                out = {"event": event}
        except Exception as e:  # noqa: BLE001 - reported to the test, which fails on it
            out = {"error": repr(e)}
        sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
