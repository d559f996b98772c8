"""`crowdcensus export` output is read by `crowdcensus estimate closed` as it is."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from crowdcensus.cli import main
from crowdcensus.collect.app import create_app
from crowdcensus.collect.database import make_engine, upgrade

from .helpers import AUTH, SECRET, create_study, create_wave, make_settings, run_flow


def _cli(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_exported_histories_feed_estimate_closed(tmp_path, capsys, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(make_engine(url))
    app = create_app(make_settings(url))
    truth = np.random.default_rng(3).random((40, 4)) < 0.4
    with TestClient(app, raise_server_exceptions=False) as client:
        study = create_study(client)
        waves = [create_wave(client, study["id"], "prolific", label=f"p{k + 1}")
                 for k in range(4)]
        create_wave(client, study["id"], "mturk", label="m1")
        for person, row in enumerate(truth):
            for k in np.flatnonzero(row):
                run_flow(client, waves[k], f"PID{person:04d}")
    app.state.store.close()
    monkeypatch.setenv("CROWDCENSUS_SECRET", SECRET.decode())
    out = tmp_path / "prolific.csv"
    code, msg, _ = _cli(["export", str(study["id"]), "--platform", "prolific", "--db", url,
                         "--out", str(out)], capsys)
    assert code == 0 and "wrote" in msg
    assert out.read_text().splitlines()[0] == "p1,p2,p3,p4,freq"
    code, msg, err = _cli(["estimate", "closed", str(out), "--format", "json", "--model", "M0"],
                          capsys)
    assert code == 0, err
    result = json.loads(msg)
    assert result["n_captured"] == int(truth.any(axis=1).sum())
    assert result["models"][0]["abundance"] >= result["n_captured"]

    code, _, err = _cli(["export", str(study["id"]), "--db", url, "--out",
                         str(tmp_path / "x.xlsx")], capsys)
    assert code == 2 and "--out" in err
    code, _, err = _cli(["export", "99", "--db", url, "--out", str(out)], capsys)
    assert code == 2 and "no study 99" in err


def test_the_schedule_export_gives_the_study_file_the_waves_days_and_platforms(
        tmp_path, capsys, monkeypatch):
    """`--kind schedule` writes `[experiment.schedule]` from the service's waves: a wave
    with no times is dated by its answers, each wave's length gives its `wave_days` (in
    whole days, rounded up), the days count from the reference period's start (by
    default 364 days before the last wave ends), `--platform` keeps one platform's waves
    as the responses export does, and the study file reads the result as it is. Waves on
    two platforms at once (which overlap), labels that sort in another order than the
    waves ran, a period the waves do not fit in, and a wave with neither times nor
    answers stop in one line."""
    import tomllib
    from datetime import UTC, datetime

    import pandas as pd

    from crowdcensus.study import Schedule

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(make_engine(url))
    app = create_app(make_settings(url))
    with TestClient(app, raise_server_exceptions=False) as client:
        study = create_study(client)
        sid = study["id"]
        create_wave(client, sid, "prolific", label="w1", opens_at="2025-03-03T09:00:00Z",
                    closes_at="2025-03-10T21:00:00Z")
        create_wave(client, sid, "mturk", label="m1", opens_at="2025-03-04T09:00:00Z",
                    closes_at="2025-03-10T21:00:00Z")
        create_wave(client, sid, "prolific", label="w2", opens_at="2025-03-31T09:00:00Z",
                    closes_at="2025-04-07T09:00:00Z")
        w3 = create_wave(client, sid, "prolific", label="w10")   # open now, no times
        for person in range(3):
            run_flow(client, w3, f"PID{person:04d}")
        other = create_study(client)
        create_wave(client, other["id"], "prolific", label="w2",
                    opens_at="2025-03-03T09:00:00Z", closes_at="2025-03-10T09:00:00Z")
        create_wave(client, other["id"], "prolific", label="w1",
                    opens_at="2025-03-31T09:00:00Z", closes_at="2025-04-07T09:00:00Z")
        lone = create_study(client)
        create_wave(client, lone["id"], "prolific", label="w1")
        # the same through the API, for a service on another machine
        api = f"/api/studies/{sid}/schedule"
        by_api = client.get(api, headers=AUTH, params={
            "platform": "prolific", "reference_start": "2025-01-01", "reference_days": 730})
        assert by_api.status_code == 200 and "toml" in by_api.headers["content-type"]
        both = client.get(api, headers=AUTH)
        assert both.status_code == 409 and "ran at the same time" in both.json()["error"]
        assert client.get(api, headers=AUTH,
                          params={"reference_start": "01/01/2025"}).status_code == 422
        assert client.get(api).status_code in (401, 403)
    app.state.store.close()
    monkeypatch.setenv("CROWDCENSUS_SECRET", SECRET.decode())
    answers = tmp_path / "answers.csv"
    assert _cli(["export", str(sid), "--kind", "responses", "--db", url, "--out",
                 str(answers)], capsys)[0] == 0
    times = pd.to_datetime(pd.read_csv(answers)["submitted_at"], utc=True)
    out = tmp_path / "schedule.toml"
    period = ["--reference-start", "2025-01-01", "--reference-days", "730"]
    code, _, err = _cli(["export", str(sid), "--kind", "schedule", "--db", url, *period,
                         "--out", str(out)], capsys)
    assert code == 2 and "waves w1 and m1 ran at the same time" in err and "occasion" in err
    code, msg, err = _cli(["export", str(sid), "--kind", "schedule", "--db", url, *period,
                           "--platform", "prolific", "--out", str(out)], capsys)
    assert code == 0 and "schedule" in msg, err
    text = out.read_text()
    assert by_api.text == text
    assert "730 days from 2025-01-01 to 2027-01-01" in text
    assert "in the order crowdcensus run reads them: w1, w2, w10." in text
    schedule = Schedule.model_validate(tomllib.loads(text)["experiment"]["schedule"])
    start, day = pd.Timestamp("2025-01-01", tz="UTC"), pd.Timedelta(days=1)
    # each wave's own days, rounded up: 7.5, 7, and the seconds between w10's answers
    assert schedule.reference_days == 730 and schedule.wave_days == [8, 7, 1]
    assert schedule.reference_start == start.date()
    assert schedule.wave_starts == [
        round((t - start) / day, 1) for t in (pd.Timestamp("2025-03-03T09:00", tz="UTC"),
                                              pd.Timestamp("2025-03-31T09:00", tz="UTC"),
                                              times.min())]
    assert schedule.posted == [["prolific"], ["prolific"], ["prolific"]]
    # by default the period is the 364 days before the last wave's end (its last answer):
    # the waves of March 2025 fall outside it once that is a year later
    if datetime.now(UTC) > datetime(2026, 3, 10, tzinfo=UTC):
        code, _, err = _cli(["export", str(sid), "--kind", "schedule", "--db", url,
                             "--platform", "prolific", "--out", str(out)], capsys)
        assert code == 2 and "do not fit in the 364 days from" in err, err
    for study_id, words in [(other["id"], "labels sort as w1, w2 but they ran as w2, w1"),
                            (lone["id"], "wave w1: the service holds no opening or closing "
                                         "time and no answer")]:
        code, _, err = _cli(["export", str(study_id), "--kind", "schedule", "--db", url,
                             "--out", str(out)], capsys)
        assert code == 2 and words in err, err
    code, _, err = _cli(["export", str(sid), "--kind", "schedule", "--db", url,
                         "--out", str(tmp_path / "s.csv")], capsys)
    assert code == 2 and "written as a .toml file" in err


def test_waves_posted_at_once_on_two_platforms_export_as_one_occasion(tmp_path, capsys,
                                                                       monkeypatch):
    """Two waves given one occasion (on Prolific and Mechanical Turk) are one wave of the
    responses export, one column of the histories and one wave of the schedule, posted on
    both; a second wave of an occasion on the same platform is refused (409) and stores
    nothing. A worker's answers on the two platforms stay two pseudonyms (the service
    cannot link them)."""
    import tomllib
    from datetime import UTC, datetime

    import pandas as pd

    from crowdcensus.study import Schedule

    from .helpers import FakeClock

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(make_engine(url))
    clock = FakeClock(datetime(2025, 3, 1, tzinfo=UTC))
    app = create_app(make_settings(url), clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        sid = create_study(client)["id"]
        times = {"first": ("2025-03-03T09:00:00Z", "2025-03-10T09:00:00Z"),
                 "second": ("2025-03-31T09:00:00Z", "2025-04-07T09:00:00Z")}
        made = {}
        for occasion, (opens, closes) in times.items():
            for platform in ("prolific", "mturk"):
                made[occasion, platform] = create_wave(
                    client, sid, platform, label=f"{occasion}_{platform}", occasion=occasion,
                    opens_at=opens, closes_at=closes)
        assert made["first", "mturk"]["occasion"] == "first"
        plain = create_wave(client, sid, "prolific", label="third")
        assert plain["occasion"] == "third"
        refused = client.post(f"/api/studies/{sid}/waves", headers=AUTH, json={
            "platform": "prolific", "label": "again", "occasion": "first"})
        assert refused.status_code == 409
        assert "occasion 'first' already has a wave on prolific" in refused.json()["error"]
        # a label that names another wave's occasion on the same platform: the same clash
        assert client.post(f"/api/studies/{sid}/waves", headers=AUTH, json={
            "platform": "mturk", "label": "second"}).status_code == 409
        assert len(client.get(f"/api/studies/{sid}", headers=AUTH).json()["waves"]) == 5
        # the same person answers the first occasion on both platforms, the second on one
        clock.set(datetime(2025, 3, 5, tzinfo=UTC))
        for platform in ("prolific", "mturk"):
            assert run_flow(client, made["first", platform], "SAMEPERSON01").status_code \
                in (200, 303)
        clock.set(datetime(2025, 4, 2, tzinfo=UTC))
        run_flow(client, made["second", "prolific"], "SAMEPERSON01")
        run_flow(client, made["second", "mturk"], "OTHERWORKER2")
        clock.set(datetime(2025, 4, 20, tzinfo=UTC))
        run_flow(client, plain, "LATECOMER003")
        # Prolific's submissions export is checked against the occasion's Prolific wave
        upload = ("Submission id,Participant id,Status\nS1,SAMEPERSON01,AWAITING REVIEW\n"
                  "S2,OTHERWORKER2,AWAITING REVIEW\n")
        got = client.post(f"/api/studies/{sid}/prolific", headers=AUTH, params={
            "wave": "second"}, files={"file": ("e.csv", upload.encode(), "text/csv")})
        assert got.status_code == 200, got.text
        assert [r["status"] for r in got.json()["submissions"]] == ["completed", "not found"]
    app.state.store.close()
    monkeypatch.setenv("CROWDCENSUS_SECRET", SECRET.decode())
    answers = tmp_path / "answers.csv"
    assert _cli(["export", str(sid), "--kind", "responses", "--db", url, "--out",
                 str(answers)], capsys)[0] == 0
    frame = pd.read_csv(answers)
    assert sorted(frame["wave"]) == ["first", "first", "second", "second", "third"]
    by_platform = frame.groupby("platform")["worker_hash"].agg(set)
    assert len(by_platform["prolific"]) == 2 and not by_platform["prolific"] & by_platform["mturk"]
    histories = tmp_path / "histories.csv"
    assert _cli(["export", str(sid), "--db", url, "--out", str(histories)], capsys)[0] == 0
    table = pd.read_csv(histories)
    assert list(table.columns) == ["first", "second", "third", "freq"]
    # four pseudonyms: the person's on Prolific answered twice, on Mechanical Turk once
    assert sorted(table.itertuples(index=False, name=None)) == [
        (0, 0, 1, 1), (0, 1, 0, 1), (1, 0, 0, 1), (1, 1, 0, 1)]
    out = tmp_path / "schedule.toml"
    code, _, err = _cli(["export", str(sid), "--kind", "schedule", "--db", url,
                         "--reference-start", "2025-01-01", "--out", str(out)], capsys)
    assert code == 0, err
    schedule = Schedule.model_validate(tomllib.loads(out.read_text())["experiment"]["schedule"])
    assert schedule.posted == [["mturk", "prolific"], ["mturk", "prolific"], ["prolific"]]
    # the occasions' own days; the third, with no times, from its one answer: a day
    assert schedule.wave_starts == [61.4, 89.4, 109.0] and schedule.wave_days == [7, 7, 1]


def test_the_admin_form_takes_an_occasion(tmp_path):
    """The study page's wave form sets the occasion, shows it, and refuses a second wave of
    one occasion on one platform with the reason (409), creating nothing; the recurring
    waves' form sets their occasions' prefix."""
    from .helpers import hidden

    url = f"sqlite:///{tmp_path / 'admin.db'}"
    upgrade(make_engine(url))
    app = create_app(make_settings(url))
    with TestClient(app, raise_server_exceptions=False) as client:
        sid = create_study(client)["id"]
        login = client.get("/admin")
        client.post("/admin/login", data={"token": "admin-token-for-tests",
                                          "csrf_token": hidden(login.text, "csrf_token")})
        csrf = hidden(client.get("/admin").text, "csrf_token")
        form = {"csrf_token": csrf, "platform": "mturk", "label": "w1_mturk", "occasion": "w1"}
        page = client.post(f"/admin/studies/{sid}/waves", data=form, follow_redirects=True)
        assert page.status_code == 200 and "w1_mturk — mturk, occasion w1" in page.text
        again = client.post(f"/admin/studies/{sid}/waves",
                            data={**form, "label": "w1_again"}, follow_redirects=True)
        assert again.status_code == 409
        assert "occasion &#39;w1&#39; already has a wave on mturk" in again.text
        waves = client.get(f"/api/studies/{sid}", headers=AUTH).json()["waves"]
        assert [(w["label"], w["occasion"]) for w in waves] == [("w1_mturk", "w1")]
        # and the recurring waves' form, their occasions' prefix
        page = client.post(f"/admin/studies/{sid}/schedules", follow_redirects=True, data={
            "csrf_token": csrf, "platform": "prolific", "label_prefix": "pro",
            "occasion_prefix": "m", "every_days": "30", "first_opens_at": "2027-02-01T09:00",
            "until": "2027-03-15T00:00"})
        assert page.status_code == 200 and "proNN (occasions mNN) every 30 days" in page.text
        waves = client.get(f"/api/studies/{sid}", headers=AUTH).json()["waves"]
        assert [w["occasion"] for w in waves if w["platform"] == "prolific"] == ["m01", "m02"]
    app.state.store.close()


def test_the_schedule_export_gives_each_wave_its_own_length(tmp_path):
    """Waves that stayed up for different lengths export one length per wave, each
    rounded up to whole days; a wave that follows the previous one within that rounding
    stops in one line, as waves that overlap do."""
    import tomllib

    url = f"sqlite:///{tmp_path / 'lengths.db'}"
    upgrade(make_engine(url))
    app = create_app(make_settings(url))
    with TestClient(app, raise_server_exceptions=False) as client:
        sid = create_study(client)["id"]
        # 6 days 3 hours (7 whole days), then 2 days 21 hours (3), then a week (7)
        for label, opens, closes in (("w1", "2025-03-03T09:00", "2025-03-09T12:00"),
                                     ("w2", "2025-03-10T12:00", "2025-03-13T09:00"),
                                     ("w3", "2025-03-17T09:00", "2025-03-24T09:00")):
            create_wave(client, sid, "prolific", label=label, opens_at=opens + ":00Z",
                        closes_at=closes + ":00Z")
        tight = create_study(client)["id"]
        for label, opens, closes in (("w1", "2025-03-03T09:00", "2025-03-09T12:00"),
                                     ("w2", "2025-03-09T18:00", "2025-03-12T09:00")):
            create_wave(client, tight, "prolific", label=label, opens_at=opens + ":00Z",
                        closes_at=closes + ":00Z")
        params = {"reference_start": "2025-01-01"}
        got = client.get(f"/api/studies/{sid}/schedule", headers=AUTH, params=params)
        assert got.status_code == 200, got.text
        schedule = tomllib.loads(got.text)["experiment"]["schedule"]
        assert schedule["wave_days"] == [7, 3, 7]
        assert schedule["wave_starts"] == [61.4, 68.5, 75.4]
        refused = client.get(f"/api/studies/{tight}/schedule", headers=AUTH, params=params)
        assert refused.status_code == 409
        assert ("waves w1 and w2 overlap once the first's length is rounded up to whole "
                "days (7)") in refused.json()["error"]
    app.state.store.close()
