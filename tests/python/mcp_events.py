"""Errors for the MCP server's end-to-end test (crates/vigil/tests/mcp_e2e.rs), sent through the
real sentry-sdk: a ZeroDivisionError three times in one transaction (one trace), from two users,
with a file attached to the last one and a user's report about it (sent through the SDK's own
envelope transport: sentry-sdk 2.x has no feedback API), and a warning message. Prints one JSON
line: {"trace_id", "event_ids"}.

    python mcp_events.py DSN
"""

import json
import sys

import sentry_sdk
from sentry_sdk.envelope import Envelope, Item, PayloadRef


def checkout(cart_id):
    total = 0
    return cart_id / total


def main():
    dsn = sys.argv[1]
    sentry_sdk.init(
        dsn=dsn,
        release="shop@1.4.2",
        environment="production",
        traces_sample_rate=1.0,
        # The test reads its events back right away: one shot each, no batching delay.
        send_client_reports=False,
    )
    event_ids = []
    with sentry_sdk.start_transaction(name="POST /checkout", op="http.server") as transaction:
        for n, user in enumerate(["jane@example.com", "ravi@example.com", "jane@example.com"]):
            with sentry_sdk.new_scope() as scope:
                scope.set_user({"email": user})
                scope.set_tag("payment.provider", "stripe" if n < 2 else "adyen")
                if n == 2:
                    scope.add_attachment(
                        bytes=b"cart_id,total\n42,0\n", filename="cart.csv",
                        content_type="text/csv",
                    )
                try:
                    checkout(n + 40)
                except ZeroDivisionError as err:
                    event_ids.append(sentry_sdk.capture_exception(err))
        trace_id = transaction.trace_id
    report = Envelope(headers={"event_id": event_ids[2]})
    report.add_item(
        Item(
            payload=PayloadRef(
                json={
                    "event_id": event_ids[2],
                    "name": "Jane",
                    "email": "jane@example.com",
                    "comments": "Checkout said my cart was empty, it was not",
                }
            ),
            type="user_report",
        )
    )
    sentry_sdk.get_client().transport.capture_envelope(report)
    event_ids.append(sentry_sdk.capture_message("payment gateway timeout", level="warning"))
    sentry_sdk.flush(timeout=10)
    print(json.dumps({"trace_id": trace_id, "event_ids": event_ids}))


if __name__ == "__main__":
    main()
