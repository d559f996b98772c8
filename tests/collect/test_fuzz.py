"""Fuzzing the worker forms and the API: bad input gets a 4xx, never a 5xx."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crowdcensus.collect.app import create_app
from crowdcensus.collect.database import make_engine, upgrade

from .helpers import AUTH, GOOD_ANSWERS, create_study, create_wave, hidden, make_settings, public_id

FUZZ = settings(max_examples=120, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
text = st.text(max_size=60)
field_names = st.sampled_from(sorted(GOOD_ANSWERS) + ["token", "csrf_token", "consent", "zz",
                                                      "to", "page"])


@pytest.fixture(scope="module")
def app_state(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}"
    upgrade(make_engine(url))
    app = create_app(make_settings(url))
    with TestClient(app, raise_server_exceptions=False) as client:
        wave = create_wave(client, create_study(client)["id"], "clickworker")
        pid = public_id(wave)
        page = client.get(f"/w/{pid}", params={"user_id": "fuzzer"})
        yield client, pid, hidden(page.text, "token"), hidden(page.text, "csrf_token"), wave
    app.state.engine.dispose()


def _ok(status: int) -> bool:
    return status < 500 and status != 0


@FUZZ
@given(st.dictionaries(st.sampled_from(sorted(GOOD_ANSWERS)),
                       st.lists(text, max_size=4), max_size=8))
def test_fuzz_questionnaire_answers(app_state, answers):
    client, pid, token, csrf, _ = app_state
    data = {**{k: v for k, v in GOOD_ANSWERS.items() if k not in answers}, **answers}
    response = client.post(f"/w/{pid}/submit",
                           data={"token": token, "csrf_token": csrf, **data})
    assert _ok(response.status_code), response.text
    assert response.status_code in (200, 422)
    assert "Traceback" not in response.text


@FUZZ
@given(st.dictionaries(field_names, text, max_size=10),
       st.sampled_from(["submit", "consent", "language"]))
def test_fuzz_form_fields_including_tokens(app_state, data, action):
    client, pid, _, _, _ = app_state
    response = client.post(f"/w/{pid}/{action}", data=data)
    assert _ok(response.status_code) and response.status_code >= 400


@FUZZ
@given(st.binary(max_size=300), st.sampled_from([
    "application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz",
    "multipart/form-data", "application/json", "text/plain"]))
def test_fuzz_raw_bodies(app_state, body, content_type):
    client, pid, _, _, _ = app_state
    for path in (f"/w/{pid}/submit", "/api/studies", "/admin/login"):
        response = client.post(path, content=body, headers={"content-type": content_type,
                                                            **AUTH})
        assert _ok(response.status_code) and response.status_code >= 400


@FUZZ
@given(st.dictionaries(st.sampled_from(["user_id", "lang", "workerId", "PROLIFIC_PID", "x"]),
                       text, max_size=4), text)
def test_fuzz_landing_parameters(app_state, params, public):
    client, pid, _, _, _ = app_state
    for target in (pid, quote(public, safe="")):
        response = client.get(f"/w/{target}", params=params)
        assert _ok(response.status_code)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(text, children,
                                                                       max_size=3),
    max_leaves=8,
)


@FUZZ
@given(st.dictionaries(st.sampled_from(["title", "country", "languages",
                                        "questionnaire_version", "platform", "label",
                                        "opens_at", "closes_at", "reward_cents",
                                        "currency", "target_responses", "worker_id",
                                        "researcher_name", "researcher_contact",
                                        "label_prefix", "every_days", "first_opens_at",
                                        "until", "duration_days"]),
                       json_values, max_size=6))
def test_fuzz_api_json(app_state, body):
    client, _, _, _, wave = app_state
    sid = wave["study_id"]
    for method, path in (("POST", "/api/studies"), ("POST", f"/api/studies/{sid}/waves"),
                         ("POST", f"/api/studies/{sid}/schedules"),
                         ("PATCH", f"/api/studies/{sid}"), ("POST", "/api/workers/export")):
        response = client.request(method, path, json=body, headers=AUTH)
        assert _ok(response.status_code), (path, body, response.text)


@FUZZ
@given(st.binary(max_size=400), text)
def test_fuzz_prolific_uploads(app_state, data, wave_label):
    client, _, _, _, wave = app_state
    response = client.post(f"/api/studies/{wave['study_id']}/prolific",
                           params={"wave": wave_label} if wave_label else None,
                           files={"file": ("x.csv", data, "text/csv")}, headers=AUTH)
    assert _ok(response.status_code) and response.status_code in (200, 400, 404, 422), \
        response.text


def test_non_finite_json_numbers_are_refused(app_state):
    client, _, _, _, wave = app_state
    for body in (b'{"title": "t", "country": "FR", "languages": NaN}',
                 b'{"platform": "mturk", "reward_cents": Infinity}',
                 b'{"platform": "mturk", "target_responses": 1e400}'):
        for path in ("/api/studies", f"/api/studies/{wave['study_id']}/waves"):
            response = client.post(path, content=body, headers={
                "content-type": "application/json", **AUTH})
            assert response.status_code == 422, (path, body, response.text)


def test_an_export_of_a_wave_the_study_does_not_have_is_a_404(app_state):
    # it was an empty 200, which said nothing of a mistyped label
    client, _, _, _, wave = app_state
    sid = wave["study_id"]
    missing = client.get(f"/api/studies/{sid}/responses", params={"wave": "nope"},
                         headers=AUTH)
    assert missing.status_code == 404 and "no wave or occasion 'nope'" in missing.text
    there = client.get(f"/api/studies/{sid}/responses", params={"wave": wave["label"],
                                                                "format": "json"},
                       headers=AUTH)
    assert there.status_code == 200, there.text
