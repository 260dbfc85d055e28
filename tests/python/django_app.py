"""A small Django shop that reports to Vigil through the official Python SDK.

    python django_app.py DSN PATH [PATH ...]

Serves the app with a real WSGI server (wsgiref) on a free port of 127.0.0.1, requests each PATH
over HTTP, prints one JSON line per request ({"path", "status"}), then flushes the SDK so every
event has been sent (and acknowledged) before the process exits. The end-to-end tests in
crates/vigil/tests/ run it with the venv that scripts/test.sh installs.

The views fail the way the Sentry docs' Django example does: /sentry-debug/ divides by zero,
after two SQL queries (an in-memory SQLite database) that the SDK records as breadcrumbs.
"""
import json
import sys
import threading
import urllib.error
import urllib.request
from wsgiref.simple_server import WSGIRequestHandler, make_server

import django
import sentry_sdk
from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from django.urls import path
from sentry_sdk.integrations.django import DjangoIntegration


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
    path("", home),
]


class QuietHandler(WSGIRequestHandler):
    """wsgiref logs each request to stderr; the SDK's events are what the test reads."""

    def log_message(self, format, *args):
        pass


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    dsn, paths = sys.argv[1], sys.argv[2:]

    settings.configure(
        DEBUG=False,
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,
        SECRET_KEY="vigil-e2e-not-secret",
        MIDDLEWARE=[],
        INSTALLED_APPS=[],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        TEMPLATES=[],
        LOGGING_CONFIG=None,
    )
    # What a user pastes into settings.py.
    sentry_sdk.init(
        dsn=dsn,
        integrations=[DjangoIntegration()],
        environment="production",
    )
    django.setup()

    from django.core.wsgi import get_wsgi_application

    server = make_server("127.0.0.1", 0, get_wsgi_application(), handler_class=QuietHandler)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()

    for p in paths:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{p}", timeout=30) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        print(json.dumps({"path": p, "status": status}), flush=True)

    server.shutdown()
    sentry_sdk.flush(timeout=30)


if __name__ == "__main__":
    main()
