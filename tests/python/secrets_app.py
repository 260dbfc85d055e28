"""A Django view that fails while every kind of secret is in reach of the official Python SDK.

    python secrets_app.py DSN TAG

Serves one view with a real WSGI server (wsgiref) on a free port of 127.0.0.1 and POSTs a form
to it with an `Authorization: Bearer` header, a `sessionid` cookie and an `api_key` in the query
string. The view sets the user (with an e-mail address), extras (`db_password`, `card` and the
ordinary `order_id`), a breadcrumb carrying an `auth_token`, a local `password`, then divides by
zero. The SDK runs with `send_default_pii=True` and its own scrubber off (an empty denylist), so
it sends headers, cookies, the form body, the user and the frame's locals as they are: scrubbing
them is the server's job.

Every secret value is `PLANTED-<kind>-7f3a<TAG>`, so that two runs of the script are told apart;
none holds a password-like word (secret, token, auth, …), so each is filtered by the rule for the
place it is in (the key, the bearer token, the cookie name), not by the value rule that Relay's
password rule also has. Prints one JSON
line, {"status": <HTTP status of the request>}, after the SDK has flushed.
"""
import json
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from wsgiref.simple_server import WSGIRequestHandler, make_server

import django
import sentry_sdk
from django.conf import settings
from django.http import HttpResponse
from django.urls import path
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.scrubber import EventScrubber

TAG = sys.argv[2] if len(sys.argv) > 2 else "0"


def secret(kind):
    return f"PLANTED-{kind}-7f3a{TAG}"


def fail_with_secrets(request):
    sentry_sdk.set_user({"id": "42", "email": "buyer@example.com", "username": "buyer"})
    sentry_sdk.set_extra("db_password", secret("EXTRA"))
    sentry_sdk.set_extra("order_id", "ORDER-1234")
    sentry_sdk.set_extra("payment_note", "paid with 4111 1111 1111 1111")
    sentry_sdk.add_breadcrumb(
        category="auth",
        message="token refreshed",
        data={"auth_token": secret("CRUMB")},
    )
    password = secret("LOCAL")
    order_total = 1200
    return HttpResponse(order_total / 0 if password else 0)


urlpatterns = [path("checkout/", fail_with_secrets)]


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


def main():
    dsn = sys.argv[1]
    settings.configure(
        DEBUG=False,
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,
        SECRET_KEY="vigil-e2e-not-secret",
        MIDDLEWARE=[],
        INSTALLED_APPS=[],
        DATABASES={},
        TEMPLATES=[],
        LOGGING_CONFIG=None,
    )
    sentry_sdk.init(
        dsn=dsn,
        integrations=[DjangoIntegration()],
        environment="production",
        server_name="web-7.shop.internal",
        send_default_pii=True,
        # The SDK's own scrubber filters a few keys (password, authorization, cookies) before
        # sending; an empty denylist turns it off, as SDKs of other platforms have none: what
        # reaches the server is then every secret, and keeping them out is the server's job.
        event_scrubber=EventScrubber(denylist=[], send_default_pii=True),
    )
    django.setup()

    from django.core.wsgi import get_wsgi_application

    server = make_server("127.0.0.1", 0, get_wsgi_application(), handler_class=QuietHandler)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()

    query = urllib.parse.urlencode({"api_key": secret("QS"), "page": "2"})
    body = urllib.parse.urlencode({"password": secret("FORM"), "quantity": "3"}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/checkout/?{query}",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": f"Bearer {secret('BEARER')}",
            # The Django integration filters Django's own session cookie (`sessionid`) itself;
            # `user_session` is one only the server's scrubber knows.
            "Cookie": f"sessionid={secret('SID')}; user_session={secret('COOKIE')}; theme=dark",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    print(json.dumps({"status": status}), flush=True)

    server.shutdown()
    sentry_sdk.flush(timeout=30)


if __name__ == "__main__":
    main()
