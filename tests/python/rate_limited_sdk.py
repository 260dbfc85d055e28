"""The real Python SDK against a project limited to one error an hour: the second error is
answered 429 with X-Sentry-Rate-Limits naming the error categories, after which the SDK keeps
errors to itself while its transactions still go out.

Usage: rate_limited_sdk.py DSN METRICS_URL. Prints one JSON line per step: what the SDK's
transport holds back, and Vigil's counters after the step.
"""

import json
import sys
import urllib.request

import sentry_sdk

DSN, METRICS_URL = sys.argv[1], sys.argv[2]


def counters():
    text = urllib.request.urlopen(METRICS_URL, timeout=10).read().decode()
    wanted = ("vigil_envelopes_accepted_total", "vigil_requests_rejected_total")
    out = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in wanted:
            out[name] = int(float(value))
    return out


def step(name):
    sentry_sdk.flush(timeout=10)
    transport = sentry_sdk.get_client().transport
    print(
        json.dumps(
            {
                "step": name,
                "errors_held_back": transport._check_disabled("error"),
                "transactions_held_back": transport._check_disabled("transaction"),
                "counters": counters(),
            }
        ),
        flush=True,
    )


sentry_sdk.init(dsn=DSN, traces_sample_rate=1.0, send_client_reports=False)
sentry_sdk.capture_message("first flood error")
step("first")
sentry_sdk.capture_message("second flood error")
step("second")
sentry_sdk.capture_message("third flood error")
step("third")
with sentry_sdk.start_transaction(name="/after-the-limit", op="http.server"):
    pass
step("transaction")
