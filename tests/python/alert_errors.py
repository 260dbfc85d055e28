"""Errors for the alerts end-to-end test, reported through the real `sentry-sdk`.

    alert_errors.py DSN NAME [--issues N] [--events M] [--environment E] [--tag K=V ...]

Raises and captures, for each of N issues, M times the exception class `NAME` (N = 1) or
`NAME` + a two-letter suffix `AA`, `AB`, … (N > 1: each its own issue, as each is its own
type), from the same code, then flushes. Prints one JSON line: the event ids and the types.
"""

import argparse
import itertools
import json
import string

import sentry_sdk


def raise_and_capture(error_type, number):
    try:
        fail_checkout(error_type, number)
    except Exception as error:  # noqa: BLE001 - what the SDK captures
        return sentry_sdk.capture_exception(error)


def fail_checkout(error_type, number):
    cart = {"order": number}
    raise error_type(f"checkout failed for cart {cart['order']}")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dsn")
    parser.add_argument("name")
    parser.add_argument("--issues", type=int, default=1)
    parser.add_argument("--events", type=int, default=1)
    parser.add_argument("--environment", default="production")
    parser.add_argument("--tag", action="append", default=[])
    args = parser.parse_args()
    sentry_sdk.init(
        dsn=args.dsn,
        environment=args.environment,
        release="shop@1.0.0",
        # Every event is kept and sent: the test counts them.
        sample_rate=1.0,
        transport_queue_size=10_000,
    )
    for tag in args.tag:
        key, _, value = tag.partition("=")
        sentry_sdk.set_tag(key, value)
    if args.issues == 1:
        names = [args.name]
    else:
        suffixes = ("".join(pair) for pair in itertools.product(string.ascii_uppercase, repeat=2))
        names = [args.name + suffix for suffix in itertools.islice(suffixes, args.issues)]
    event_ids = []
    for name in names:
        error_type = type(name, (Exception,), {})
        for number in range(args.events):
            event_ids.append(raise_and_capture(error_type, number))
    sentry_sdk.flush(timeout=30)
    print(json.dumps({"event_ids": event_ids, "types": names}))


if __name__ == "__main__":
    main()
