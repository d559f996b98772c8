"""End to end in Debian's Chromium (Playwright): the Mechanical Turk and Prolific flows.

The server runs on 127.0.0.1; MTurk's ``turkSubmitTo`` is a small local fake
that records what it receives; the Prolific completion redirect is
intercepted with ``page.route``. No request leaves the machine.
"""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import uvicorn

from crowdcensus.collect.app import create_app
from crowdcensus.collect.database import make_engine, upgrade

from .helpers import AUTH, free_port, make_settings, wait_for_port

pytestmark = [pytest.mark.xdist_group("collect-browser"), pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync",
                 "--disable-quic"]


def _need_browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if sync_playwright is None or not os.path.exists(CHROMIUM):
        message = "Playwright or /usr/bin/chromium missing"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return sync_playwright


class FakeTurk(BaseHTTPRequestHandler):
    """Records POSTs to /mturk/externalSubmit like MTurk's endpoint would receive them."""

    received: list[tuple[str, dict]] = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
        FakeTurk.received.append((self.path, parse_qs(body)))
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.end_headers()
        self.wfile.write(b"<html><body>HIT submitted</body></html>")

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The service on a free port, plus the fake turkSubmitTo endpoint."""
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'browser.db'}"
    upgrade(make_engine(url))
    turk = ThreadingHTTPServer(("127.0.0.1", free_port()), FakeTurk)
    turk_origin = f"http://127.0.0.1:{turk.server_address[1]}"
    threading.Thread(target=turk.serve_forever, daemon=True).start()
    port = free_port()
    app = create_app(make_settings(url, turk_submit_origins=(turk_origin,)))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_port(port)
    yield f"http://127.0.0.1:{port}", turk_origin
    server.should_exit = True
    thread.join(10)
    turk.shutdown()


def _wave(base: str, platform: str, languages=("en", "fr")) -> dict:
    import httpx

    with httpx.Client(base_url=base, headers=AUTH) as api:
        study = api.post("/api/studies", json={
            "title": "browser", "country": "FR", "languages": list(languages),
            "researcher_name": "Lab", "researcher_contact": "lab@example.org"}).json()
        return api.post(f"/api/studies/{study['id']}/waves",
                        json={"platform": platform}).json()


def _stored(base: str, study_id: int) -> list[dict]:
    import httpx

    return httpx.get(f"{base}/api/studies/{study_id}/responses?format=json",
                     headers=AUTH).json()


def _answer(page) -> None:
    page.check("input[name=frequency][value=several_weekly]")
    page.check("input[name=platforms_registered][value=mturk]")
    page.check("input[name=platforms_registered][value=clickworker]")
    page.check("input[name=platforms_last_month][value=mturk]")
    page.fill("#hours_per_week", "12")
    page.check("input[name=earnings_band][value='100_299']")
    page.select_option("#country", "FR")
    page.check("input[name=attention][value=rarely]")
    page.click("#submit")


def _browser_page(p, errors: list, outside: list, locale: str | None = None):
    browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    context = browser.new_context(viewport={"width": 390, "height": 844},
                                  java_script_enabled=False, locale=locale)
    # Anything not on loopback is blocked (and noted); later routes take precedence.
    context.route(lambda url: urlsplit(url).hostname != "127.0.0.1",
                  lambda route: (outside.append(route.request.url), route.abort()))
    page = context.new_page()
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return browser, page


def test_mturk_flow_posts_back_to_turk_submit_to(live):
    sync_playwright = _need_browser()
    base, turk_origin = live
    wave = _wave(base, "mturk")
    FakeTurk.received.clear()
    errors: list = []
    outside: list = []
    with sync_playwright() as p:
        browser, page = _browser_page(p, errors, outside)
        landing = f"{wave['worker_link']}?" + urlencode({
            "workerId": "A2BROWSERWORKER", "assignmentId": "3ASSIGNMENT", "hitId": "3HIT",
            "turkSubmitTo": turk_origin})
        page.goto(landing.replace("assignmentId=3ASSIGNMENT",
                                  "assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE"))
        assert page.locator("#accept").count() == 0  # preview: no form
        page.goto(landing)
        page.click("#accept")
        _answer(page)
        code = page.text_content("#code")
        assert code and len(code) == 10
        page.click("#mturk-submit")
        page.wait_for_selector("text=HIT submitted")
        browser.close()
    assert FakeTurk.received == [("/mturk/externalSubmit",
                                  {"assignmentId": ["3ASSIGNMENT"], "completion_code": [code]})]
    assert errors == [] and outside == []


def test_prolific_flow_redirects_to_completion_url(live):
    sync_playwright = _need_browser()
    base, _ = live
    wave = _wave(base, "prolific")
    errors: list = []
    outside: list = []
    completed: list = []
    with sync_playwright() as p:
        browser, page = _browser_page(p, errors, outside)
        page.route("https://app.prolific.com/**", lambda route: (
            completed.append(route.request.url),
            route.fulfill(status=200, content_type="text/html",
                          body="<html><body>Prolific: study complete</body></html>")))
        page.goto(f"{wave['worker_link']}?" + urlencode({
            "PROLIFIC_PID": "5fbrowserpid", "STUDY_ID": "S9", "SESSION_ID": "SE9"}))
        page.click("#accept")
        _answer(page)
        page.wait_for_selector("text=study complete")
        final = page.url
        browser.close()
    target = urlsplit(final)
    assert target.netloc == "app.prolific.com" and target.path == "/submissions/complete"
    assert parse_qs(target.query) == {"cc": [wave["platform_completion_code"]]}
    assert completed == [final]
    assert errors == [] and outside == []


def test_french_chromium_stores_a_decimal_comma_as_a_decimal(live):
    """fr-FR Chromium: typing 7,5 hours stores 7.5 (it was posted as 75 by type=number);
    the month of the first task, through Chromium's month control, is stored as
    ``YYYY-MM``."""
    sync_playwright = _need_browser()
    base, _ = live
    wave = _wave(base, "clickworker", languages=("fr", "en"))
    errors: list = []
    outside: list = []
    with sync_playwright() as p:
        browser, page = _browser_page(p, errors, outside, locale="fr-FR")
        page.goto(f"{wave['worker_link']}?user_id=cw-decimal")
        assert page.get_attribute("html", "lang") == "fr"
        page.click("#accept")
        page.check("input[name=frequency][value=weekly]")
        page.check("input[name=platforms_registered][value=clickworker]")
        page.select_option("#country", "FR")
        page.check("input[name=earnings_band][value=lt20]")
        page.check("input[name=attention][value=rarely]")
        page.fill("#hours_per_week", "1_0")
        page.click("#submit")  # the browser itself refuses it (pattern), nothing is sent
        assert page.locator("#hours_per_week:invalid").count() == 1
        assert page.locator("#code").count() == 0
        page.fill("#hours_per_week", "7,5")
        assert page.get_attribute("#started_month", "type") == "month"
        page.fill("#started_month", "2024-05")
        page.click("#submit")
        code = page.text_content("#code")
        browser.close()
    rows = _stored(base, wave["study_id"])
    assert [(r["completion_code"], r["hours_per_week"], r["started_month"])
            for r in rows] == [(code, 7.5, "2024-05")]
    assert errors == [] and outside == []


def test_server_errors_are_announced_and_focused(live):
    """aria-invalid + aria-describedby on the fields, an error summary role=alert with focus."""
    sync_playwright = _need_browser()
    base, _ = live
    wave = _wave(base, "clickworker", languages=("en", "fr"))
    errors: list = []
    outside: list = []
    with sync_playwright() as p:
        browser, page = _browser_page(p, errors, outside)
        page.goto(f"{wave['worker_link']}?user_id=cw-a11y")
        page.click("#accept")
        page.check("input[name=frequency][value=weekly]")
        page.check("input[name=platforms_registered][value=clickworker]")
        page.check("input[name=platforms_last_month][value=toloka]")  # not registered there
        page.fill("#hours_per_week", "150")  # more hours than a week can hold
        page.select_option("#country", "FR")
        page.check("input[name=earnings_band][value=lt20]")
        page.check("input[name=attention][value=rarely]")
        page.click("#submit")
        summary = page.locator("#errors")
        assert summary.get_attribute("role") == "alert"
        assert page.locator(":focus").get_attribute("id") == "errors"  # focus moved there
        for field, anchor in (("hours_per_week", "hours_per_week"),
                              ("platforms_last_month", "field-platforms_last_month")):
            described = page.locator(f"[aria-describedby=error-{field}]")
            assert described.count() >= 1
            assert described.first.get_attribute("aria-invalid") == "true"
            assert page.locator(f"#error-{field}").is_visible()
            assert summary.locator(f"a[href='#{anchor}']").count() == 1
        assert page.locator("[aria-invalid=true]").count() == 1 + 8  # hours + 8 checkboxes
        # the worker switches to French: what was ticked stays, the errors go
        page.click("#switch-language")
        assert page.get_attribute("html", "lang") == "fr"
        assert page.is_checked("input[name=platforms_last_month][value=toloka]")
        assert page.input_value("#hours_per_week") == "150"
        assert page.locator("[aria-invalid=true]").count() == 0
        page.uncheck("input[name=platforms_last_month][value=toloka]")
        page.fill("#hours_per_week", "15,5")
        page.click("#submit")
        assert page.text_content("#code")
        browser.close()
    rows = _stored(base, wave["study_id"])
    assert [(r["hours_per_week"], r["language"]) for r in rows] == [(15.5, "fr")]
    # the one console message is Chromium noting the 422 answer to the submitted form
    assert [e for e in errors if "status of 422" not in e] == [] and len(errors) == 1
    assert outside == []
