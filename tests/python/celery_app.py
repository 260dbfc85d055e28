"""A Celery task that fails, reported to Vigil by the SDK's CeleryIntegration.

    python celery_app.py DSN

Runs `shop.tasks.send_invoice` in eager mode (`task_always_eager`, no broker needed), the way the
`celery-task-failure` SDK fixture was captured; the task raises ConnectionError and the SDK
reports it as an error event whose transaction is the task name. Prints {"task", "state"} and
flushes the SDK before exiting.
"""
import json
import sys

import sentry_sdk
from celery import Celery
from sentry_sdk.integrations.celery import CeleryIntegration

app = Celery("shop", broker="memory://", backend="cache+memory://")
app.conf.task_always_eager = True


@app.task(name="shop.tasks.send_invoice")
def send_invoice(order_id):
    raise ConnectionError(f"SMTP server refused the connection for order {order_id}")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sentry_sdk.init(
        dsn=sys.argv[1],
        integrations=[CeleryIntegration()],
        environment="production",
    )
    # Eager tasks keep their exception in the result unless task_eager_propagates is set.
    result = send_invoice.delay(1234)
    print(json.dumps({"task": send_invoice.name, "state": result.state}), flush=True)
    sentry_sdk.flush(timeout=30)


if __name__ == "__main__":
    main()
