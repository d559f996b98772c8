"""What a worker sees: every error page in their language, the language switch, a full task,
the researcher's contact, case-insensitive IDs, numbers with a decimal comma, control characters.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from crowdcensus.collect.app import create_app
from crowdcensus.collect.database import make_engine, upgrade
from crowdcensus.collect.texts import TEXTS

from .helpers import (
    AUTH,
    GOOD_ANSWERS,
    FakeClock,
    code_on,
    create_study,
    create_wave,
    hidden,
    landing_params,
    make_settings,
    public_id,
    run_flow,
)

pytestmark = pytest.mark.xdist_group("collect-db")
TECHNICAL = ("malformed", "Traceback", "csrf", "token", "parameter", "Content-Length",
             "internal error", "workerId", "turkSubmitTo")


@pytest.fixture
def sqlite_client(tmp_path):
    url = f"sqlite:///{tmp_path / 'pages.db'}"
    upgrade(make_engine(url))
    clock = FakeClock()
    app = create_app(make_settings(url, max_body_bytes=4096), clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        client.clock = clock
        yield client
    app.state.engine.dispose()


def _message(html: str) -> str:
    match = re.search(r'id="message"[^>]*>([^<]*)<', html)
    assert match, html[:500]
    return match.group(1).replace("&#39;", "'")


def _is_page_for_workers(response, lang: str, key: str) -> None:
    """A page in ``lang`` with the message ``key``, the other language below, nothing technical."""
    html = response.text
    assert f'<html lang="{lang}">' in html
    assert _message(html) == TEXTS[lang][key]
    other = "en" if lang == "fr" else "fr"
    assert f'id="in-{other}"' in html and TEXTS[other][key].replace("'", "&#39;") in html
    assert f'href="#in-{other}"' in html  # the switch: an anchor, no ID in any URL
    for word in TECHNICAL:
        assert word not in html, word


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_worker_error_page_follows_the_study_language(sqlite_client, lang):
    client = sqlite_client
    study = create_study(client, languages=[lang, "fr" if lang == "en" else "en"])
    wave = create_wave(client, study["id"], "mturk")
    pid = public_id(wave)
    # 400: the link lost the worker ID / is not from MTurk / malformed ID
    _is_page_for_workers(client.get(f"/w/{pid}", params={"assignmentId": "A", "hitId": "H"}),
                         lang, "err_missing_id")
    params = landing_params("mturk", "W1")
    _is_page_for_workers(client.get(f"/w/{pid}", params={**params, "workerId": "a b<c>"}),
                         lang, "err_bad_id")
    _is_page_for_workers(client.get(f"/w/{pid}", params={**params,
                                                          "turkSubmitTo": "https://x.example"}),
                         lang, "err_turk")
    page = client.get(f"/w/{pid}", params=params)
    token, csrf = hidden(page.text, "token"), hidden(page.text, "csrf_token")
    # 400 with the worker's own choice of language in the token
    en_token = hidden(client.post(f"/w/{pid}/language", data={
        "token": token, "csrf_token": csrf, "to": "en", "page": "consent"}).text, "token")
    bad = client.post(f"/w/{pid}/consent", data={"token": en_token, "csrf_token": csrf,
                                                  "consent": "maybe"})
    assert bad.status_code == 400
    _is_page_for_workers(bad, "en", "err_form")
    # 403: cookies blocked or the form expired
    forged = client.post(f"/w/{pid}/submit", data={"token": token, **GOOD_ANSWERS})
    assert forged.status_code == 403
    _is_page_for_workers(forged, lang, "err_csrf")
    # 404 and 405
    # an unknown wave: no study to follow, so the browser's language (none sent: English)
    _is_page_for_workers(client.get(f"/w/{pid}x"), "en", "err_not_found")
    reload = client.get(f"/w/{pid}/submit")
    assert reload.status_code == 405
    _is_page_for_workers(reload, lang, "err_method")
    # 413
    big = client.post(f"/w/{pid}/submit", data={"token": token, "csrf_token": csrf,
                                                "x": "a" * 5000})
    assert big.status_code == 413
    _is_page_for_workers(big, lang, "err_too_large")


def test_unknown_task_follows_the_browser_language(sqlite_client):
    page = sqlite_client.get("/w/nothing-here", headers={"accept-language": "de-DE,fr;q=0.8"})
    assert page.status_code == 404
    _is_page_for_workers(page, "fr", "err_not_found")
    english = sqlite_client.get("/nowhere", headers={"accept-language": "en-GB,en;q=0.9"})
    _is_page_for_workers(english, "en", "err_not_found")


def test_closed_full_and_not_open_pages_have_a_switch_without_the_id(sqlite_client):
    client = sqlite_client
    study = create_study(client)
    now = client.clock.now()
    closed = create_wave(client, study["id"], "prolific", opens_at="2020-01-01T00:00:00Z",
                         closes_at="2020-01-02T00:00:00Z")
    page = client.get(f"/w/{public_id(closed)}", params=landing_params("prolific", "PIDX1"))
    assert page.status_code == 410 and _message(page.text) == TEXTS["fr"]["closed"]
    switch = re.search(r'id="switch-language"', page.text)
    assert switch and "PIDX1" not in page.text
    link = re.search(r'href="([^"]+)" hreflang="en"', page.text).group(1)
    english = client.get(link.replace("&amp;", "&"))
    assert english.status_code == 410 and _message(english.text) == TEXTS["en"]["closed"]
    later = create_wave(client, study["id"], "prolific",
                        opens_at=(now.replace(year=now.year + 1)).isoformat())
    early = client.get(f"/w/{public_id(later)}", params=landing_params("prolific", "P2"))
    assert early.status_code == 403 and _message(early.text) == TEXTS["fr"]["not_open"]
    assert "P2" not in early.text


def test_a_full_task_turns_newcomers_away_but_not_those_who_answered(sqlite_client):
    client = sqlite_client
    study = create_study(client)
    wave = create_wave(client, study["id"], "clickworker", target_responses=2)
    codes = [code_on(run_flow(client, wave, f"cw{i}").text) for i in range(2)]
    pid = public_id(wave)
    late = client.get(f"/w/{pid}", params={"user_id": "cw9"})
    assert late.status_code == 410 and _message(late.text) == TEXTS["fr"]["full"]
    assert "cw9" not in late.text and "researcher" not in late.text
    again = client.get(f"/w/{pid}", params={"user_id": "cw1"})
    assert again.status_code == 200 and code_on(again.text) == codes[1]
    kit = client.get(f"/api/waves/{wave['id']}/kit", headers=AUTH).json()
    assert any("full" in w and "2 completed" in w for w in kit["warnings"])


def test_a_worker_who_started_before_the_task_filled_up_may_finish(sqlite_client):
    client = sqlite_client
    wave = create_wave(client, create_study(client)["id"], "generic", target_responses=1)
    pid = public_id(wave)
    started = client.get(f"/w/{pid}", params={"id": "first-starter"})
    token, csrf = hidden(started.text, "token"), hidden(started.text, "csrf_token")
    assert run_flow(client, wave, "quick").status_code == 200  # fills the task
    done = client.post(f"/w/{pid}/submit", data={"token": token, "csrf_token": csrf,
                                                  **GOOD_ANSWERS})
    assert done.status_code == 200 and code_on(done.text)
    assert client.get(f"/api/waves/{wave['id']}", headers=AUTH).json()["n_responses"] == 2


def test_consent_shows_the_researcher_and_waves_need_one(sqlite_client):
    client = sqlite_client
    wave = create_wave(client, create_study(client)["id"], "clickworker")
    page = client.get(f"/w/{public_id(wave)}", params={"user_id": "u1"})
    assert "Équipe DiPLab" in page.text and "diplab@example.org" in page.text
    bare = client.post("/api/studies", headers=AUTH, json={"title": "t", "country": "FR"})
    sid = bare.json()["id"]
    refused = client.post(f"/api/studies/{sid}/waves", headers=AUTH,
                          json={"platform": "mturk"})
    assert refused.status_code == 409 and "researcher_contact" in refused.json()["error"]
    for bad in ({"researcher_name": "A\x00B"}, {"researcher_contact": "x\ty@z.org"},
                {"title": "new\nline"}):
        nul = client.patch(f"/api/studies/{sid}", headers=AUTH, json=bad)
        assert nul.status_code == 422 and "control characters" in nul.json()["error"]
    ok = client.patch(f"/api/studies/{sid}", headers=AUTH, json={
        "researcher_name": "Lab", "researcher_contact": "lab@example.org"})
    assert ok.status_code == 200 and ok.json()["researcher_contact"] == "lab@example.org"
    assert client.post(f"/api/studies/{sid}/waves", headers=AUTH,
                       json={"platform": "mturk"}).status_code == 201


def test_the_language_switch_keeps_the_answers_and_never_puts_the_id_in_a_url(sqlite_client):
    client = sqlite_client
    wave = create_wave(client, create_study(client)["id"], "prolific")
    pid = public_id(wave)
    raw = "5f1e2d3c4b5a69788796a5b4"
    consent = client.get(f"/w/{pid}", params=landing_params("prolific", raw))
    assert 'lang="fr"' in consent.text
    token, csrf = hidden(consent.text, "token"), hidden(consent.text, "csrf_token")
    pages = [consent]
    english = client.post(f"/w/{pid}/language", data={"token": token, "csrf_token": csrf,
                                                       "to": "en", "page": "consent"})
    assert "I agree to take part" in english.text
    pages.append(english)
    form = client.post(f"/w/{pid}/consent", data={"token": hidden(english.text, "token"),
                                                   "csrf_token": csrf, "consent": "yes"})
    assert 'lang="en"' in form.text and 'formaction="/w/' in form.text
    pages.append(form)
    half = {"token": hidden(form.text, "token"), "csrf_token": csrf, "page": "questionnaire",
            "to": "fr", "frequency": "monthly", "platforms_registered": ["prolific", "appen"],
            "hours_per_week": "7,5", "country": "BE"}
    french = client.post(f"/w/{pid}/language", data=half)
    pages.append(french)
    assert 'lang="fr"' in french.text and "Envoyer mes réponses" in french.text
    assert re.search(r'value="monthly"[^>]*checked', french.text)
    assert re.search(r'value="appen"[^>]*checked', french.text)
    assert 'value="7,5"' in french.text and re.search(r'value="BE" selected', french.text)
    assert 'aria-invalid' not in french.text  # switching is not a validation
    for page in pages:
        assert raw not in page.text
        for url in re.findall(r'(?:href|action|formaction)="([^"]*)"', page.text):
            assert raw not in url and "PROLIFIC_PID" not in urlsplit(url).query


def test_typed_ids_are_compared_the_way_the_platform_compares_them(sqlite_client):
    client = sqlite_client
    study = create_study(client)
    mturk = create_wave(client, study["id"], "mturk")
    code = code_on(run_flow(client, mturk, "A1B2C3D4E5").text)
    again = client.get(f"/w/{public_id(mturk)}", params=landing_params("mturk", "a1b2c3d4e5"))
    assert code_on(again.text) == code
    generic = create_wave(client, study["id"], "generic")
    first = code_on(run_flow(client, generic, "Jean.Dupont").text)
    other = code_on(run_flow(client, generic, "jean.dupont").text)
    assert first != other  # an unknown platform: its IDs may depend on case
    body = {"platform": "mturk", "worker_id": "  a1b2c3d4e5 "}
    mine = client.post("/api/workers/export", json=body, headers=AUTH).json()
    assert len(mine["responses"]) == 1


def test_a_typed_id_with_control_characters_is_asked_again(sqlite_client):
    client = sqlite_client
    wave = create_wave(client, create_study(client, languages=["en"])["id"], "generic")
    page = client.get(f"/w/{public_id(wave)}", params={"id": "bad\x00id", "typed": "1"})
    assert page.status_code == 422
    assert 'aria-invalid="true"' in page.text and 'aria-describedby="error-id"' in page.text
    assert 'role="alert"' in page.text and "autofocus" in page.text
    assert TEXTS["en"]["err_typed_id"] in page.text.replace("&#39;", "'")


@pytest.mark.parametrize("typed, stored", [("7,5", 7.5), ("7.5", 7.5), (" 12 ", 12.0),
                                            (",5", 0.5), ("100", 100.0)])
def test_hours_accept_a_decimal_comma(sqlite_client, typed, stored):
    client = sqlite_client
    study = create_study(client)
    wave = create_wave(client, study["id"], "generic")
    done = run_flow(client, wave, "w-hours", {**GOOD_ANSWERS, "hours_per_week": typed})
    assert done.status_code == 200
    rows = client.get(f"/api/studies/{study['id']}/responses?format=json", headers=AUTH).json()
    assert rows[0]["hours_per_week"] == stored


@pytest.mark.parametrize("typed", ["1_0", "1e1", "7.25", "101", "-1", "7,5,1", "٣", "7 5",
                                   "1\x000"])
def test_hours_refuse_what_is_not_a_number_of_hours(sqlite_client, typed):
    client = sqlite_client
    wave = create_wave(client, create_study(client)["id"], "generic")
    page = run_flow(client, wave, "w-bad", {**GOOD_ANSWERS, "hours_per_week": typed})
    assert page.status_code == 422
    assert re.search(r'id="hours_per_week"[^>]*aria-invalid="true"[^>]*'
                     r'aria-describedby="error-hours_per_week"', page.text)
    summary = re.search(r'<div class="error-summary" id="errors" role="alert" tabindex="-1" '
                        r'autofocus>(.*?)</div>', page.text, re.S)
    assert summary and 'href="#hours_per_week"' in summary.group(1)
    assert client.get(f"/api/waves/{wave['id']}", headers=AUTH).json()["n_responses"] == 0


def test_a_database_failure_keeps_the_answers_on_the_page(sqlite_client, monkeypatch):
    client = sqlite_client
    wave = create_wave(client, create_study(client)["id"], "clickworker")
    pid = public_id(wave)
    page = client.get(f"/w/{pid}", params={"user_id": "unlucky"})
    token, csrf = hidden(page.text, "token"), hidden(page.text, "csrf_token")
    store = client.app.state.store

    def broken(*_args, **_kwargs):
        from concurrent.futures import Future

        failed: Future = Future()
        failed.set_exception(RuntimeError("disk I/O error"))
        return failed

    monkeypatch.setattr(store, "save_response", broken)
    answers = {**GOOD_ANSWERS, "hours_per_week": "7,5", "frequency": "monthly"}
    sorry = client.post(f"/w/{pid}/submit", data={"token": token, "csrf_token": csrf,
                                                  **answers})
    assert sorry.status_code == 503 and 'lang="fr"' in sorry.text
    assert TEXTS["fr"]["err_unavailable"].replace("'", "&#39;") in sorry.text
    assert 'value="7,5"' in sorry.text and re.search(r'value="monthly"[^>]*checked', sorry.text)
    assert "disk" not in sorry.text and "RuntimeError" not in sorry.text
    monkeypatch.undo()
    retry = client.post(f"/w/{pid}/submit", data={"token": hidden(sorry.text, "token"),
                                                  "csrf_token": csrf, **answers})
    assert retry.status_code == 200 and code_on(retry.text)


def test_an_unexpected_error_is_a_page_in_the_workers_language(sqlite_client, monkeypatch):
    client = sqlite_client
    wave = create_wave(client, create_study(client)["id"], "clickworker")

    def boom(*_args, **_kwargs):
        raise RuntimeError("no such column: secret_internal_detail")

    monkeypatch.setattr(client.app.state.store, "existing_code", boom)
    page = client.get(f"/w/{public_id(wave)}", params={"user_id": "u"})
    assert page.status_code == 500
    _is_page_for_workers(page, "fr", "err_server")
    assert "secret_internal_detail" not in page.text
    assert "diplab@example.org" in page.text  # whom to write to


def test_the_completion_and_declined_pages_switch_language_too(sqlite_client):
    client = sqlite_client
    wave = create_wave(client, create_study(client)["id"], "mturk")
    pid = public_id(wave)
    done = run_flow(client, wave, "A9SWITCH")
    code = code_on(done.text)
    assert 'lang="fr"' in done.text and 'name="page" value="done"' in done.text
    english = client.post(f"/w/{pid}/language", data={
        "token": hidden(done.text, "token"), "csrf_token": hidden(done.text, "csrf_token"),
        "page": "done", "to": "en"})
    assert 'lang="en"' in english.text and code_on(english.text) == code
    assert 'action="https://workersandbox.mturk.com/mturk/externalSubmit"' in english.text
    assert "A9SWITCH" not in english.text.replace("ASGA9SWITCH", "")  # only the assignment
    page = client.get(f"/w/{pid}", params=landing_params("mturk", "A9OTHER"))
    declined = client.post(f"/w/{pid}/consent", data={
        "token": hidden(page.text, "token"), "csrf_token": hidden(page.text, "csrf_token"),
        "consent": "no"})
    assert _message(declined.text) == TEXTS["fr"]["declined"]
    back = client.post(f"/w/{pid}/language", data={
        "token": hidden(declined.text, "token"), "csrf_token": hidden(page.text, "csrf_token"),
        "page": "declined", "to": "en"})
    assert _message(back.text) == TEXTS["en"]["declined"]
    preview = client.get(f"/w/{pid}", params={"assignmentId": "ASSIGNMENT_ID_NOT_AVAILABLE",
                                              "hitId": "H1"})
    link = re.search(r'href="([^"]+)" hreflang="en"', preview.text).group(1)
    assert "ASSIGNMENT_ID_NOT_AVAILABLE" in link and "workerId" not in link
    assert _message(client.get(link.replace("&amp;", "&")).text) == TEXTS["en"]["preview"]
