"""A real Celery app on a Redis broker, traced by the SDK's CeleryIntegration.

    VIGIL_E2E_DSN=DSN VIGIL_E2E_BROKER_URL=redis://127.0.0.1:PORT/0 \\
        celery -A celery_worker_app worker --pool=solo --concurrency=1 -l info

The worker runs `shop.tasks.generate_invoice`, which django_app.py's /invoice/<id>/ enqueues with
`.delay()`. The SDK starts in the worker only (Celery's `celeryd_init` signal, as Sentry's docs
say), sampling every task; the Django process imports this module just to send the task, and the
SDK there adds the `sentry-trace` and `baggage` headers that make the task's transaction a child
of the request's. The task records one span of its own and, with fail=True, raises.
"""
import os
import sqlite3

import sentry_sdk
from celery import Celery, signals
from sentry_sdk.integrations.celery import CeleryIntegration

app = Celery("shop", broker=os.environ.get("VIGIL_E2E_BROKER_URL", "redis://127.0.0.1:6379/0"))
app.conf.update(
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
    # The test reads the worker's log from its stderr; no colour codes in it.
    worker_log_color=False,
)


@signals.celeryd_init.connect
def init_sentry(**_kwargs):
    sentry_sdk.init(
        dsn=os.environ["VIGIL_E2E_DSN"],
        integrations=[CeleryIntegration()],
        environment="production",
        traces_sample_rate=1.0,
    )


class InvoiceRefused(Exception):
    """What the task raises when asked to fail."""


@app.task(name="shop.tasks.generate_invoice")
def generate_invoice(order_id, fail=False):
    sql = "SELECT id, total FROM invoice_line WHERE order_id = ?"
    with sentry_sdk.start_span(op="db", name=sql) as span:
        span.set_data("db.system", "sqlite")
        with sqlite3.connect(":memory:") as db:
            db.execute("CREATE TABLE invoice_line (id INTEGER PRIMARY KEY, order_id INTEGER, total INTEGER)")
            db.execute("INSERT INTO invoice_line (order_id, total) VALUES (?, ?)", (order_id, 4200))
            lines = db.execute(sql, (order_id,)).fetchall()
    if fail:
        raise InvoiceRefused(f"the tax service refused order {order_id}")
    return len(lines)
