"""API and worker pages, in-process, against a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

import io
import json
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import pytest

from crowdcensus.capture.histories import CaptureHistories

from .helpers import (
    AUTH,
    GOOD_ANSWERS,
    code_on,
    create_study,
    create_wave,
    hidden,
    landing_params,
    public_id,
    run_flow,
)

pytestmark = pytest.mark.xdist_group("collect-db")


def test_api_refuses_missing_or_wrong_token(client):
    assert client.get("/api/studies").status_code == 401
    wrong = client.get("/api/studies", headers={"authorization": "Bearer nope-nope"})
    assert wrong.status_code == 401
    assert wrong.json() == {"error": "missing or wrong admin token"}
    assert client.post("/api/studies", json={"title": "x", "country": "FR"}).status_code == 401
    assert client.get("/api/studies", headers=AUTH).json() == []


def test_study_and_wave_validation_gives_4xx_with_message(client):
    bad = client.post("/api/studies", json={"title": "", "country": "France"}, headers=AUTH)
    assert bad.status_code == 422
    assert "country" in bad.json()["error"] and "title" in bad.json()["error"]
    study = create_study(client)
    window = client.post(f"/api/studies/{study['id']}/waves", headers=AUTH, json={
        "platform": "mturk", "opens_at": "2026-12-02T00:00:00Z",
        "closes_at": "2026-12-01T00:00:00Z"})
    assert window.status_code == 422 and "closes_at" in window.json()["error"]
    assert client.post(f"/api/studies/{study['id']}/waves", headers=AUTH,
                       json={"platform": "myspace"}).status_code == 422
    create_wave(client, study["id"], "mturk", label="first")
    dup = client.post(f"/api/studies/{study['id']}/waves", headers=AUTH,
                      json={"platform": "mturk", "label": "first"})
    assert dup.status_code == 409
    assert client.get("/api/studies/999", headers=AUTH).status_code == 404


def test_mturk_preview_records_nothing_and_flow_posts_back(client):
    study = create_study(client)
    wave = create_wave(client, study["id"], "mturk", reward_cents=50)
    pid = public_id(wave)
    preview = client.get(f"/w/{pid}", params={
        "assignmentId": "ASSIGNMENT_ID_NOT_AVAILABLE", "lang": "en", "hitId": "HIT1"})
    assert preview.status_code == 200
    assert 'name="token"' not in preview.text and "preview" in preview.text.lower()
    assert client.get(f"/api/waves/{wave['id']}", headers=AUTH).json()["n_responses"] == 0

    done = run_flow(client, wave, "A1WORKER")
    assert done.status_code == 200
    code = code_on(done.text)
    assert 'action="https://workersandbox.mturk.com/mturk/externalSubmit"' in done.text
    assert hidden(done.text, "assignmentId") == "ASGA1WORKER"
    assert hidden(done.text, "completion_code") == code
    assert client.get(f"/api/waves/{wave['id']}", headers=AUTH).json()["n_responses"] == 1

    # The same worker again in the same wave: no second response, the same code.
    again = run_flow(client, wave, "A1WORKER")
    assert code_on(again.text) == code
    assert client.get(f"/api/waves/{wave['id']}", headers=AUTH).json()["n_responses"] == 1


def test_turk_submit_to_must_be_mturk(client):
    wave = create_wave(client, create_study(client)["id"], "mturk")
    params = landing_params("mturk", "W9")
    params["turkSubmitTo"] = "https://evil.example"
    page = client.get(f"/w/{public_id(wave)}", params=params)
    assert page.status_code == 400 and "ouverte depuis Mechanical Turk" in page.text
    assert "Traceback" not in page.text and "turkSubmitTo" not in page.text


def test_resubmitting_the_form_returns_the_same_code(client):
    wave = create_wave(client, create_study(client)["id"], "clickworker")
    pid = public_id(wave)
    page = client.get(f"/w/{pid}", params={"user_id": "cw-77"})
    token, csrf = hidden(page.text, "token"), hidden(page.text, "csrf_token")
    data = {"token": token, "csrf_token": csrf, **GOOD_ANSWERS}
    first = client.post(f"/w/{pid}/submit", data=data)
    second = client.post(f"/w/{pid}/submit", data={**data, "frequency": "monthly"})
    assert first.status_code == second.status_code == 200
    assert code_on(first.text) == code_on(second.text)
    rows = pd.read_csv(io.StringIO(client.get(
        f"/api/studies/{wave['study_id']}/responses", headers=AUTH).text))
    assert len(rows) == 1 and rows.loc[0, "frequency"] == "weekly"


def test_prolific_redirects_to_completion_url_with_wave_code(client):
    wave = create_wave(client, create_study(client)["id"], "prolific")
    done = run_flow(client, wave, "5f1e2d3c4b5a")
    assert done.status_code == 303
    target = urlsplit(done.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == \
        "https://app.prolific.com/submissions/complete"
    assert parse_qs(target.query) == {"cc": [wave["platform_completion_code"]]}
    kit = client.get(f"/api/waves/{wave['id']}/kit", headers=AUTH).json()
    url = kit["study"]["external_study_url"]
    for placeholder in ("{{%PROLIFIC_PID%}}", "{{%STUDY_ID%}}", "{{%SESSION_ID%}}"):
        assert placeholder in url
    assert kit["study"]["completion_codes"][0]["code"] == wave["platform_completion_code"]


def test_generic_flow_asks_for_an_identifier(client):
    wave = create_wave(client, create_study(client)["id"], "generic")
    ask = client.get(f"/w/{public_id(wave)}")
    assert ask.status_code == 200 and 'name="id"' in ask.text
    done = run_flow(client, wave, "my-own-id")
    assert done.status_code == 200 and len(code_on(done.text)) == 10


def test_codes_are_unique_per_response(client):
    wave = create_wave(client, create_study(client)["id"], "generic")
    codes = {code_on(run_flow(client, wave, f"person{i}").text) for i in range(12)}
    assert len(codes) == 12


def test_consent_in_french_and_english(client):
    wave = create_wave(client, create_study(client)["id"], "clickworker")
    fr = client.get(f"/w/{public_id(wave)}", params={"user_id": "u1"})
    en = client.get(f"/w/{public_id(wave)}", params={"user_id": "u1", "lang": "en"})
    assert "J&#39;accepte de participer" in fr.text and 'lang="fr"' in fr.text
    assert "I agree to take part" in en.text
    assert 'name="viewport"' in en.text


def test_declining_consent_records_nothing(client):
    wave = create_wave(client, create_study(client)["id"], "clickworker")
    page = client.get(f"/w/{public_id(wave)}", params={"user_id": "u2", "lang": "en"})
    declined = client.post(f"/w/{public_id(wave)}/consent", data={
        "token": hidden(page.text, "token"), "csrf_token": hidden(page.text, "csrf_token"),
        "consent": "no"})
    assert declined.status_code == 200 and "nothing was recorded" in declined.text
    assert client.get(f"/api/waves/{wave['id']}", headers=AUTH).json()["n_responses"] == 0


def test_invalid_answers_get_422_with_messages_and_nothing_stored(client):
    wave = create_wave(client, create_study(client)["id"], "clickworker")
    answers = {**GOOD_ANSWERS, "hours_per_week": "200", "country": "XX",
               "platforms_last_month": ["toloka"]}
    response = run_flow(client, wave, "u3", answers=answers)
    assert response.status_code == 422
    for field in ("hours_per_week", "country", "platforms_last_month"):
        assert f'id="error-{field}"' in response.text
    assert client.get(f"/api/waves/{wave['id']}", headers=AUTH).json()["n_responses"] == 0


def test_csrf_token_is_required(client):
    wave = create_wave(client, create_study(client)["id"], "clickworker")
    pid = public_id(wave)
    page = client.get(f"/w/{pid}", params={"user_id": "u4"})
    token = hidden(page.text, "token")
    missing = client.post(f"/w/{pid}/submit", data={"token": token, **GOOD_ANSWERS})
    assert missing.status_code == 403
    client.cookies.clear()
    no_cookie = client.post(f"/w/{pid}/submit", data={
        "token": token, "csrf_token": hidden(page.text, "csrf_token"), **GOOD_ANSWERS})
    assert no_cookie.status_code == 403
    assert client.get(f"/api/waves/{wave['id']}", headers=AUTH).json()["n_responses"] == 0


def test_forged_participant_token_is_refused(client):
    wave = create_wave(client, create_study(client)["id"], "clickworker")
    pid = public_id(wave)
    page = client.get(f"/w/{pid}", params={"user_id": "u5"})
    token = hidden(page.text, "token")
    body, mac = token.split(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
    response = client.post(f"/w/{pid}/submit", data={
        "token": forged, "csrf_token": hidden(page.text, "csrf_token"), **GOOD_ANSWERS})
    assert response.status_code == 400


def test_closed_wave_refuses_workers(client):
    wave = create_wave(client, create_study(client)["id"], "clickworker",
                       opens_at="2020-01-01T00:00:00Z", closes_at="2020-01-02T00:00:00Z")
    assert client.get(f"/w/{public_id(wave)}", params={"user_id": "u6"}).status_code == 410
    later = create_wave(client, wave["study_id"], "clickworker",
                        opens_at="2099-01-01T09:00:00+01:00")
    assert later["opens_at"] == "2099-01-01T08:00:00+00:00"
    early = client.get(f"/w/{public_id(later)}", params={"user_id": "u6", "lang": "en"})
    assert early.status_code == 403 and "not open yet" in early.text


def test_error_pages_are_custom_and_favicon_served(client):
    missing = client.get("/w/doesnotexist", params={"user_id": "x"})
    assert missing.status_code == 404 and "<html" in missing.text
    assert client.get("/api/nothing", headers=AUTH).json()["error"]
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.content[:4] == b"\x00\x00\x01\x00"


def test_recapture_across_waves_gives_capture_histories(client):
    """Histories built by the service equal those of a known simulated design."""
    study = create_study(client)
    waves = [create_wave(client, study["id"], "clickworker", label=f"w{k}") for k in (1, 2, 3)]
    rng = np.random.default_rng(7)
    truth = rng.random((25, 3)) < 0.45  # 25 people, caught in each wave with p=0.45
    for person, row in enumerate(truth):
        for k, caught in enumerate(row):
            if caught:
                assert run_flow(client, waves[k], f"worker-{person}").status_code == 200
    expected = CaptureHistories.from_matrix(truth.astype(np.uint8), occasions=["w1", "w2", "w3"])
    for fmt in ("csv", "parquet", "json"):
        got = client.get(f"/api/studies/{study['id']}/histories?format={fmt}", headers=AUTH)
        assert got.status_code == 200
        if fmt == "csv":
            frame = pd.read_csv(io.StringIO(got.text))
        elif fmt == "parquet":
            frame = pd.read_parquet(io.BytesIO(got.content))
        else:
            frame = pd.DataFrame(json.loads(got.text))
        assert list(frame.columns) == ["w1", "w2", "w3", "freq"]
        hist = CaptureHistories.from_frame(frame)
        assert hist.n_captured == expected.n_captured
        assert dict(zip(map(tuple, hist.histories), hist.counts, strict=True)) == \
            dict(zip(map(tuple, expected.histories), expected.counts, strict=True))
    per_platform = client.get(f"/api/studies/{study['id']}/histories?platform=mturk",
                              headers=AUTH)
    assert per_platform.status_code == 409 and "no wave" in per_platform.json()["error"]


def test_response_exports_in_three_formats(client):
    study = create_study(client)
    wave = create_wave(client, study["id"], "generic")
    for i in range(3):
        # the first names the month of their first task; the others leave it blank
        run_flow(client, wave, f"p{i}", answers={**GOOD_ANSWERS, "started_month": "05/2024"}
                 if i == 0 else None)
    url = f"/api/studies/{study['id']}/responses"
    csv = pd.read_csv(io.StringIO(client.get(url, headers=AUTH).text))
    parquet = pd.read_parquet(io.BytesIO(client.get(f"{url}?format=parquet",
                                                    headers=AUTH).content))
    records = json.loads(client.get(f"{url}?format=json", headers=AUTH).text)
    assert len(csv) == len(parquet) == len(records) == 3
    assert set(csv["frequency"]) == {"weekly"} and set(parquet["country"]) == {"FR"}
    assert records[0]["platforms_registered"] == "mturk,prolific"
    assert records[0]["hours_per_week"] == 6.5 and records[0]["attention_passed"] is True
    assert sorted(csv["started_month"].fillna("")) == ["", "", "2024-05"]
    # a blank answer is null in JSON (not NaN, which strict JSON readers refuse)
    assert sorted(r["started_month"] or "" for r in records) == ["", "", "2024-05"]
    assert sum(r["started_month"] is None for r in records) == 2
    assert csv["worker_hash"].nunique() == 3 and csv["worker_hash"].str.len().eq(32).all()
    assert client.get(f"{url}?format=xml", headers=AUTH).status_code == 422


def test_worker_data_request_export_and_delete(client):
    study = create_study(client)
    w1 = create_wave(client, study["id"], "prolific")
    w2 = create_wave(client, study["id"], "prolific")
    run_flow(client, w1, "PID42")
    run_flow(client, w2, "PID42")
    run_flow(client, w2, "PID43")
    body = {"platform": "prolific", "worker_id": "PID42"}
    mine = client.post("/api/workers/export", json=body, headers=AUTH).json()
    assert [r["wave"] for r in mine["responses"]] == ["wave01", "wave02"]
    assert client.post("/api/workers/delete", json=body, headers=AUTH).json()["deleted"] == 2
    assert client.post("/api/workers/export", json=body, headers=AUTH).json()["responses"] == []
    assert client.get(f"/api/waves/{w2['id']}", headers=AUTH).json()["n_responses"] == 1


def test_mturk_kit_has_external_question_and_locale(client):
    study = create_study(client, country="BE")
    wave = create_wave(client, study["id"], "mturk", reward_cents=125, target_responses=300)
    kit = client.get(f"/api/waves/{wave['id']}/kit", headers=AUTH).json()
    params = kit["create_hit"]
    assert params["Reward"] == "1.25" and params["MaxAssignments"] == 300
    assert f"<ExternalURL>{wave['worker_link']}</ExternalURL>" in params["Question"]
    assert params["QualificationRequirements"][0]["LocaleValues"] == [{"Country": "BE"}]
    assert params["QualificationRequirements"][0]["QualificationTypeId"] == \
        "00000000000000000071"


def test_admin_pages_need_login(client):
    study = create_study(client)
    create_wave(client, study["id"], "mturk")
    login = client.get("/admin")
    assert "Admin token" in login.text
    assert client.get(f"/admin/studies/{study['id']}", follow_redirects=False).status_code == 303
    bad = client.post("/admin/login", data={"token": "wrong-token",
                                            "csrf_token": hidden(login.text, "csrf_token")})
    assert bad.status_code == 401
    ok = client.post("/admin/login", data={"token": "admin-token-for-tests",
                                           "csrf_token": hidden(login.text, "csrf_token")})
    assert ok.status_code == 200 and "Micro-work in France" in ok.text
    page = client.get(f"/admin/studies/{study['id']}")
    assert "ExternalQuestion" in page.text
    create_wave(client, study["id"], "prolific")
    page = client.get(f"/admin/studies/{study['id']}").text
    exports = page[page.index("<h2>Exports</h2>"):]
    per_platform = exports.index("histories?format=csv&amp;platform=mturk")
    pooled = exports.index('histories?format=csv">')
    assert per_platform < pooled and "mixes platforms" in exports[pooled:]
    link = f"/api/studies/{study['id']}/schedule?platform=mturk"
    assert f'href="{link}"' in exports
    # the session reads it; waves with no times and no answer cannot be dated yet
    undated = client.get(link)
    assert undated.status_code == 409 and "no opening or closing time" in undated.text
    assert "is not https" in page  # the link workers get is http://testserver
    assert client.get(f"/api/studies/{study['id']}/responses").status_code == 200
    assert client.post("/api/studies", json={"title": "x", "country": "FR"}).status_code == 401


def test_admin_forms_create_study_and_wave(client):
    login = client.get("/admin")
    client.post("/admin/login", data={"token": "admin-token-for-tests",
                                      "csrf_token": hidden(login.text, "csrf_token")})
    page = client.get("/admin")
    csrf = hidden(page.text, "csrf_token")
    bad = client.post("/admin/studies", data={"csrf_token": csrf, "title": "x",
                                              "country": "France"})
    assert bad.status_code == 422 and 'id="error"' in bad.text and "country" in bad.text
    made = client.post("/admin/studies", data={"csrf_token": csrf, "title": "Via the form",
                                               "country": "be", "languages": ["en", "fr"]},
                       follow_redirects=False)
    assert made.status_code == 303
    study_url = made.headers["location"]
    early = client.post(f"{study_url}/waves", data={"csrf_token": csrf, "platform": "mturk"})
    assert early.status_code == 409 and "researcher" in early.text  # no contact yet
    edited = client.post(f"{study_url}/edit", data={
        "csrf_token": csrf, "researcher_name": "Team", "researcher_contact": "t@example.org"},
        follow_redirects=False)
    assert edited.status_code == 303
    study = client.get(f"/api{study_url.removeprefix('/admin')}", headers=AUTH).json()
    assert (study["title"], study["country"], study["languages"]) == \
        ("Via the form", "BE", ["en", "fr"])
    assert client.post(f"{study_url}/waves", data={"platform": "mturk"}).status_code == 403
    wrong = client.post(f"{study_url}/waves", data={
        "csrf_token": csrf, "platform": "mturk", "opens_at": "2027-01-02T10:00",
        "closes_at": "2027-01-01T10:00"})
    assert wrong.status_code == 422 and "closes_at" in wrong.text
    ok = client.post(f"{study_url}/waves", data={
        "csrf_token": csrf, "platform": "prolific", "label": "pro1", "reward_cents": " 120 ",
        "currency": "GBP", "target_responses": "250", "opens_at": "2027-01-01T10:00",
        "closes_at": "2027-01-08T10:00"}, follow_redirects=False)
    assert ok.status_code == 303
    wave = client.get(f"/api{study_url.removeprefix('/admin')}", headers=AUTH).json()["waves"][0]
    assert (wave["label"], wave["reward_cents"], wave["currency"], wave["target_responses"]) == \
        ("pro1", 120, "GBP", 250)
    assert wave["opens_at"].startswith("2027-01-01T10:00")
    client.cookies.delete("crowdcensus_admin")
    assert client.post("/admin/studies", data={"csrf_token": csrf, "title": "t",
                                               "country": "FR"}).status_code == 401
