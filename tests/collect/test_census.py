"""The live census: a simulated country through the service over several waves.

Workers of a synthetic country (a closed population on Clickworker, a
population with arrivals and departures on Prolific) answer recurring waves
through the real application (its worker pages, its database, its census
helper process). The clock is injected: each wave is answered while it is
open, then the clock moves past its closing and the scheduler queues the
census. At every step the test checks the census against the truth it
simulated (responses, recaptures, pairs of waves, frequencies) and checks
that its estimates are exactly what ``crowdcensus estimate closed`` and
``crowdcensus estimate open`` print for the histories exported by the API.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from crowdcensus.cli import main
from crowdcensus.collect.app import create_app
from crowdcensus.collect.census_runner import CensusRunner
from crowdcensus.collect.database import make_engine, upgrade
from crowdcensus.collect.questionnaire import FREQUENCIES

from .helpers import (
    AUTH,
    GOOD_ANSWERS,
    FakeClock,
    create_study,
    create_wave,
    make_settings,
    poll,
    run_flow,
)

START = datetime(2027, 1, 4, 8, 0, tzinfo=UTC)
EVERY, WAVES, OPEN_DAYS = 30, 4, 7
N_CLICKWORKER, N_PROLIFIC = 200, 300
P_CAPTURE = 0.35


def _cli_json(args: list[str], capsys) -> dict:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    assert exc.value.code == 0, out.err
    return json.loads(out.out)


def _same(a, b, path="") -> None:
    """Equal JSON structures, floats to 1e-9 relative (same numbers, maybe another sum order)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), (path, sorted(a), sorted(b))
        for key in a:
            _same(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float | int):
        assert b == pytest.approx(a, rel=1e-9, abs=1e-9), path
    else:
        assert a == b, (path, a, b)


def _simulate(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Who is caught in which wave: a closed population and an open one."""
    closed = rng.random((N_CLICKWORKER, WAVES)) < P_CAPTURE
    arrive = rng.integers(0, 2, N_PROLIFIC)              # present from wave 1 or 2
    stay = rng.geometric(0.35, N_PROLIFIC)                # for this many waves
    present = np.array([[arrive[i] <= k < arrive[i] + stay[i] for k in range(WAVES)]
                        for i in range(N_PROLIFIC)])
    opened = present & (rng.random((N_PROLIFIC, WAVES)) < P_CAPTURE)
    return {"clickworker": closed, "prolific": opened}


def _answers(rng: np.random.Generator) -> dict:
    return {**GOOD_ANSWERS, "frequency": str(rng.choice(list(FREQUENCIES)))}


@pytest.mark.slow
def test_a_simulated_country_through_the_service_matches_the_cli(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'census.db'}"
    upgrade(make_engine(url))
    clock = FakeClock(START - timedelta(days=1))
    app = create_app(make_settings(url), clock=clock)
    rng = np.random.default_rng(20270104)
    truth = _simulate(rng)
    runner: CensusRunner = app.state.census
    runner.check_every = None  # the test ticks the scheduler itself, on its own clock
    with TestClient(app, raise_server_exceptions=False) as client:
        study = create_study(client)
        sid = study["id"]
        waves: dict[str, list[dict]] = {}
        for platform in truth:
            made = client.post(f"/api/studies/{sid}/schedules", headers=AUTH, json={
                "platform": platform, "label_prefix": platform[:3], "every_days": EVERY,
                "duration_days": OPEN_DAYS, "first_opens_at": START.isoformat(),
                "until": (START + timedelta(days=EVERY * (WAVES - 1) + 3)).isoformat(),
                "target_responses": 1000})
            assert made.status_code == 201, made.text
            waves[platform] = made.json()["waves"]
            assert [w["label"] for w in waves[platform]] == \
                [f"{platform[:3]}0{k}" for k in range(1, WAVES + 1)]
        sent = {p: [{} for _ in range(WAVES)] for p in truth}  # frequency answered per worker
        for k in range(WAVES):
            clock.set(START + timedelta(days=EVERY * k, hours=30))
            for platform, caught in truth.items():
                for person in np.flatnonzero(caught[:, k]):
                    answers = _answers(rng)
                    done = run_flow(client, waves[platform][k], f"{platform}-{person:04d}",
                                    answers)
                    assert done.status_code in (200, 303), done.text
                    sent[platform][k][person] = answers["frequency"]
            # the wave closes, then its late-submission grace ends: the scheduler sees it
            clock.set(START + timedelta(days=EVERY * k + OPEN_DAYS, hours=2, minutes=1))
            assert runner.tick(app.state.engine) == [sid]
            runner.wait(sid, timeout=180)
            state = client.get(f"/api/studies/{sid}/census", headers=AUTH).json()
            census = state["census"]
            assert census is not None and census["as_of"] == clock.now().isoformat()
            assert census["reason"].endswith("final")
            _check_descriptives(census, truth, sent, k)
            for platform in truth:
                _check_estimates(client, census, platform, sid, k, tmp_path, capsys)
            assert runner.tick(app.state.engine) == []  # nothing new closed since
        for name, link in state["plot_urls"].items():
            png = client.get(link, headers=AUTH)
            assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n", name
        assert {"responses", "frequencies", "running", "open-prolific"} <= set(state["plot_urls"])
        page = client.get(f"/admin/studies/{sid}", headers=AUTH)
        assert page.status_code == 200 and 'id="census-prolific"' in page.text
        assert page.text.count('<img class="plot"') == len(state["plot_urls"])
    # the total across platforms: Clickworker's respondents say they are registered on
    # Mechanical Turk and Prolific (half a worker each, Prolific being posted too),
    # Prolific's on Prolific among the posted (one each)
    across = census["across_platforms"]
    weights = {p: part["weight"] for p, part in across["platforms"].items()}
    assert weights == {"clickworker": 0.5, "prolific": 1.0}
    assert across["estimate"] == pytest.approx(
        0.5 * census["platforms"]["clickworker"]["estimate"]["abundance"]
        + census["platforms"]["prolific"]["estimate"]["abundance"])
    assert across["ci_low"] < across["estimate"] < across["ci_high"]
    assert 'id="census-across"' in page.text
    # against the truth: the closed population on Clickworker, the open one on Prolific
    cw = census["platforms"]["clickworker"]["estimate"]
    assert abs(cw["abundance"] / N_CLICKWORKER - 1) < 0.15
    assert cw["ci_low"] < N_CLICKWORKER < cw["ci_high"]
    # every simulated Prolific worker is present in at least one wave, by construction
    caught = int(truth["prolific"].any(axis=1).sum())
    total = census["platforms"]["prolific"]["open"]["total"]["estimate"]
    assert caught <= total and abs(total / N_PROLIFIC - 1) < 0.35


def _check_descriptives(census: dict, truth: dict, sent: dict, k: int) -> None:
    rows = {w["label"]: w for w in census["waves"]}
    for platform, caught in truth.items():
        seen_before = np.zeros(len(caught), dtype=bool)
        for j in range(k + 1):
            row = rows[f"{platform[:3]}0{j + 1}"]
            now = caught[:, j]
            assert row["n_responses"] == int(now.sum())
            assert row["recaptured"] == int((now & seen_before).sum())
            assert row["new"] == int((now & ~seen_before).sum())
            expected = pd.Series(list(sent[platform][j].values())).value_counts()
            assert row["frequencies"] == {c: int(expected.get(c, 0)) for c in FREQUENCIES}
            seen_before |= now
        p = census["platforms"][platform]
        upto = caught[:, : k + 1].astype(int)
        assert p["overlaps"] == (upto.T @ upto).tolist()
        assert p["n_workers"] == int(upto.any(axis=1).sum())


def _check_estimates(client, census: dict, platform: str, sid: int, k: int, tmp_path,
                     capsys) -> None:
    p = census["platforms"][platform]
    if k == 0:  # one wave: counts, no estimate yet
        assert p["closed"] is None and p["estimate"] is None and p["running"] == []
        assert any("second wave" in n for n in p["notes"])
        return
    exported = client.get(f"/api/studies/{sid}/histories", headers=AUTH,
                          params={"platform": platform})
    assert exported.status_code == 200
    path = tmp_path / f"{platform}-{k}.csv"
    path.write_bytes(exported.content)
    assert list(pd.read_csv(io.StringIO(exported.text)).columns) == \
        [f"{platform[:3]}0{j + 1}" for j in range(k + 1)] + ["freq"]
    _same(p["closed"], _cli_json(["estimate", "closed", str(path), "--format", "json"], capsys))
    # the selected model: the lowest AIC among the usable fits of the table
    usable = [m for m in p["closed"]["models"] if (m["status"] == "ok" or m["status"].startswith(
        "boundary")) and None not in (m["abundance"], m["stderr"], m["aic"])]
    chosen = p["estimate"]["model"]
    assert next(m for m in usable if m["model"] == chosen)["aic"] == \
        min(m["aic"] for m in usable)
    one = _cli_json(["estimate", "closed", str(path), "--model", chosen, "--ci",
                     "profile", "--format", "json"], capsys)
    _same(p["estimate"], one["models"][0])
    assert p["running"][-1]["abundance"] == pytest.approx(p["estimate"]["abundance"])
    assert [r["waves"] for r in p["running"]] == list(range(2, k + 2))
    if k + 1 >= 3:  # three waves over 60 days: the open-population model
        _same(p["open"], _cli_json(["estimate", "open", str(path), "--format", "json"], capsys))
        days = p["open_half_life_days"]["estimate"]
        waves_hl = p["open"]["half_life"]["estimate"]
        assert days == pytest.approx(waves_hl * EVERY) if waves_hl else days is None
    else:
        assert p["open"] is None


@pytest.mark.slow
def test_census_is_due_when_a_wave_closes_and_when_its_grace_ends(db_url):
    """The scheduler's rule, with the injected clock, on SQLite and PostgreSQL."""
    clock = FakeClock(START)
    app = create_app(make_settings(db_url, census=True), clock=clock)
    app.state.census.check_every = None  # no background tick racing the test's own
    with TestClient(app, raise_server_exceptions=False) as client:
        sid = create_study(client)["id"]
        create_wave(client, sid, "clickworker", label="a", opens_at=START.isoformat(),
                    closes_at=(START + timedelta(days=7)).isoformat())
        runner = app.state.census
        engine = app.state.engine
        assert runner.due(engine) == []
        clock.advance(days=7)
        assert runner.due(engine) == [(sid, "wave a closed")]
        assert runner.tick(engine) == [sid]
        assert runner.tick(engine) == []  # already on its way
        runner.wait(sid, timeout=120)
        assert runner.due(engine) == []
        clock.advance(hours=2)
        assert runner.due(engine) == [(sid, "wave a final")]
        runner.tick(engine)
        runner.wait(sid, timeout=120)
        clock.advance(days=30)
        assert runner.due(engine) == []
        state = client.get(f"/api/studies/{sid}/census", headers=AUTH).json()
        assert state["census"]["reason"] == "wave a final" and state["computing"] is False
        assert state["census"]["waves"][0]["n_responses"] == 0
    app.state.engine.dispose()


@pytest.mark.slow
def test_census_on_demand_never_blocks_and_needs_the_token(db_url):
    app = create_app(make_settings(db_url))
    with TestClient(app, raise_server_exceptions=False) as client:
        study = create_study(client)
        sid = study["id"]
        wave = create_wave(client, sid, "generic")
        for i in range(5):
            run_flow(client, wave, f"p{i}")
        assert client.get(f"/api/studies/{sid}/census").status_code == 401
        assert client.post(f"/api/studies/{sid}/census").status_code == 401
        assert client.get(f"/api/studies/{sid}/census", headers=AUTH).json()["census"] is None
        queued = client.post(f"/api/studies/{sid}/census", headers=AUTH)
        assert queued.status_code == 202 and queued.json()["queued"] is True
        # while the helper process computes, workers are still served
        assert run_flow(client, wave, "during").status_code == 200
        got = poll(lambda: client.get(f"/api/studies/{sid}/census", headers=AUTH).json()
                   ["census"], timeout=120)
        assert got["waves"][0]["n_responses"] in (5, 6)
        assert got["platforms"]["generic"]["estimate"] is None
        missing = client.get(f"/api/studies/{sid}/census/nothing.png", headers=AUTH)
        assert missing.status_code == 404
        assert client.get("/api/studies/424242/census", headers=AUTH).status_code == 404
    app.state.engine.dispose()


def test_census_can_be_turned_off(tmp_path):
    url = f"sqlite:///{tmp_path / 'off.db'}"
    upgrade(make_engine(url))
    app = create_app(make_settings(url, census=False))
    with TestClient(app, raise_server_exceptions=False) as client:
        sid = create_study(client)["id"]
        off = client.post(f"/api/studies/{sid}/census", headers=AUTH)
        assert off.status_code == 503 and "--no-census" in off.json()["error"]
        assert client.get(f"/api/studies/{sid}/census", headers=AUTH).json()["enabled"] is False


def _two_platforms(registered: dict[str, str], estimate: float = 100.0):
    """Two platforms of 80 workers seen, each estimated at ``estimate`` (profile interval
    90-115), whose respondents say they are registered on ``registered[platform]``."""
    table = pd.DataFrame({"id": [1, 2, 3, 4],
                          "platform": ["mturk", "mturk", "prolific", "prolific"]})
    events = pd.DataFrame([
        {"wave_id": wave, "worker_hash": f"{platform}-{i}", "frequency": "weekly",
         "platforms_registered": registered[platform]}
        for platform, wave in (("mturk", 1), ("prolific", 3)) for i in range(80)])
    one = {"n_workers": 80, "estimate": {"abundance": estimate, "ci_low": 90.0,
                                         "ci_high": 115.0}}
    return {"mturk": dict(one), "prolific": dict(one)}, table, events


def test_the_total_across_platforms_counts_a_worker_once():
    """Each platform's estimate weighted by the mean share of a worker its respondents
    stand for (one over the study's platforms they hold): workers on both platforms are
    one population, workers on one each are two, platforms the task was not posted on
    do not count; the interval holds the estimate, is the same when computed again, and
    is narrower, relative to the total, than one platform's; no total without an
    estimate on every platform, or with one platform."""
    from crowdcensus.collect.census import across_platforms

    both = across_platforms(*_two_platforms({"mturk": "mturk,prolific",
                                             "prolific": "mturk,prolific"}), 0.95)
    assert both["estimate"] == pytest.approx(100.0)
    assert {p["weight"] for p in both["platforms"].values()} == {0.5}
    assert both["ci_low"] < 100 < both["ci_high"]
    assert (both["ci_high"] - both["ci_low"]) / 100 < (115 - 90) / 100
    apart = across_platforms(*_two_platforms({"mturk": "mturk,appen", "prolific": "prolific,"}),
                             0.95)
    assert apart["estimate"] == pytest.approx(200.0)
    assert apart == across_platforms(*_two_platforms({"mturk": "mturk,appen",
                                                      "prolific": "prolific,"}), 0.95)
    platforms, table, events = _two_platforms({"mturk": "mturk", "prolific": "prolific"})
    platforms["prolific"]["estimate"] = None
    assert across_platforms(platforms, table, events, 0.95) is None
    assert across_platforms({"mturk": platforms["mturk"]}, table, events, 0.95) is None
