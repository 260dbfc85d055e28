"""Three issues for the search end-to-end test, reported through the real `sentry-sdk`.

    search_events.py DSN

Each issue is raised and captured as an application would, with the release, environment,
level, user and tags its scope gives it; `before_send` dates its events back (as an SDK whose
events were queued offline would have) and marks the ones of `checkout` unhandled (as a
framework integration does). Prints one JSON line: the event ids of each issue.

- checkout: ValueError "upstream timeout after 30s", 12 events from 2 h to 1 h ago, 6 users,
  error, unhandled, shop@1.0, production, /checkout/ URL, /api/checkout transaction;
- login: KeyError 'user', 2 events 10 and 9 days ago, 1 user, warning, shop@2.0, staging;
- connection: ConnectionRefusedError, 5 events from 20 days to 3 h ago, no user, fatal,
  shop@3.0, development, customer_tier=gold.
"""

import json
import sys
import time

import sentry_sdk

HOUR = 3600
DAY = 86400

ISSUES = [
    {
        "name": "checkout",
        "error": lambda: ValueError("upstream timeout after 30s"),
        "events": 12,
        "ages": (2 * HOUR, HOUR),
        "users": 6,
        "level": "error",
        "unhandled": True,
        "release": "shop@1.0",
        "environment": "production",
        "url": "https://shop.example/checkout/pay",
        "transaction": "/api/checkout",
        "tags": {},
    },
    {
        "name": "login",
        "error": lambda: KeyError("user"),
        "events": 2,
        "ages": (10 * DAY, 9 * DAY),
        "users": 1,
        "level": "warning",
        "unhandled": False,
        "release": "shop@2.0",
        "environment": "staging",
        "url": "https://shop.example/login",
        "transaction": "/api/login",
        "tags": {},
    },
    {
        "name": "connection",
        "error": lambda: ConnectionRefusedError("connection refused by db:5432"),
        "events": 5,
        "ages": (20 * DAY, 3 * HOUR),
        "users": 0,
        "level": "fatal",
        "unhandled": False,
        "release": "shop@3.0",
        "environment": "development",
        "url": None,
        "transaction": None,
        "tags": {"customer_tier": "gold"},
    },
]

# What `before_send` applies to the event being captured.
current = {}


def before_send(event, hint):
    event["timestamp"] = current["timestamp"]
    if current["url"]:
        event["request"] = {"url": current["url"], "method": "GET"}
    if current["transaction"]:
        event["transaction"] = current["transaction"]
    if current["unhandled"]:
        for exception in event.get("exception", {}).get("values", []):
            exception.setdefault("mechanism", {"type": "generic"})["handled"] = False
    return event


def fail(issue):
    raise issue["error"]()


def main():
    dsn = sys.argv[1]
    sentry_sdk.init(dsn=dsn, before_send=before_send, sample_rate=1.0, default_integrations=False)
    now = time.time()
    ids = {}
    for issue in ISSUES:
        ids[issue["name"]] = []
        oldest, newest = issue["ages"]
        count = issue["events"]
        for n in range(count):
            age = oldest - (oldest - newest) * n / max(count - 1, 1)
            current.update(issue, timestamp=now - age)
            with sentry_sdk.new_scope() as scope:
                scope.set_level(issue["level"])
                scope.set_tag("environment", issue["environment"])
                for key, value in issue["tags"].items():
                    scope.set_tag(key, value)
                if issue["users"]:
                    scope.set_user({"id": str(n % issue["users"])})
                sentry_sdk.get_client().options["release"] = issue["release"]
                sentry_sdk.get_client().options["environment"] = issue["environment"]
                try:
                    fail(issue)
                except Exception as error:  # noqa: BLE001 - what the SDK captures
                    ids[issue["name"]].append(sentry_sdk.capture_exception(error))
    sentry_sdk.flush(timeout=30)
    print(json.dumps(ids))


if __name__ == "__main__":
    main()
