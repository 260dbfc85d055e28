"""The web UI in a real headless Chromium, as a person uses it.

    python browser_ui.py BASE_URL EMAIL PASSWORD SCREENSHOT_DIR

Logs in (after being sent to the login form from the issues page), creates project `shop` in
the UI, reads its DSN from the onboarding page, runs django_app.py (the real Django app with the
real sentry-sdk) so that /sentry-debug/ fails, waits for the onboarding page to link the issue,
finds the issue through the search bar, opens it, checks the marked frame
`division_by_zero = 1 / 0` and the SQL breadcrumbs, resolves it and checks that it left the
unresolved tab. Screenshots of each page go to SCREENSHOT_DIR. Prints one JSON line at the end;
any failed check raises (non-zero exit) with what the page showed.

Chromium and chromedriver are Debian's (/usr/bin/chromium, /usr/bin/chromedriver; override with
$VIGIL_CHROMIUM and $VIGIL_CHROMEDRIVER), driven by Selenium without its driver manager.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

ZERO_DIVISION = "ZeroDivisionError: division by zero"
WAIT = 30


def browser(profile_dir):
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("VIGIL_CHROMIUM", "/usr/bin/chromium")
    for flag in [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile_dir}",
        "--window-size=1400,1000",
    ]:
        options.add_argument(flag)
    # The page's console, to fail on script errors.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(os.environ.get("VIGIL_CHROMEDRIVER", "/usr/bin/chromedriver"))
    return webdriver.Chrome(service=service, options=options)


def screenshot(driver, directory, name, width=1400):
    """The whole page, not only the window: the window is made as tall as the document."""
    driver.set_window_size(width, 1000)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(max(height, 800), 6000))
    path = Path(directory) / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(1400, 1000)
    return str(path)


def check(condition, what, driver):
    if not condition:
        raise AssertionError(f"{what}\n--- page {driver.current_url} ---\n{driver.find_element(By.TAG_NAME, 'body').text[:4000]}")


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    base, email, password, shots = sys.argv[1:]
    Path(shots).mkdir(parents=True, exist_ok=True)
    here = Path(__file__).resolve().parent
    with tempfile.TemporaryDirectory(prefix="vigil-chromium-") as profile:
        driver = browser(profile)
        wait = WebDriverWait(driver, WAIT)
        try:
            result = scenario(driver, wait, base, email, password, shots, here)
        except Exception:
            screenshot(driver, shots, "failure")
            raise
        finally:
            driver.quit()
    print(json.dumps(result), flush=True)


def scenario(driver, wait, base, email, password, shots, here):
    # A logged-out visitor of a page gets the login form, then lands on that page.
    driver.get(f"{base}/organizations/default/issues/")
    wait.until(EC.presence_of_element_located((By.NAME, "email")))
    check("/auth/login/" in driver.current_url, "not sent to the login form", driver)
    screenshot(driver, shots, "login")
    driver.find_element(By.NAME, "email").send_keys(email)
    driver.find_element(By.NAME, "password").send_keys(password + Keys.ENTER)
    wait.until(EC.url_contains("/organizations/default/issues/"))
    check(email in driver.find_element(By.CSS_SELECTOR, "header").text, "not logged in", driver)

    # Onboarding: create the project in the UI, read its DSN.
    driver.find_element(By.LINK_TEXT, "Projects").click()
    slug = wait.until(EC.presence_of_element_located((By.ID, "project-slug")))
    slug.send_keys("shop")
    Select(driver.find_element(By.NAME, "platform")).select_by_value("python-django")
    driver.find_element(By.XPATH, "//button[text()='Create project']").click()
    wait.until(EC.url_contains("/organizations/default/projects/shop/"))
    dsn = driver.find_element(By.ID, "dsn").text.strip()
    check(dsn.startswith("http://") and "@" in dsn, f"no DSN on the project page: {dsn!r}", driver)
    check("Waiting for the first event" in driver.page_source, "no waiting state", driver)
    check(f'dsn="{dsn}"' in driver.find_element(By.ID, "snippet-python").text, "no Django snippet with the DSN", driver)
    screenshot(driver, shots, "onboarding")

    # The real Django app with the real SDK fails on /sentry-debug/.
    app = subprocess.run(
        [sys.executable, str(here / "django_app.py"), dsn, "/sentry-debug/"],
        cwd=here, capture_output=True, text=True, timeout=120,
    )
    if app.returncode != 0 or '"status": 500' not in app.stdout:
        raise AssertionError(f"django_app.py: {app.returncode}\n{app.stdout}\n{app.stderr}")

    # The key settings page shows the same DSN.
    driver.find_element(By.LINK_TEXT, "Client keys (DSN)").click()
    wait.until(EC.url_contains("/settings/default/projects/shop/keys/"))
    check(dsn in driver.find_element(By.TAG_NAME, "main").text, "the keys page lacks the DSN", driver)
    screenshot(driver, shots, "keys")
    driver.back()
    wait.until(EC.url_contains("/organizations/default/projects/shop/"))

    # The onboarding page reloads itself until the issue is there.
    first = WebDriverWait(driver, WAIT).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, "a.first-issue"))
    )
    check(first.text == ZERO_DIVISION, f"the first issue is {first.text!r}", driver)

    # Find it through the search bar of the issues list.
    driver.find_element(By.LINK_TEXT, "Issues").click()
    search = wait.until(EC.presence_of_element_located((By.ID, "search")))
    search.clear()
    search.send_keys("is:unresolved environment:production ZeroDivisionError" + Keys.ENTER)
    wait.until(EC.url_contains("ZeroDivisionError"))
    titles = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "a.title")]
    check(titles == [ZERO_DIVISION], f"search found {titles}", driver)
    # The environment selector applies at once (a script submits it).
    Select(driver.find_element(By.NAME, "environment")).select_by_value("production")
    wait.until(EC.url_contains("environment=production"))
    titles = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "a.title")]
    check(titles == [ZERO_DIVISION], f"environment production shows {titles}", driver)
    list_shot = screenshot(driver, shots, "issues-list")
    # Keyboard: "j" puts the first issue in focus.
    driver.find_element(By.TAG_NAME, "body").send_keys("j")
    focused = driver.switch_to.active_element
    check(focused.text == ZERO_DIVISION, f"j focused {focused.text!r}", driver)
    driver.find_element(By.LINK_TEXT, ZERO_DIVISION).click()

    # The detail page: the frame with the line marked, the SQL breadcrumbs.
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "h1.issue-title")))
    issue_url = driver.current_url
    marked = driver.find_element(By.CSS_SELECTOR, "ol.context li.active")
    check(marked.is_displayed(), "the marked line is not visible", driver)
    check(marked.text.split(None, 1)[-1].strip() == "division_by_zero = 1 / 0", f"marked line is {marked.text!r}", driver)
    queries = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "li.crumb-query")]
    check(any("SELECT id, total FROM shop_order" in q for q in queries), f"SQL breadcrumbs: {queries}", driver)
    check(all(c.is_displayed() for c in driver.find_elements(By.CSS_SELECTOR, "li.crumb-query")), "breadcrumbs hidden", driver)
    detail_shot = screenshot(driver, shots, "issue-detail")
    phone_shot = screenshot(driver, shots, "issue-detail-phone", width=390)
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth > document.documentElement.clientWidth"
    )
    check(not overflow, "the detail page scrolls sideways on a phone", driver)

    # Resolve it; it leaves the unresolved tab and is in the resolved one.
    driver.find_element(By.XPATH, "//form[contains(@class,'status-actions')]//button[text()='Resolve']").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".status-resolved")))
    driver.find_element(By.LINK_TEXT, "Issues").click()
    tab = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "nav.tabs a.tab.selected")))
    check(tab.text == "Unresolved", f"the selected tab is {tab.text!r}", driver)
    titles = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "a.title")]
    check(ZERO_DIVISION not in titles, f"still unresolved: {titles}", driver)
    screenshot(driver, shots, "issues-unresolved-after-resolve")
    driver.find_element(By.LINK_TEXT, "Resolved").click()
    wait.until(EC.url_contains("is%3Aresolved"))
    titles = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "a.title")]
    check(titles == [ZERO_DIVISION], f"resolved tab shows {titles}", driver)
    errors = [entry for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]
    check(not errors, f"errors in the browser console: {errors}", driver)
    return {"dsn": dsn, "issue_url": issue_url, "screenshots": [list_shot, detail_shot, phone_shot]}


if __name__ == "__main__":
    main()
