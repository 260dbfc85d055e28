"""Serves a built page and loads it in a real headless Chromium until the page says it is done.

    python load_page.py DIST_DIR QUERY

Serves DIST_DIR over HTTP on a free port of 127.0.0.1, opens `index.html?QUERY` in Debian's
Chromium (through chromedriver, as browser_ui.py does; $VIGIL_CHROMIUM and $VIGIL_CHROMEDRIVER
override the paths), and waits until the page sets `window.vigilDone` (the browser test app does
after `Sentry.flush()`). Prints one JSON line: the page's URL and its console messages.
"""
import functools
import http.server
import json
import sys
import tempfile
import threading

from selenium.webdriver.support.ui import WebDriverWait

from browser_ui import browser

WAIT = 30


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def main():
    dist_dir, query = sys.argv[1], sys.argv[2]
    handler = functools.partial(QuietHandler, directory=dist_dir)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/index.html?{query}"
    with tempfile.TemporaryDirectory() as profile:
        driver = browser(profile)
        try:
            driver.get(url)
            WebDriverWait(driver, WAIT).until(
                lambda d: d.execute_script("return window.vigilDone === true")
            )
            console = [entry["message"] for entry in driver.get_log("browser")]
        finally:
            driver.quit()
            server.shutdown()
    print(json.dumps({"url": url, "console": console}))


if __name__ == "__main__":
    main()
