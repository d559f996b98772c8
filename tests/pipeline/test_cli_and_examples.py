"""`crowdcensus run` and `crowdcensus demo`, and the examples shipped in the package."""

from __future__ import annotations

import contextlib
import filecmp
import io
import json
import re
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowdcensus.cli import main

from .conftest import FRANCE, ROOT


def _cli(*args: str) -> subprocess.CompletedProcess:
    """Run the command line in this process (faster than a subprocess); exit code and output."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def test_module_entry_point():
    proc = subprocess.run([sys.executable, "-m", "crowdcensus", "run", "--help"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "--draws" in proc.stdout


@pytest.mark.slow
def test_run_writes_report_and_is_reproducible(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out, seed in ((a, "9"), (b, "9"), (c, "10")):
        proc = _cli("run", str(FRANCE), "--out", str(out), "--seed", seed, "--draws", "300")
        assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"report: {c / 'report.html'}"
    for name in ("report.html", "results.json", "tiers.csv", "methods.csv", "sensitivity.csv",
                 "assumptions.csv", "draws.csv", "plot-tiers.png", "plot-methods.png",
                 "plot-sensitivity.png"):
        assert (a / name).stat().st_size > 0, name
    assert (a / "draws.csv").read_bytes() == (b / "draws.csv").read_bytes()
    assert (a / "tiers.csv").read_bytes() == (b / "tiers.csv").read_bytes()
    assert (a / "draws.csv").read_bytes() != (c / "draws.csv").read_bytes()
    res = json.loads((a / "results.json").read_text())
    assert res["settings"] == {"seed": 9, "draws": 300, "level": 0.95}
    assert round(res["baseline"]["nested"]["occasional"]["estimate"]) == 266_126
    assert res["joint"]["converged"] and set(res["tiers"]["nested"]) == {
        "occasional", "regular", "very_active"}
    assumptions = pd.read_csv(a / "assumptions.csv").set_index("path")
    assert assumptions.loc["assumptions.multihoming", "status"] == "published"
    assert assumptions.loc["assumptions.multihoming", "citation"].startswith("Le Ludec C.")
    tiers = pd.read_csv(a / "tiers.csv")
    assert list(tiers["tier"]) == ["occasional", "regular", "very_active", "very_active",
                                   "regular_only", "occasional_only"]
    assert (a / "posterior.csv").read_bytes() == (b / "posterior.csv").read_bytes()
    # which priors each tier rests on: every tier, reproducible, in the report
    sens = pd.DataFrame(res["joint"]["prior_sensitivity"])
    assert set(sens["tier"]) == {"occasional", "regular", "very_active"}
    assert (a / "joint_prior_sensitivity.csv").read_bytes() == (
        b / "joint_prior_sensitivity.csv").read_bytes()
    html = (a / "report.html").read_text()
    assert 'id="prior-sensitivity-table"' in html and sens.iloc[1]["assumption"] in html
    assert sens.iloc[0]["parameter"] == "all" and "prior at once" in html
    # the Monte Carlo error of each tier's bounds, in results.json and in the report's
    # line on inference (the largest share of its bound)
    errors = res["joint"]["bound_errors"]
    assert set(errors) == {"occasional", "regular", "very_active"}
    shares = {(t, side): errors[t][key] / res["tiers"]["nested"][t][key]
              for t in errors for side, key in (("lower", "low"), ("upper", "high"))}
    (tier, side), worst = max(shares.items(), key=lambda kv: kv[1])
    assert 0 < worst < 0.5
    assert (f"Monte Carlo error of at most {100 * worst:.1f}% (the "
            f"{tier.replace('_', ' ')} tier's {side} bound)") in html
    # France has no experiment: its occasional tier rests on the dormant share's default
    assert any(w.startswith("the occasional") and "state assumptions.dormant_share" in w
               for w in res["warnings"])


def test_run_bad_options_are_one_line(tmp_path):
    proc = _cli("run", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {tmp_path / 'missing.toml'}: no such file"
    proc = _cli("run", str(FRANCE), "--out", str(tmp_path / "o"), "--draws", "5")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: --draws must lie between 100 and 1,000,000 (got 5)"


def test_answers_on_a_platform_the_study_does_not_list_are_one_line(tmp_path):
    """Answers on a platform missing from the study file, beside answers on its platforms:
    the model would have taken the task as posted everywhere (on a simulated country with
    2% of its answers so named, every tier 25-42% low). One line naming the platform and
    the fix, exit 2, and no report."""
    simulated = Path(str(files("crowdcensus") / "examples" / "simulated"))
    for name in ("study.toml", "responses.csv"):
        (tmp_path / name).write_bytes((simulated / name).read_bytes())
    table = pd.read_csv(tmp_path / "responses.csv", dtype=str, keep_default_na=False)
    table.loc[table.index % 50 == 0, "platform"] = "Toloka"
    table.to_csv(tmp_path / "responses.csv", index=False)
    stray = int((table.index % 50 == 0).sum())
    proc = _cli("run", str(tmp_path / "study.toml"), "--out", str(tmp_path / "report"),
                "--draws", "100")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert f"{stray:,} of {len(table):,} answers" in lines[0]
    assert "(toloka)" in lines[0] and "[[platforms]]" in lines[0]
    assert not (tmp_path / "report" / "report.html").exists()
    # no answer names a listed platform: the column holds something else; the task is taken
    # as posted everywhere, and the report says so
    table["platform"] = "survey-link"
    table.to_csv(tmp_path / "responses.csv", index=False)
    proc = _cli("run", str(tmp_path / "study.toml"), "--out", str(tmp_path / "report"),
                "--draws", "100", "--inference", "laplace")
    assert proc.returncode == 0, proc.stderr
    said = json.loads((tmp_path / "report" / "results.json").read_text())["warnings"]
    assert any("left out of the registration model: survey-link (no answer names a "
               "platform of the study file, so the task is taken as posted on every one"
               in w for w in said), said


def test_a_task_on_some_platforms_needs_respondents_who_name_theirs(tmp_path):
    """The task on two of five platforms and every respondent giving a count of platforms
    rather than their names: the model cannot reach the other platforms' workers (taken
    as reachable, every tier came out 24-35% low). One line, exit 2; with the names the
    same study's joint model has its inputs."""
    from crowdcensus.pipeline import _read
    from crowdcensus.simulate.outputs import write_simulation
    from crowdcensus.simulate.world import generate_world
    from crowdcensus.study import load_study
    from crowdcensus.synthesis.data import synthesis_data
    from tests.simulate.conftest import small

    study = write_simulation(generate_world(small("subset", workers=2000),
                                            np.random.default_rng(4)), tmp_path)
    named = load_study(study)
    assert not synthesis_data(named, _read(named)[0]).posted.all()
    table = pd.read_csv(tmp_path / "responses.csv", dtype=str, keep_default_na=False)
    table["platforms_registered"] = table["platforms_registered"].str.count(",").add(1)
    table.to_csv(tmp_path / "responses.csv", index=False)
    proc = _cli("run", str(study), "--out", str(tmp_path / "report"), "--draws", "100")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "posted on 2 of the 5 platforms (clickworker, mturk)" in lines[0]
    assert "no respondent names the platforms they are registered on" in lines[0]
    assert not (tmp_path / "report" / "report.html").exists()


def test_waves_posted_on_different_platforms_are_read_and_checked(tmp_path):
    """`experiment.schedule.posted` gives each wave's platforms: the answers are counted
    by posting and platform, and the posting-gap warning is not given; answers on a
    platform a wave was not posted on, a list per wave that does not match the waves, an
    unknown platform, or postings that vary with no respondent naming their platforms
    stop in one line, exit 2, with no report."""
    import tomllib

    import tomli_w

    from crowdcensus.errors import InputError
    from crowdcensus.pipeline import _read
    from crowdcensus.simulate.outputs import write_simulation
    from crowdcensus.simulate.world import generate_world
    from crowdcensus.study import load_study
    from crowdcensus.synthesis.data import synthesis_data
    from tests.simulate.conftest import small

    waves = [["clickworker", "mturk"], ["clickworker"], ["clickworker"]]
    scenario = small("subset", workers=2000, experiment={
        "platforms": None, "posted_waves": waves, "waves": 3})
    world = generate_world(scenario, np.random.default_rng(4))
    study_path = write_simulation(world, tmp_path)
    study = load_study(study_path)
    assert study.experiment.schedule.posted == waves
    responses = _read(study)[0]
    data = synthesis_data(study, responses)
    cap = data.capture
    names = list(data.platforms)
    assert cap.posting_varies and cap.wave_class.tolist() == [1, 0, 0]
    assert cap.wave_posted.tolist() == [[1, 0, 0, 0, 0], [1, 1, 0, 0, 0]]
    # answers by (posting, platform): mturk's only in the first wave's posting
    table = world.responses
    j = len(names)
    by_column = cap.answer_platforms.sum(axis=0)
    assert by_column[j + names.index("mturk")] == (table["platform"] == "mturk").sum() > 0
    assert by_column[names.index("clickworker")] == (
        (table["platform"] == "clickworker") & (table["wave"] != "w1")).sum()
    assert by_column.sum() == len(table)
    assert data.posted.tolist() == [True, True, False, False, False]
    assert responses.posting_gap_warning() is not None     # said without the schedule...

    original = study_path.read_text()

    def run(edit=None, table_edit=None):
        data = tomllib.loads(original)
        if edit:
            edit(data["experiment"]["schedule"])
        (tmp_path / "study.toml").write_text(tomli_w.dumps(data))
        t = pd.read_csv(tmp_path / "responses.csv", dtype=str, keep_default_na=False)
        if table_edit:
            table_edit(t).to_csv(tmp_path / "edited.csv", index=False)
            data["experiment"]["responses"] = "edited.csv"
            (tmp_path / "study.toml").write_text(tomli_w.dumps(data))
        return _cli("run", str(tmp_path / "study.toml"), "--out", str(tmp_path / "report"),
                    "--draws", "100", "--inference", "laplace")

    proc = run()
    assert proc.returncode == 0, proc.stderr
    said = json.loads((tmp_path / "report" / "results.json").read_text())["warnings"]
    assert not any("no answer came through" in w for w in said), said   # ...not with it
    assert any(w.startswith("the waves were posted on different platforms (w1: "
                            "clickworker, mturk; w2, w3: clickworker): the joint model "
                            "follows it") for w in said), said
    page = (tmp_path / "report" / "report.html").read_text()
    assert "Waves posted on different platforms" in page
    assert "w1: clickworker, mturk; w2, w3: clickworker" in page
    # where the waves reach some platforms only, the lists may leave some out: said, with
    # what the first answers tell of it
    assert "Platforms left out of the respondents' lists" in page
    assert (f"read from the {data.capture.named_platforms:,.0f} platforms the first answers "
            f"name beyond their own and the {data.capture.unnamed_answered:,.0f} answered "
            "on later but left out") in page
    # the waves as read, beside the schedule the study gives: answers and first answers
    rows = re.findall(r"<tr><td>(w\d)</td><td class=\"num\">([\d.]+)</td><td>([^<]*)</td>"
                      r"<td>([^<]*)</td><td class=\"num\">([\d,]+)</td>"
                      r"<td class=\"num\">([\d,]+)</td></tr>",
                      page[page.index('id="waves-table"'):])
    first = table.drop_duplicates("worker")["wave"].value_counts()
    starts = study.experiment.schedule.wave_starts
    assert rows == [(w, f"{starts[i]:g}", ", ".join(waves[i]),
                     ", ".join(sorted(set(table.loc[table["wave"] == w, "platform"]))),
                     f"{(table['wave'] == w).sum():,}", f"{first.get(w, 0):,}")
                    for i, w in enumerate(["w1", "w2", "w3"])]
    assert sum(int(r[5].replace(",", "")) for r in rows) == table["worker"].nunique()
    (tmp_path / "report").rename(tmp_path / "kept")
    # a list that says mturk was posted in every wave: the gaps are pointed at the list
    proc = run(lambda s: s.update(posted=[["clickworker", "MTurk"]] * 3))
    assert proc.returncode == 0, proc.stderr
    said = json.loads((tmp_path / "report" / "results.json").read_text())["warnings"]
    assert any(w.startswith("no answer came through mturk in w2, w3") and "although "
               "experiment.schedule.posted lists it there" in w for w in said), said
    (tmp_path / "report").rename(tmp_path / "kept-2")

    def refused(proc, *parts):
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, lines
        for part in parts:
            assert part in lines[0], lines[0]
        assert not (tmp_path / "report" / "report.html").exists()

    def mturk_in_w2(t):
        t.loc[t.index[t["wave"] == "w2"][:3], "platform"] = "mturk"
        return t
    refused(run(table_edit=mturk_in_w2), "3 answers were given on a platform the wave was "
            "not posted on", "mturk in wave w2", "experiment.schedule.posted")
    refused(run(lambda s: s.update(posted=waves[:2])), "experiment.schedule.posted: gives 2 "
            "waves but the responses have 3")
    refused(run(lambda s: s.update(posted=[["clickworker"], ["toloka"], ["clickworker"]])),
            "experiment.schedule.posted[1][0]", "'toloka' is not a platform")

    def counts(t):
        t["platforms_registered"] = t["platforms_registered"].str.count(",").add(1)
        return t
    refused(run(table_edit=counts), "the waves were posted on different platforms",
            "no respondent names the platforms they are registered on")
    with pytest.raises(InputError, match="not posted on"):
        responses.events.loc[responses.events.index[-1], "platform"] = "mturk"
        last_wave = responses.events["wave"].iloc[-1]
        assert last_wave != "w1"
        synthesis_data(study, responses)


def test_demo_writes_the_france_report(tmp_path):
    proc = _cli("demo", "--out", str(tmp_path / "demo"))
    assert proc.returncode == 0, proc.stderr
    html = (tmp_path / "demo" / "report.html").resolve()
    assert str(html) in proc.stdout
    text = html.read_text()
    for figure in ("266,126", "52,337", "14,903"):
        assert figure in text


def test_packaged_examples_match_the_repository_copies():
    """``examples/`` at the top is a link to the packaged examples: one source, two paths."""
    packaged = Path(str(files("crowdcensus") / "examples"))
    for name in ("france-2018", "simulated"):
        repo = ROOT / "examples" / name
        pkg = packaged / name
        names = sorted(p.name for p in pkg.iterdir() if p.is_file() and p.suffix != ".pyc")
        assert "study.toml" in names
        match, mismatch, errors = filecmp.cmpfiles(pkg, repo, names, shallow=False)
        assert not mismatch and not errors, (name, mismatch, errors)


def test_study_with_one_method_reports_what_it_can(tmp_path):
    study = tmp_path / "study.toml"
    study.write_text('[study]\ntitle = "Only audience"\ncountry = "BE"\n'
                     'reference_period = "2021"\n[assumptions.multihoming]\nvalue = 1.2\n'
                     'status = "assumed"\n[[platforms]]\nname = "X"\n'
                     '[platforms.audience.visitors]\nvalue = 1000\nstatus = "published"\n')
    proc = _cli("run", str(study), "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    tiers = pd.read_csv(tmp_path / "out" / "tiers.csv")
    assert tiers["tier"].tolist() == ["regular"]      # no figure on the prior alone
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert res["baseline"]["nested"]["regular"]["estimate"] == \
        pytest.approx(1000 / 1.2, rel=1e-9)
    # visitors overstate the workers who visit in a month, and a regular worker visits
    # in a given month with probability at least 1 - exp(-12/52 * 52/12)
    joint = tiers.iloc[0]
    assert 0 < joint["low"] < joint["estimate"] < joint["high"]
    assert joint["estimate"] < 1000 / (1 - np.exp(-1))
    assert any("no method measures the occasional and very active tier" in w
               for w in res["warnings"])
    assert "no method estimates the occasional tier" in res["warnings"]
    assert "no method estimates the occasional tier" in \
        (tmp_path / "out" / "report.html").read_text()


def test_a_report_says_which_declared_figures_count_active_accounts(tmp_path):
    """Two of three platforms declare the accounts active in a window, the third its
    registrations on day 300: the report says which and over how many days, and that the
    day changes nothing in a closed population but counts the workers started by then
    where arrivals are modelled; it labels their inputs so, and gives a dormant share for
    the platform that declares registrations only. The same figures read as registrations
    fall below what the model replicates: a warning names the one whose window is a month
    (about half its registrations; the 91 days' shortfall may pass unseen in a country
    this small), never the platform whose figure counts registrations, and points at
    declared_active_days."""
    from crowdcensus.simulate.outputs import write_simulation
    from crowdcensus.simulate.scenario import parse_scenario
    from crowdcensus.simulate.world import generate_world
    from tests.simulate.conftest import small

    scenario = small("heterogeneous", workers=3000).model_dump(mode="json")
    scenario["platforms"][0]["declared_active_days"] = 30
    scenario["platforms"][1]["declared_active_days"] = 91
    scenario["platforms"][2]["declared_day"] = 300
    world = generate_world(parse_scenario(scenario), np.random.default_rng(5))
    proc = _cli("run", str(write_simulation(world, tmp_path)), "--out",
                str(tmp_path / "report"), "--draws", "100", "--inference", "laplace")
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / "report" / "report.html").read_text()
    assert ("<strong>Declared figures of active accounts</strong> "
            "(<code>declared_active_days</code>): clickworker: the last 30 days; mturk: the "
            "last 91 days of the reference period") in page
    assert ("<strong>Declared figures taken before the end of the reference period</strong> "
            "(<code>declared_day</code>): wirk: day 300 of 364; the model takes the population "
            "as closed, so the day changes nothing") in page
    labels = pd.read_csv(tmp_path / "report" / "assumptions.csv")["label"].tolist()
    assert "Declared accounts active in the last 30 days: clickworker" in labels
    assert "Declared accounts active in the last 91 days: mturk" in labels
    assert "Declared registrations: wirk" in labels
    biases = pd.read_csv(tmp_path / "report" / "joint_biases.csv")["quantity"].tolist()
    assert [q for q in biases if "dormant share" in q] == ["wirk: dormant share of accounts"]
    said = json.loads((tmp_path / "report" / "results.json").read_text())["warnings"]
    assert not any("fall below the registrations" in w for w in said), said
    for platform in scenario["platforms"]:
        platform["declared_active_stated"] = False
    scenario["assumptions"]["churn"] = True
    world = generate_world(parse_scenario(scenario), np.random.default_rng(5))
    proc = _cli("run", str(write_simulation(world, tmp_path / "unstated")), "--out",
                str(tmp_path / "unstated" / "report"), "--draws", "100",
                "--inference", "laplace")
    assert proc.returncode == 0, proc.stderr
    said = json.loads((tmp_path / "unstated" / "report" / "results.json").read_text())[
        "warnings"]
    below = [w for w in said if "fall below the registrations" in w]
    assert len(below) == 1, said
    named = below[0].split("the declared figures of ")[1].split(" fall below")[0].split(", ")
    assert "clickworker" in named and "wirk" not in named, below
    assert "give that platform's declared_active_days" in below[0]
    page = (tmp_path / "unstated" / "report" / "report.html").read_text()
    assert ("wirk: day 300 of 364; they count the workers who had started by then (a window "
            "of active accounts ends on that day)") in page


def test_tiers_that_lean_on_the_odds_of_answering_again_are_said(tmp_path):
    """A `small` country (3,000 workers): with few respondents answering twice, the tiers
    move with the odds ratio of answering again, and with its default prior a warning names
    the tiers, their moves and the field; stated (1, 0.7-1.4), no such warning, and the
    report's assumptions table shows the stated prior and its posterior inside it."""
    from crowdcensus.simulate.outputs import write_simulation
    from crowdcensus.simulate.world import generate_world
    from tests.simulate.conftest import small

    scenario = small("small", workers=3000)
    said, shifts = {}, {}
    for name, sc in (("default", scenario), ("stated", scenario.varied(
            "assumptions.answer_again", 1.0).varied("assumptions.answer_again_low", 0.7)
            .varied("assumptions.answer_again_high", 1.4))):
        world = generate_world(sc, np.random.default_rng(21))
        report = tmp_path / name / "report"
        proc = _cli("run", str(write_simulation(world, tmp_path / name)), "--out",
                    str(report), "--draws", "100", "--inference", "laplace")
        assert proc.returncode == 0, proc.stderr
        said[name] = [w for w in json.loads((report / "results.json").read_text())["warnings"]
                      if "odds ratio of answering again" in w]
        table = pd.read_csv(report / "joint_assumptions.csv")
        shifts[name] = table[table["assumption"].str.startswith("Odds ratio of answering")
                             ].iloc[0]
    assert len(said["default"]) == 1, said
    assert "state assumptions.answer_again" in said["default"][0]
    moves = [float(m) for m in re.findall(r"(?:very active|regular|occasional) ([+-]\d+)%",
                                          said["default"][0])]
    assert moves and all(abs(m) >= 10 for m in moves), said
    assert said["stated"] == []
    assert shifts["default"]["origin"] == "default"
    row = shifts["stated"]
    assert row["origin"] == "assumptions.answer_again"
    assert 0.6 < row["prior_low"] < row["posterior_low"] < row["posterior_high"] < \
        row["prior_high"] < 1.6


def test_a_platform_that_keeps_past_participants_away(tmp_path):
    """`heterogeneous` (20,000 workers) whose platforms keep anyone who answered once from
    the task (`experiment.aversion = 1`): nobody answers twice, so no closed model reads
    the histories and the experiment gives no figure of its own (a warning says so), but
    the joint model reads them through the decline of new respondents from wave to wave:
    the very active and regular tiers within 8% of the truth and inside their intervals,
    whether the study leaves the odds of answering again to its default prior (the
    posterior then puts them far below it, and the report says so) or states them 0. (The
    occasional tier, which leans on the dormant share's default prior, is 4.6% and 7.2%
    low on average over 20 such countries: docs/validation.md.) Stated 0 where
    respondents did answer twice, or 0 with a range, is one line and exit 2."""
    from crowdcensus.pipeline import run_study
    from crowdcensus.simulate.outputs import write_simulation
    from crowdcensus.simulate.world import generate_world
    from tests.simulate.conftest import small

    from .conftest import SIMULATED

    scenario = small("heterogeneous", workers=20000, experiment={"aversion": 1.0})
    world = generate_world(scenario, np.random.default_rng(2))
    truth = world.tiers()
    for name, sc in (("default", scenario),
                     ("stated", scenario.varied("assumptions.answer_again", 0.0))):
        path = write_simulation(generate_world(sc, np.random.default_rng(2)), tmp_path / name)
        res = run_study(path, inference="laplace", draws=200, checks=False)
        assert "experiment" not in res.methods and res.capture is None
        assert any("the experiment gives no figure of its own" in w for w in res.warnings)
        assert ("no method estimates the very_active tier on its own (the joint model reads "
                "it from the experiment's histories)") in res.warnings
        assert set(res.combined) == set(truth)
        for tier in ("very_active", "regular"):
            f, true = res.combined[tier], truth[tier]
            assert f.low <= true <= f.high and abs(f.estimate / true - 1) < 0.08, (name, tier)
        said = [w for w in res.warnings if "odds ratio of answering again" in w]
        nobody = [w for w in res.warnings if w.startswith("none of the ")]
        if name == "default":
            assert len(said) == 1 and "beyond" in said[0], res.warnings
            assert len(nobody) == 1 and "state assumptions.answer_again = 0" in nobody[0]
            assert f"none of the {res.responses.histories.n_captured:,} respondents" in \
                nobody[0]
        else:
            assert said == [] and nobody == []
            assert res.study.assumptions.answer_again.value == 0
    proc = _cli("run", str(_with_assumptions(SIMULATED, tmp_path / "repeat", answer_again={
        "value": 0, "status": "assumed"})), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert re.fullmatch(r"error: assumptions\.answer_again: 0 \(past participants kept from "
                        r"the task\), but [\d,]+ respondents answered in more than one wave\n",
                        proc.stderr), proc.stderr
    proc = _cli("run", str(_with_assumptions(SIMULATED, tmp_path / "range", answer_again={
        "value": 0, "high": 0.1, "status": "assumed"})), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "assumptions.answer_again.value" in proc.stderr and "takes no range" in proc.stderr


def _with_assumptions(study: Path, folder: Path, **assumptions) -> Path:
    """A copy of ``study``'s folder in ``folder`` with some ``[assumptions]`` tables set."""
    import shutil
    import tomllib

    import tomli_w

    shutil.copytree(study.parent, folder)
    data = tomllib.loads((folder / study.name).read_text(encoding="utf-8"))
    data["assumptions"].update(assumptions)
    (folder / study.name).write_text(tomli_w.dumps(data), encoding="utf-8")
    return folder / study.name


def test_a_panel_below_what_the_model_replicates_is_said(tmp_path):
    """A traffic panel that counts half the workers who visit, with the default prior of
    visitors per person (at least 1): a warning names the platforms whose monthly visitors
    fall below what the model replicates and points at a range below 1; stated so, no such
    warning, and the report's assumptions table shows the stated prior."""
    from crowdcensus.simulate.outputs import write_simulation
    from crowdcensus.simulate.world import generate_world
    from tests.simulate.conftest import small

    scenario = small("heterogeneous", workers=8000).varied("platforms.visitors_per_person",
                                                           0.5)
    said = {}
    for name, sc in (("default", scenario), ("stated", scenario.varied(
            "assumptions.visitors_per_person", 0.5).varied(
            "assumptions.visitors_per_person_low", 0.4).varied(
            "assumptions.visitors_per_person_high", 0.6))):
        world = generate_world(sc, np.random.default_rng(5))
        proc = _cli("run", str(write_simulation(world, tmp_path / name)), "--out",
                    str(tmp_path / name / "report"), "--draws", "100", "--inference", "laplace")
        assert proc.returncode == 0, proc.stderr
        said[name] = [w for w in json.loads((tmp_path / name / "report" / "results.json")
                                            .read_text())["warnings"]
                      if w.startswith("the monthly visitors of ")]
    assert len(said["default"]) == 1, said
    assert said["default"][0].startswith("the monthly visitors of clickworker, mturk, wirk "
                                         "fall below the workers the other sources put there")
    assert "assumptions.visitors_per_person with a range below 1" in said["default"][0]
    assert said["stated"] == []
    shifts = pd.read_csv(tmp_path / "stated" / "report" / "joint_assumptions.csv")
    row = shifts[shifts["assumption"].str.startswith("Visitors counted per person")].iloc[0]
    assert row["origin"] == "assumptions.visitors_per_person"
    assert row["prior_high"] < 1


def test_two_classes_of_registrations_are_read_only_where_the_task_reached_some(tmp_path):
    """The simulated example posts its task on every platform: asking it for two classes
    of registrations fits the same model (the same tiers) and says in one warning that
    the setting changes nothing there. A simulated study states the setting only when
    its scenario does."""
    import shutil
    import tomllib

    import tomli_w

    from crowdcensus.pipeline import run_study
    from crowdcensus.simulate.outputs import write_simulation
    from crowdcensus.simulate.world import generate_world
    from crowdcensus.study import load_study
    from tests.simulate.conftest import small

    from .conftest import SIMULATED

    folder = tmp_path / "ex"
    shutil.copytree(SIMULATED.parent, folder)
    study = tomllib.loads((folder / "study.toml").read_text())
    study["experiment"]["registration_classes"] = True
    (folder / "study.toml").write_text(tomli_w.dumps(study))
    asked = run_study(folder / "study.toml", inference="laplace", draws=200)
    plain = run_study(SIMULATED, inference="laplace", draws=200)
    said = [w for w in asked.warnings if "registration_classes" in w]
    assert said == ["experiment.registration_classes is read only where the task was posted "
                    "on some of the platforms and respondents name theirs: here it changes "
                    "nothing"]
    assert not [w for w in plain.warnings if "registration_classes" in w]
    for tier in ("very_active", "regular", "occasional"):
        assert asked.joint.tiers[tier].estimate == pytest.approx(
            plain.joint.tiers[tier].estimate, rel=1e-9)
    scenario = small("subset", workers=2000)
    quiet = load_study(write_simulation(generate_world(scenario, np.random.default_rng(1)),
                                        tmp_path / "quiet"))
    told = load_study(write_simulation(generate_world(
        scenario.varied("assumptions.registration_classes", True), np.random.default_rng(1)),
        tmp_path / "told"))
    assert quiet.experiment.registration_classes is None
    assert told.experiment.registration_classes is True


def test_run_says_before_sampling_that_a_task_on_some_platforms_takes_minutes(
        tmp_path, monkeypatch, capsys):
    """NUTS on a study whose task reached some of its platforms only: `run` says, before
    the chains start and where it shows progress, that the fit takes minutes and what
    gives figures in seconds; nothing with the approximation, where the task was posted
    everywhere, or without a progress display."""
    from types import SimpleNamespace

    from crowdcensus import pipeline
    from crowdcensus.simulate.outputs import write_simulation
    from crowdcensus.simulate.world import generate_world
    from crowdcensus.synthesis import averaging
    from tests.simulate.conftest import small

    def data(posted, capture=True):
        return SimpleNamespace(capture=SimpleNamespace(reads_start_answers=False)
                               if capture else None, aggregate=False,
                               posted=np.array(posted), n_platforms=len(posted),
                               platforms=("clickworker", "mturk", "wirk")[:len(posted)])

    note = pipeline.slow_sampling_note(data([True, False, True]), "nuts")
    assert note.startswith("the task was posted on 2 of the 3 platforms: NUTS samples such "
                           "a study for minutes, not seconds")
    assert "--inference laplace gives figures in seconds" in note
    assert pipeline.slow_sampling_note(data([True, False, True]), "laplace") is None
    assert pipeline.slow_sampling_note(data([True, True, True]), "nuts") is None
    assert pipeline.slow_sampling_note(data([True, False], capture=False), "nuts") is None

    class StoppedError(Exception):
        pass

    def stop(*args, **kwargs):  # where the chains would start
        raise StoppedError

    monkeypatch.setattr(averaging, "fit_readings", stop)
    study = write_simulation(generate_world(small("subset", workers=2000),
                                            np.random.default_rng(4)), tmp_path)
    capsys.readouterr()
    with pytest.raises(StoppedError):
        pipeline.run_study(study, progress=True, inference="nuts", draws=200)
    said = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert said == ["note: " + pipeline.slow_sampling_note(
        SimpleNamespace(capture=SimpleNamespace(reads_start_answers=False),
                        aggregate=False, n_platforms=5,
                        posted=np.array([1, 1, 0, 0, 0], bool), platforms=tuple("abcde")),
        "nuts")]
    for progress, inference in ((False, "nuts"), (True, "laplace")):
        with pytest.raises(StoppedError):
            pipeline.run_study(study, progress=progress, inference=inference, draws=200)
        assert "NUTS samples such a study" not in capsys.readouterr().err


def test_run_says_that_answers_on_when_respondents_began_with_ids_per_platform_take_minutes(
        tmp_path):
    """Respondents who say when they began, with IDs per platform (as the collection
    service gives them): before NUTS, `run` says the fit takes minutes; not with linked
    IDs, nor with the approximation."""
    from crowdcensus.pipeline import _read, slow_sampling_note
    from crowdcensus.simulate.outputs import write_simulation
    from crowdcensus.simulate.world import generate_world
    from crowdcensus.study import load_study
    from crowdcensus.synthesis.data import synthesis_data
    from tests.simulate.conftest import small

    notes = {}
    for linked in (False, True):
        scenario = small("heterogeneous", workers=1500, churn={"arrivals": 0.15},
                         experiment={"started_column": True,
                                     "linked_across_platforms": linked})
        study = load_study(write_simulation(generate_world(scenario, np.random.default_rng(2)),
                                            tmp_path / str(linked)))
        data = synthesis_data(study, _read(study)[0])
        assert data.capture.start_answers > 0 and data.capture.models_churn
        assert data.capture.per_platform_ids is not linked
        notes[linked] = slow_sampling_note(data, "nuts")
        assert slow_sampling_note(data, "laplace") is None
    assert notes[True] is None
    assert notes[False].startswith("the respondents say when they began micro-work and their "
                                   "IDs are per platform: NUTS samples such a study for "
                                   "minutes, not seconds")


def test_the_report_says_where_the_task_was_posted_and_what_one_platform_costs():
    """Posted on some platforms: where, how the others' workers are reached (two classes
    unless the study says false), the model's share registered there; posted on one
    platform only, the shortfall measured on simulated countries and the advice; nothing
    where it was posted on every platform."""
    from types import SimpleNamespace

    from crowdcensus.pipeline import posted_subset_warning

    biases = pd.DataFrame([{"quantity": "Share of workers registered where the task was "
                            "posted", "estimate": 0.367, "low": 0.318, "high": 0.48}])

    def data(posted, classes=None):
        return SimpleNamespace(platforms=("clickworker", "mturk", "wirk"),
                               posted=np.array(posted), aggregate=False, n_platforms=3,
                               capture=SimpleNamespace(registration_classes=classes))

    two = posted_subset_warning(data([True, True, False]), biases)
    assert two == ("the task was posted on 2 of the 3 platforms (clickworker, mturk); the "
                   "others' workers are reached through the platforms respondents say they "
                   "are registered on (read as two classes of workers, each holding "
                   "platforms its own way), the declared figures and the web audience: the "
                   "model estimates that 37% (32%-48%) of the workers are registered there")
    one = posted_subset_warning(data([False, True, False], classes=False), biases)
    assert one.startswith("the task was posted on 1 of the 3 platforms (mturk); the others' "
                          "workers are reached through the platforms respondents say they "
                          "are registered on, the declared")
    assert one.endswith("8-13% low on simulated countries, with intervals up to half the "
                        "estimate wide (docs/validation-notebook.md): post it on two "
                        "platforms at least")
    assert "one platform only" not in two
    assert posted_subset_warning(data([True, True, True]), biases) is None
