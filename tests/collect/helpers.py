"""Helpers shared by the collection-service tests: create studies, walk the worker flow."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

from crowdcensus.collect.loopback import free_port, wait_for_port  # noqa: F401  (re-exported)
from crowdcensus.collect.settings import Settings

SECRET = b"test-secret-0123456789abcdef-collect"
ADMIN_TOKEN = "admin-token-for-tests"
AUTH = {"authorization": f"Bearer {ADMIN_TOKEN}"}

GOOD_ANSWERS = {
    "frequency": "weekly",
    "platforms_registered": ["mturk", "prolific"],
    "platforms_last_month": ["mturk"],
    "hours_per_week": "6.5",
    "earnings_band": "20_99",
    "country": "FR",
    "attention": "rarely",
}


def create_study(client, **fields) -> dict:
    body = {"title": "Micro-work in France", "country": "FR", "languages": ["fr", "en"],
            "researcher_name": "Équipe DiPLab", "researcher_contact": "diplab@example.org"}
    body.update(fields)
    response = client.post("/api/studies", json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    return response.json()


def create_wave(client, study_id: int, platform: str, **fields) -> dict:
    response = client.post(f"/api/studies/{study_id}/waves",
                           json={"platform": platform, **fields}, headers=AUTH)
    assert response.status_code == 201, response.text
    return response.json()


def public_id(wave: dict) -> str:
    return wave["worker_link"].rsplit("/", 1)[1]


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden field {name} in page"
    return match.group(1)


def code_on(html: str) -> str:
    match = re.search(r'id="code">([A-Z0-9]+)<', html)
    assert match, "no completion code on page"
    return match.group(1)


def landing_params(platform: str, worker: str) -> dict:
    if platform == "mturk":
        return {"workerId": worker, "assignmentId": f"ASG{worker}", "hitId": "HIT1",
                "turkSubmitTo": "https://workersandbox.mturk.com"}
    if platform == "prolific":
        return {"PROLIFIC_PID": worker, "STUDY_ID": "S1", "SESSION_ID": f"SE{worker}"}
    if platform == "clickworker":
        return {"user_id": worker}
    return {"id": worker}


def run_flow(client, wave: dict, worker: str, answers: dict | None = None):
    """Landing -> consent -> submit; return the final response."""
    pid = public_id(wave)
    page = client.get(f"/w/{pid}", params=landing_params(wave["platform"], worker))
    assert page.status_code == 200, page.text
    if 'id="code"' in page.text:  # already answered
        return page
    token, csrf = hidden(page.text, "token"), hidden(page.text, "csrf_token")
    form = client.post(f"/w/{pid}/consent",
                       data={"token": token, "csrf_token": csrf, "consent": "yes"})
    assert form.status_code == 200, form.text
    return client.post(f"/w/{pid}/submit", data={"token": token, "csrf_token": csrf,
                                                 **(answers or GOOD_ANSWERS)},
                       follow_redirects=False)


def make_settings(db_url: str, **overrides) -> Settings:
    """Settings for tests; MTurk post-backs may target a local fake endpoint."""
    values = dict(db_url=db_url, secret=SECRET, admin_token=ADMIN_TOKEN, rate_limit=0,
                  turk_submit_origins=("https://www.mturk.com",
                                       "https://workersandbox.mturk.com"))
    values.update(overrides)
    return Settings(**values)


class FakeClock:
    """A clock the test moves by hand: wall time (UTC) and a monotonic counter."""

    def __init__(self, now: datetime | None = None):
        self.wall = now or datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
        self.mono = 1000.0

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float = 0.0, **delta) -> None:
        step = timedelta(seconds=seconds, **delta)
        self.wall += step
        self.mono += step.total_seconds()

    def set(self, when: datetime) -> None:
        self.mono += max(0.0, (when - self.wall).total_seconds())
        self.wall = when


def poll(check, timeout: float = 60.0, every: float = 0.1):
    """Call ``check()`` until it returns something truthy; that value (or fail on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout:g} s")
        time.sleep(every)
