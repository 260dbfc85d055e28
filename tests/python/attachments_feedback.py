"""What an app sends besides its errors, through the real sentry-sdk: an error with two
attachments added on the scope (`scope.add_attachment`), a later attachment of the same event
in an envelope of its own, an old-style `user_report` and a new-style `feedback` item about
that error, both sent through the SDK's own envelope transport (sentry-sdk 2.x has no
feedback API; its `Envelope`/`Item` are what the other SDKs' `captureFeedback` put on the
wire), and a second error that gets no report.

Usage: attachments_feedback.py DSN. Prints one JSON line: the event ids and what was attached.
"""

import hashlib
import json
import sys
import uuid

import sentry_sdk
from sentry_sdk.attachments import Attachment
from sentry_sdk.envelope import Envelope, Item, PayloadRef

CSV = b"order,amount\n1042,19.99\n1043,5.00\n"
LOG = "line one\nzweite Zeile \xe2\x9c\x93\n".encode()
LATE = bytes(range(256)) * 4


def send(envelope):
    sentry_sdk.get_client().transport.capture_envelope(envelope)


def main():
    sentry_sdk.init(dsn=sys.argv[1], default_integrations=False, send_client_reports=False)
    with sentry_sdk.new_scope() as scope:
        scope.add_attachment(bytes=CSV, filename="order.csv", content_type="text/csv")
        scope.add_attachment(bytes=LOG, filename="app.log")
        try:
            1 / 0
        except ZeroDivisionError:
            error = sentry_sdk.capture_exception()
    other = sentry_sdk.capture_message("checkout slow", level="error")

    late = Envelope(headers={"event_id": error})
    late.add_item(Attachment(bytes=LATE, filename="dump.bin").to_envelope_item())
    send(late)

    report = Envelope(headers={"event_id": error})
    report.add_item(
        Item(
            payload=PayloadRef(
                json={
                    "event_id": error,
                    "name": "Jane",
                    "email": "jane@example.com",
                    "comments": "The page froze after I clicked pay.",
                }
            ),
            type="user_report",
        )
    )
    send(report)

    feedback_id = uuid.uuid4().hex
    feedback = Envelope(headers={"event_id": feedback_id})
    feedback.add_item(
        Item(
            payload=PayloadRef(
                json={
                    "event_id": feedback_id,
                    "type": "feedback",
                    "level": "info",
                    "platform": "python",
                    "contexts": {
                        "feedback": {
                            "name": "Sam",
                            "contact_email": "sam@example.com",
                            "message": "I clicked pay twice and nothing happened",
                            "associated_event_id": error,
                        }
                    },
                }
            ),
            type="feedback",
        )
    )
    send(feedback)
    sentry_sdk.flush(timeout=10)
    print(
        json.dumps(
            {
                "error": error,
                "other": other,
                "sha1": {
                    "order.csv": hashlib.sha1(CSV).hexdigest(),
                    "app.log": hashlib.sha1(LOG).hexdigest(),
                    "dump.bin": hashlib.sha1(LATE).hexdigest(),
                },
                "sizes": {"order.csv": len(CSV), "app.log": len(LOG), "dump.bin": len(LATE)},
            }
        )
    )


if __name__ == "__main__":
    main()
