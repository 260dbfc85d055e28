"""A real SMTP server for the alerts end-to-end test: keeps every message it receives.

    smtp_server.py --port P --dir D

Each message becomes one file `D/NNNNNN.json`: `mail_from`, `rcpt_tos`, `data` (the raw message
as text) and, decoded so that tests need not undo quoted-printable or base64, `subject`, `to`,
`text` and `html` (the parts of that type; `null` when missing), written to a temporary name and renamed, so a reader never sees half a
message. Prints `ready <port>` once it accepts connections, then serves until killed.
"""

import argparse
import email
import email.policy
import json
import os
import signal
import sys
import threading

from aiosmtpd.controller import Controller


class Keeper:
    """Stores each message under the next number (numbers continue after a restart)."""

    def __init__(self, directory):
        self.directory = directory
        self.lock = threading.Lock()
        self.next = 1 + max(
            (int(name[:-5]) for name in os.listdir(directory)
             if name.endswith(".json") and name[:-5].isdigit()),
            default=0,
        )

    async def handle_DATA(self, server, session, envelope):
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "data": envelope.content.decode("utf-8", errors="replace"),
        }
        record.update(decoded(envelope.content))
        with self.lock:
            number = self.next
            self.next += 1
        path = os.path.join(self.directory, f"{number:06d}.json")
        with open(path + ".tmp", "w", encoding="utf-8") as out:
            json.dump(record, out)
        os.replace(path + ".tmp", path)
        return "250 Message accepted for delivery"


def decoded(raw):
    """The subject, recipients and text and HTML bodies of a message, decoded."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    parts = {"text": None, "html": None}
    for part in message.walk():
        kind = part.get_content_type()
        if kind in ("text/plain", "text/html") and not part.is_multipart():
            key = "text" if kind == "text/plain" else "html"
            if parts[key] is None:
                parts[key] = part.get_content()
    return {"subject": str(message.get("subject", "")), "to": str(message.get("to", "")), **parts}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    controller = Controller(Keeper(args.dir), hostname="127.0.0.1", port=args.port)
    controller.start()
    print(f"ready {args.port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    sys.exit(main())
