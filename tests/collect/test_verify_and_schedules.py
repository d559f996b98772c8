"""Prolific bulk verification, and recurring waves."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from crowdcensus.collect.app import create_app
from crowdcensus.collect.database import make_engine, upgrade

from .helpers import (
    AUTH,
    FakeClock,
    create_study,
    create_wave,
    hidden,
    make_settings,
    public_id,
    run_flow,
)

pytestmark = pytest.mark.xdist_group("collect-db")

# Prolific's export names its columns like this (only two matter here).
EXPORT_HEAD = "Submission id,Participant id,Status,Started at,Completed at,Time taken\n"


def _export(rows: list[tuple[str, str]]) -> bytes:
    body = "".join(f"{s},{p},AWAITING REVIEW,2027-01-05T10:00:00Z,,120\n" for s, p in rows)
    return (EXPORT_HEAD + body).encode()


def test_prolific_export_is_checked_per_submission(db_url):
    app = create_app(make_settings(db_url))
    with TestClient(app, raise_server_exceptions=False) as client:
        study = create_study(client)
        sid = study["id"]
        wave = create_wave(client, sid, "prolific", label="pro1")
        for pid in ("5f0000000000000000000001", "5f0000000000000000000002"):
            assert run_flow(client, wave, pid).status_code == 303
        upload = _export([("S1", "5f0000000000000000000001"),
                          ("S2", "5F0000000000000000000002"),  # case does not matter
                          ("S3", "5f0000000000000000000099"),  # never answered
                          ("S4", "5f0000000000000000000001"),  # a second submission
                          ("S5", "not an id!")])
        rows_before = client.get(f"/api/studies/{sid}/responses?format=json",
                                 headers=AUTH).json()
        got = client.post(f"/api/studies/{sid}/prolific", headers=AUTH,
                          files={"file": ("export.csv", upload, "text/csv")})
        assert got.status_code == 200, got.text
        result = got.json()
        assert [r["status"] for r in result["submissions"]] == \
            ["completed", "completed", "not found", "duplicate", "not found"]
        assert [r["submission_id"] for r in result["submissions"]] == ["S1", "S2", "S3", "S4",
                                                                       "S5"]
        assert result["counts"] == {"completed": 2, "duplicate": 1, "not found": 2}
        assert got.headers["cache-control"] == "no-store"
        # the raw body works too, and CSV out
        as_csv = client.post(f"/api/studies/{sid}/prolific?format=csv", headers={
            **AUTH, "content-type": "text/csv"}, content=upload)
        frame = pd.read_csv(io.StringIO(as_csv.text))
        assert list(frame["status"]) == ["completed", "completed", "not found", "duplicate",
                                         "not found"]
        # nothing stored
        assert client.get(f"/api/studies/{sid}/responses?format=json",
                          headers=AUTH).json() == rows_before
        # a second Prolific wave: the export must say which one it is
        create_wave(client, sid, "prolific", label="pro2")
        ambiguous = client.post(f"/api/studies/{sid}/prolific", headers=AUTH,
                                files={"file": ("e.csv", upload, "text/csv")})
        assert ambiguous.status_code == 422 and "pro1, pro2" in ambiguous.json()["error"]
        second = client.post(f"/api/studies/{sid}/prolific?wave=pro2", headers=AUTH,
                             files={"file": ("e.csv", upload, "text/csv")}).json()
        assert second["counts"] == {"completed": 0, "duplicate": 0, "not found": 5}
        missing = client.post(f"/api/studies/{sid}/prolific?wave=nope", headers=AUTH,
                              files={"file": ("e.csv", upload, "text/csv")})
        assert missing.status_code == 404
        for bad, words in ((b"a,b\n1,2\n", "participant ID column"),
                           (b"\xff\xfe\x00garbage", "UTF-8"), (b"", "empty")):
            refused = client.post(f"/api/studies/{sid}/prolific?wave=pro1", headers=AUTH,
                                  files={"file": ("x.csv", bad, "text/csv")})
            assert refused.status_code == 422 and words in refused.json()["error"]
        assert client.post(f"/api/studies/{sid}/prolific", files={
            "file": ("e.csv", upload, "text/csv")}).status_code == 401
    app.state.engine.dispose()


def test_prolific_check_from_the_admin_page_and_a_large_export(tmp_path):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    upgrade(make_engine(url))
    app = create_app(make_settings(url, max_body_bytes=4096))
    with TestClient(app, raise_server_exceptions=False) as client:
        sid = create_study(client)["id"]
        wave = create_wave(client, sid, "prolific")
        run_flow(client, wave, "5f00000000000000000000aa")
        page = client.get("/admin")
        client.post("/admin/login", data={"token": "admin-token-for-tests",
                                          "csrf_token": hidden(page.text, "csrf_token")})
        study_page = client.get(f"/admin/studies/{sid}")
        assert 'enctype="multipart/form-data"' in study_page.text
        # 3,000 submissions: far above the 4 KiB body limit of forms, within --max-upload
        rows = [("S0", "5f00000000000000000000aa")] + [
            (f"S{i}", f"{i:024x}") for i in range(1, 3000)]
        data = _export(rows)
        assert len(data) > 100_000
        shown = client.post(f"/admin/studies/{sid}/prolific",
                            data={"csrf_token": hidden(study_page.text, "csrf_token")},
                            files={"file": ("export.csv", data, "text/csv")})
        assert shown.status_code == 200
        assert "<strong>1</strong> completed" in shown.text and "2999 not found" in shown.text
        elsewhere = client.post(f"/api/studies/{sid}/responses", content=data)
        assert elsewhere.status_code == 413  # the larger limit is for that route only


def test_a_schedule_makes_a_wave_every_n_days_until_a_date(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    upgrade(make_engine(url))
    start = datetime(2027, 2, 1, 9, 0, tzinfo=UTC)
    clock = FakeClock(start - timedelta(hours=1))
    app = create_app(make_settings(url), clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        sid = create_study(client)["id"]
        body = {"platform": "mturk", "label_prefix": "mt", "every_days": 14,
                "first_opens_at": "2027-02-01T10:00:00+01:00",
                "until": "2027-04-01T00:00:00Z", "reward_cents": 60,
                "target_responses": 300}
        made = client.post(f"/api/studies/{sid}/schedules", headers=AUTH, json=body)
        assert made.status_code == 201, made.text
        waves = made.json()["waves"]
        opens = [datetime.fromisoformat(w["opens_at"]) for w in waves]
        # Feb 1, 15, Mar 1, 15, 29 (Apr 12 is past the end date)
        assert opens == [start + timedelta(days=14 * k) for k in range(5)]
        assert [datetime.fromisoformat(w["closes_at"]) - o for w, o in zip(waves, opens,
                                                                          strict=True)] == \
            [timedelta(days=7)] * 5
        assert [w["label"] for w in waves] == ["mt01", "mt02", "mt03", "mt04", "mt05"]
        assert {w["reward_cents"] for w in waves} == {60}
        assert {w["schedule_id"] for w in waves} == {made.json()["id"]}
        study = client.get(f"/api/studies/{sid}", headers=AUTH).json()
        assert study["schedules"][0]["every_days"] == 14 and len(study["waves"]) == 5
        # before a wave opens its link says so; once open it takes answers
        early = client.get(f"/w/{public_id(waves[0])}", params={
            "workerId": "A1", "assignmentId": "B", "hitId": "C",
            "turkSubmitTo": "https://www.mturk.com"})
        assert early.status_code == 403
        clock.advance(hours=2)
        assert run_flow(client, waves[0], "A1").status_code == 200
        # histories count only the waves open so far
        clock.advance(days=15)
        assert run_flow(client, waves[1], "A1").status_code == 200
        hist = client.get(f"/api/studies/{sid}/histories", headers=AUTH)
        assert hist.text.splitlines()[0] == "mt01,mt02,freq"
        # bad schedules: one line, nothing created
        for change, words in (({"every_days": 0}, "every_days"),
                              ({"until": "2026-01-01T00:00:00Z"}, "until"),
                              ({"duration_days": 20}, "duration_days"),
                              ({"every_days": 1, "until": "2028-12-01T00:00:00Z"}, "at most"),
                              ({"label_prefix": "mt"}, "already taken"),
                              ({"first_opens_at": "2027-02-01T10:00:00"}, "timezone"),
                              # these overflowed Python's dates into a 500
                              ({"first_opens_at": "9999-12-01T00:00:00Z",
                                "until": "9999-12-31T00:00:00Z"}, "between the years"),
                              ({"first_opens_at": "0001-01-01T00:00:00+14:00"},
                               "between the years")):
            bad = client.post(f"/api/studies/{sid}/schedules", headers=AUTH,
                              json={**body, **change})
            assert bad.status_code in (409, 422) and words in bad.json()["error"], change
        assert len(client.get(f"/api/studies/{sid}", headers=AUTH).json()["waves"]) == 5


def test_admin_form_schedules_waves_with_a_decimal_comma(tmp_path):
    url = f"sqlite:///{tmp_path / 'sf.db'}"
    upgrade(make_engine(url))
    with TestClient(create_app(make_settings(url)), raise_server_exceptions=False) as client:
        sid = create_study(client)["id"]
        page = client.get("/admin")
        client.post("/admin/login", data={"token": "admin-token-for-tests",
                                          "csrf_token": hidden(page.text, "csrf_token")})
        csrf = hidden(client.get(f"/admin/studies/{sid}").text, "csrf_token")
        form = {"csrf_token": csrf, "platform": "clickworker", "label_prefix": "cw",
                "every_days": "30", "duration_days": "3,5", "first_opens_at": "2027-03-01T08:00",
                "until": "2027-06-01T08:00", "target_responses": "1 000"}
        bad = client.post(f"/admin/studies/{sid}/schedules", data=form)
        assert bad.status_code == 422 and "target_responses" in bad.text
        assert 'role="alert"' in bad.text
        ok = client.post(f"/admin/studies/{sid}/schedules",
                         data={**form, "target_responses": "1000"}, follow_redirects=False)
        assert ok.status_code == 303
        waves = client.get(f"/api/studies/{sid}", headers=AUTH).json()["waves"]
        assert [w["label"] for w in waves] == ["cw01", "cw02", "cw03", "cw04"]
        first = waves[0]
        assert (datetime.fromisoformat(first["closes_at"])
                - datetime.fromisoformat(first["opens_at"])) == timedelta(days=3.5)
        # a time typed with its offset keeps it (it was stored as that hour in UTC)
        ok = client.post(f"/admin/studies/{sid}/schedules",
                         data={**form, "target_responses": "1000", "label_prefix": "tz",
                               "platform": "mturk", "first_opens_at": "2027-03-01T08:00+05:00"},
                         follow_redirects=False)
        assert ok.status_code == 303
        tz = [w for w in client.get(f"/api/studies/{sid}", headers=AUTH).json()["waves"]
              if w["label"] == "tz01"][0]
        assert datetime.fromisoformat(tz["opens_at"]) == datetime(2027, 3, 1, 3, tzinfo=UTC)
        far = client.post(f"/admin/studies/{sid}/schedules",
                          data={**form, "target_responses": "1000", "label_prefix": "far",
                                "first_opens_at": "9999-12-01T08:00",
                                "until": "9999-12-31T08:00"})
        assert far.status_code == 422 and "between the years" in far.text


def test_two_platforms_schedules_of_the_same_days_share_their_occasions(tmp_path):
    """Schedules on Prolific and Mechanical Turk with one occasion prefix: each date is one
    occasion with a wave on each platform, in the schedule export and the histories; a
    third schedule of those occasions on a platform that has them already is refused
    (409) and creates nothing."""
    import tomllib

    url = f"sqlite:///{tmp_path / 's.db'}"
    upgrade(make_engine(url))
    clock = FakeClock(datetime(2027, 2, 1, 8, 0, tzinfo=UTC))
    app = create_app(make_settings(url), clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        sid = create_study(client)["id"]
        common = {"occasion_prefix": "m", "every_days": 30, "duration_days": 5,
                  "first_opens_at": "2027-02-01T09:00:00Z", "until": "2027-04-15T00:00:00Z"}
        made = {}
        for platform, prefix in (("prolific", "pro"), ("mturk", "mt")):
            r = client.post(f"/api/studies/{sid}/schedules", headers=AUTH,
                            json={"platform": platform, "label_prefix": prefix, **common})
            assert r.status_code == 201, r.text
            assert r.json()["occasion_prefix"] == "m"
            made[platform] = r.json()["waves"]
        assert [w["occasion"] for w in made["mturk"]] == ["m01", "m02", "m03"]
        assert [w["label"] for w in made["prolific"]] == ["pro01", "pro02", "pro03"]
        again = client.post(f"/api/studies/{sid}/schedules", headers=AUTH,
                            json={"platform": "mturk", "label_prefix": "mtb", **common})
        assert again.status_code == 409
        assert "occasion 'm01' already has a wave on mturk" in again.json()["error"]
        study = client.get(f"/api/studies/{sid}", headers=AUTH).json()
        assert len(study["waves"]) == 6 and len(study["schedules"]) == 2
        # one person per platform answers the first two dates
        for k in range(2):
            clock.set(datetime(2027, 2, 2, tzinfo=UTC) + timedelta(days=30 * k))
            for platform, person in (("prolific", "P" * 24), ("mturk", "A2")):
                assert run_flow(client, made[platform][k], person).status_code in (200, 303)
        hist = client.get(f"/api/studies/{sid}/histories", headers=AUTH).text.splitlines()
        assert hist[0] == "m01,m02,freq" and sorted(hist[1:]) == ["1,1,2"]
        toml = client.get(f"/api/studies/{sid}/schedule", headers=AUTH,
                          params={"reference_start": "2027-01-01"})
        assert toml.status_code == 200, toml.text
        schedule = tomllib.loads(toml.text)["experiment"]["schedule"]
        assert schedule["posted"] == [["mturk", "prolific"]] * 3
        assert schedule["wave_starts"] == [31.4, 61.4, 91.4] and schedule["wave_days"] == 5


def test_waves_without_a_label_take_the_next_free_number(tmp_path):
    # "wave02" given by hand to the first wave made every later wave without a label a
    # 409 ("already has a wave labelled None"), for good
    url = f"sqlite:///{tmp_path / 'l.db'}"
    upgrade(make_engine(url))
    with TestClient(create_app(make_settings(url)), raise_server_exceptions=False) as client:
        sid = create_study(client)["id"]
        create_wave(client, sid, "mturk", label="wave02")
        made = [create_wave(client, sid, "mturk")["label"] for _ in range(2)]
        assert made == ["wave03", "wave04"]
        labels = [w["label"] for w in client.get(f"/api/studies/{sid}", headers=AUTH).json()
                  ["waves"]]
        assert sorted(labels) == ["wave02", "wave03", "wave04"]
