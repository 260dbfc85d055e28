"""A small Django shop that reports to Vigil through the official Python SDK.

    python django_app.py [--traces] [--broker URL] DSN PATH [PATH ...]

Serves the app with a real WSGI server (wsgiref) on a free port of 127.0.0.1, requests each PATH
over HTTP, prints one JSON line per request ({"path", "status"}, plus "body" when the view
answered JSON), then flushes the SDK so every event has been sent (and acknowledged) before the
process exits. The end-to-end tests in crates/vigil/tests/ run it with the venv that
scripts/test.sh installs.

The views fail the way the Sentry docs' Django example does: /sentry-debug/ divides by zero,
after two SQL queries (a SQLite database in a temporary directory) that the SDK records as
breadcrumbs.

With --traces the SDK samples every request (traces_sample_rate 1.0) and sends transactions:
/orders/ lists 15 orders and reads each one's customer through the ORM, the N+1 pattern (one
SELECT per order). /invoice/<id>/ enqueues the Celery task of celery_worker_app.py on the broker
--broker names (a real worker runs it); with ?fail=1 the task raises.
"""
import argparse
import json
import os
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.request
from wsgiref.simple_server import WSGIRequestHandler, make_server

import django
import sentry_sdk
from django.conf import settings
from django.db import connection, models
from django.http import HttpResponse, JsonResponse
from django.urls import path
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration

# How long each ORM query of /orders/ takes at least, as on a database across the network: the
# N+1 detector counts only repeated queries that together take 100 ms or more, and a local SQLite
# answers in microseconds. 15 queries of 10 ms are 150 ms.
QUERY_LATENCY_SECONDS = 0.010
ORDER_COUNT = 15

# The models, made by define_models() once Django is set up.
Customer = None
Order = None


def define_models():
    """The shop's two tables, created and filled before the server starts."""
    global Customer, Order

    class CustomerModel(models.Model):
        name = models.CharField(max_length=100)

        class Meta:
            app_label = "shop"
            db_table = "shop_customer"

    class OrderModel(models.Model):
        customer = models.ForeignKey(CustomerModel, on_delete=models.CASCADE)
        total = models.IntegerField()

        class Meta:
            app_label = "shop"
            db_table = "shop_order"

    with connection.schema_editor() as editor:
        editor.create_model(CustomerModel)
        editor.create_model(OrderModel)
    for number in range(1, ORDER_COUNT + 1):
        customer = CustomerModel.objects.create(name=f"Customer {number}")
        OrderModel.objects.create(customer=customer, total=number * 100)
    Customer, Order = CustomerModel, OrderModel


def network_latency(execute, sql, params, many, context):
    """A Django execute wrapper: the query runs after the latency a remote database has."""
    time.sleep(QUERY_LATENCY_SECONDS)
    return execute(sql, params, many, context)


def list_orders(request):
    # The N+1 pattern: one SELECT for the orders, then one per order for its customer (no
    # select_related).
    with connection.execute_wrapper(network_latency):
        lines = [f"{order.id}: {order.customer.name}" for order in Order.objects.order_by("id")]
    return JsonResponse({"orders": len(lines), "trace_id": current_trace_id()})


def enqueue_invoice(request, order_id):
    from celery_worker_app import generate_invoice

    fail = request.GET.get("fail") == "1"
    result = generate_invoice.delay(order_id, fail=fail)
    return JsonResponse({"task_id": result.id, "trace_id": current_trace_id()})


def current_trace_id():
    span = sentry_sdk.get_current_span()
    return span.trace_id if span is not None else None


def trigger_error(request):
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS shop_order (id INTEGER PRIMARY KEY, total INTEGER)")
        cursor.execute("SELECT id, total FROM shop_order WHERE id = %s", [42])
    division_by_zero = 1 / 0
    return HttpResponse(division_by_zero)


def checkout(request):
    cart = {"sku-1": 2}
    quantity = cart["sku-404"]
    return HttpResponse(quantity)


def home(request):
    return HttpResponse("ok")


urlpatterns = [
    path("sentry-debug/", trigger_error),
    path("checkout/", checkout),
    path("orders/", list_orders),
    path("invoice/<int:order_id>/", enqueue_invoice),
    path("", home),
]


class QuietHandler(WSGIRequestHandler):
    """wsgiref logs each request to stderr; the SDK's events are what the test reads."""

    def log_message(self, format, *args):
        pass


def main():
    parser = argparse.ArgumentParser(usage=__doc__)
    parser.add_argument("--traces", action="store_true", help="sample every request")
    parser.add_argument("--broker", help="the Celery broker URL for /invoice/<id>/")
    parser.add_argument("dsn")
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args()
    dsn, paths = args.dsn, args.paths
    if args.broker:
        # celery_worker_app reads it when /invoice/<id>/ imports it.
        os.environ["VIGIL_E2E_BROKER_URL"] = args.broker

    database_dir = tempfile.mkdtemp(prefix="vigil-e2e-django-")
    try:
        serve_and_request(dsn, paths, args.traces, database_dir)
    finally:
        shutil.rmtree(database_dir, ignore_errors=True)


def serve_and_request(dsn, paths, traces, database_dir):
    settings.configure(
        DEBUG=False,
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,
        SECRET_KEY="vigil-e2e-not-secret",
        MIDDLEWARE=[],
        INSTALLED_APPS=[],
        # A file, not ":memory:": the server thread opens its own connection to the same data.
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": os.path.join(database_dir, "db.sqlite3"),
            }
        },
        TEMPLATES=[],
        LOGGING_CONFIG=None,
    )
    # What a user pastes into settings.py.
    sentry_sdk.init(
        dsn=dsn,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        environment="production",
        traces_sample_rate=1.0 if traces else None,
    )
    django.setup()
    define_models()

    from django.core.wsgi import get_wsgi_application

    server = make_server("127.0.0.1", 0, get_wsgi_application(), handler_class=QuietHandler)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()

    for p in paths:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{p}", timeout=30) as response:
                status, content_type, body = response.status, response.headers.get_content_type(), response.read()
        except urllib.error.HTTPError as error:
            status, content_type, body = error.code, None, b""
        result = {"path": p, "status": status}
        if content_type == "application/json":
            result["body"] = json.loads(body)
        print(json.dumps(result), flush=True)

    server.shutdown()
    sentry_sdk.flush(timeout=30)


if __name__ == "__main__":
    main()
