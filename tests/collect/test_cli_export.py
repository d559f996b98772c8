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
    with no times is dated by its answers, the longest wave sets `wave_days` (in whole
    days), the days count from the reference period's start (by default 364 days before
    the last wave ends), `--platform` keeps one platform's waves as the responses export
    does, and the study file reads the result as it is. Waves on two platforms at once
    (which overlap), labels that sort in another order than the waves ran, a period the
    waves do not fit in, and a wave with neither times nor answers stop in one line."""
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
    assert code == 2 and "waves w1 and m1 ran at the same time" in err and "--platform" in err
    code, msg, err = _cli(["export", str(sid), "--kind", "schedule", "--db", url, *period,
                           "--platform", "prolific", "--out", str(out)], capsys)
    assert code == 0 and "schedule" in msg, err
    text = out.read_text()
    assert by_api.text == text
    assert "730 days from 2025-01-01 to 2027-01-01" in text
    assert "in the order crowdcensus run reads them: w1, w2, w10." in text
    schedule = Schedule.model_validate(tomllib.loads(text)["experiment"]["schedule"])
    start, day = pd.Timestamp("2025-01-01", tz="UTC"), pd.Timedelta(days=1)
    assert schedule.reference_days == 730 and schedule.wave_days == 8   # 7.5 days, up
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
