"""The generator: its truth is internally consistent, seeded, and the reach follows activity."""

from __future__ import annotations

import json
import tomllib

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from crowdcensus.pipeline import run_study
from crowdcensus.simulate.outputs import RESPONSE_COLUMNS, write_simulation
from crowdcensus.simulate.world import CATEGORIES, MONTHLY, WEEKLY, generate_world
from crowdcensus.study import load_study
from tests.simulate.conftest import small


def test_truth_is_consistent():
    sc = small("inflated", workers=4000)
    world = generate_world(sc, np.random.default_rng(5))
    truth = world.truth()
    tiers, bands = truth["tiers"], truth["bands"]
    assert tiers["occasional"] == 4000
    assert tiers["occasional"] >= tiers["regular"] >= tiers["very_active"] > 0
    assert sum(bands.values()) == tiers["occasional"]
    assert sum(truth["categories"].values()) == 4000
    assert sum(truth["classes"].values()) == 4000
    assert tiers["very_active"] == truth["categories"]["several_weekly"] + \
        truth["categories"]["weekly"]
    assert tiers["regular"] == tiers["very_active"] + truth["categories"]["monthly"]
    assert truth["inactive_people"] == 2000
    assert truth["registered_people"] == 6000
    assert world.registered.any(axis=1).all() and world.inactive_registered.any(axis=1).all()
    np.testing.assert_allclose(world.visit_share.sum(axis=1), 1.0)
    assert (world.visit_share[~world.registered] == 0).all()
    for j, p in enumerate(truth["platforms"]):
        assert p["registrations"] == p["worker_registrations"] + \
            int(world.inactive_registered[:, j].sum())
        assert p["declared"] == round(p["registrations"] * sc.platforms[j].inflation)
        assert p["inflation"] == sc.platforms[j].inflation
    mh = truth["multihoming"]
    assert mh["workers"] == world.registered.sum() / 4000
    # more active workers register on more platforms in this scenario
    assert mh["regular_workers"] > mh["workers"]
    # every response comes from a worker, on a platform they are registered on
    r = world.responses
    regs = r["platforms_registered"].str.split(",")
    assert all(p in ps for p, ps in zip(r["platform"], regs, strict=True))
    assert not r.duplicated(["worker", "wave"]).any()
    assert truth["experiment"]["respondents"] == r["worker"].nunique()


def test_tiers_follow_the_rates():
    world = generate_world(small(workers=3000), np.random.default_rng(2))
    t = world.tiers()
    assert t["very_active"] == int((world.rate >= WEEKLY).sum())
    assert t["regular"] == int((world.rate >= MONTHLY).sum())
    # with no misreport the answer is the true category
    world0 = generate_world(small(workers=3000, activity={"misreport": 0.0}),
                            np.random.default_rng(2))
    assert (world0.reported == world0.category).all()
    assert (world.reported != world.category).mean() < 0.15


def test_seeded_reproducibility():
    sc = small(workers=2000)
    a = generate_world(sc, np.random.default_rng(11))
    b = generate_world(sc, np.random.default_rng(11))
    c = generate_world(sc, np.random.default_rng(12))
    assert a.truth() == b.truth()
    pd.testing.assert_frame_equal(a.responses, b.responses)
    np.testing.assert_array_equal(a.audience, b.audience)
    assert a.truth() != c.truth()


@pytest.mark.parametrize("sight", [1.0, 0.4])
def test_capture_probability_follows_activity(sight):
    """A worker present all along, with rate r, answers a 7-day wave with chance
    q(1 - e^-(theta r)), theta the chance that a visit shows the task."""
    sc = small("ideal", workers=20000, experiment={"sight": sight})
    world = generate_world(sc, np.random.default_rng(3))
    q = sc.experiment.take_up
    r = world.responses
    for j, cls in enumerate(sc.activity.classes):
        members = np.flatnonzero(world.activity_class == j)
        answers = int(np.isin(r["index"], members).sum())
        trials = len(members) * sc.experiment.waves
        p = q * (1 - np.exp(-sight * cls.visits_per_week))
        # two-sided binomial test at 0.1%: fails if the reach formula is not the one used
        assert stats.binomtest(answers, trials, p).pvalue > 1e-3, cls.name


def test_take_up_spread_gives_each_worker_their_own_chance():
    """`experiment.take_up_spread`: a worker's take-up is logit^-1(logit(q) + s z), drawn once;
    the class's answers follow the mean take-up, and they bunch on the same workers (more
    never answer, more answer often) than one chance for all would give."""
    from crowdcensus.simulate.world import mean_take_up

    # the mean take-up: q without a spread; 1/2 at q = 1/2 for any spread (symmetry);
    # pulled toward 1/2 otherwise, as a Monte Carlo mean says
    assert mean_take_up(0.3, 0.0) == 0.3
    assert mean_take_up(0.5, 2.0) == pytest.approx(0.5, abs=1e-12)
    z = np.random.default_rng(0).standard_normal(400_000)
    mc = np.mean(1 / (1 + np.exp(-(np.log(0.2 / 0.8) + 1.5 * z))))
    assert mean_take_up(0.2, 1.5) == pytest.approx(mc, abs=2e-3)
    assert 0.2 < mean_take_up(0.2, 1.5) < 0.5

    sc = small("ideal", workers=20000, experiment={"take_up_spread": 1.5})
    world = generate_world(sc, np.random.default_rng(3))
    q = mean_take_up(sc.experiment.take_up, 1.5)
    waves = sc.experiment.waves
    counts = np.bincount(world.responses["index"], minlength=world.n_workers)
    top = sc.activity.classes[0]
    members = np.flatnonzero(world.activity_class == 0)
    p = q * (1 - np.exp(-top.visits_per_week))
    assert stats.binomtest(int(counts[members].sum()), len(members) * waves, p).pvalue > 1e-3
    # one chance p for all would leave (1 - p)^waves of them without an answer
    never = float(np.mean(counts[members] == 0))
    binomial = (1 - p) ** waves
    assert never > binomial + 6 * np.sqrt(binomial * (1 - binomial) / len(members)), \
        (never, binomial)
    # the study's reach assumption is the class's mean chance
    assert world.reach_p_week["several_weekly"] == pytest.approx(p, rel=0.05)


@pytest.mark.parametrize("activity", [1.0, -0.5])
def test_take_up_activity_moves_each_classs_take_up_with_its_rate(activity):
    """`experiment.take_up_activity` a: a class visiting r times a week takes the task with
    logit^-1(logit(q) + a log r); the answers follow it class by class, and so does the
    study's reach assumption."""
    sc = small("ideal", workers=20000, experiment={"take_up_activity": activity})
    plain = generate_world(small("ideal", workers=20000), np.random.default_rng(3))
    world = generate_world(sc, np.random.default_rng(3))
    assert world.tiers() == plain.tiers() and np.array_equal(world.declared, plain.declared)
    q = sc.experiment.take_up
    counts = np.bincount(world.responses["index"], minlength=world.n_workers)
    for j, cls in enumerate(sc.activity.classes):
        r = cls.visits_per_week
        take = 1 / (1 + np.exp(-(np.log(q / (1 - q)) + activity * np.log(r))))
        p = take * (1 - np.exp(-r))
        members = np.flatnonzero(world.activity_class == j)
        answers = int(counts[members].sum())
        assert stats.binomtest(answers, len(members) * sc.experiment.waves, p).pvalue > 1e-3, \
            cls.name
        assert world.reach_p_week[CATEGORIES[j]] == pytest.approx(p, rel=1e-9), cls.name


@pytest.mark.parametrize("days", [91, 364, 728])
def test_monthly_visitors_are_a_months_whatever_the_reference_period(days):
    """One class at 0.5 visits a week on one platform, nobody coming or going: each
    month (364/12 days) a share 1 - exp(-0.5 x 52/12) = 0.885 of the workers visit,
    whether the reference period is a quarter, a year or two years. (Cut into twelve
    whatever its length, a quarter had 'months' of 7.6 days: a share 0.42.)"""
    one = {"classes": [{"name": "all", "share": 1.0, "visits_per_week": 0.5}]}
    sc = small("ideal", workers=20_000, activity=one,
               scenario={"reference_days": days}, experiment={"first_day": 7})
    sc = sc.model_copy(update={"platforms": sc.platforms[:1]})
    world = generate_world(sc, np.random.default_rng(5))
    share = world.worker_visitors[0] / 20_000
    expected = 1 - np.exp(-0.5 * 52 / 12)
    # the months' average of binomial shares: sd below 0.0023 / sqrt(months)
    assert share == pytest.approx(expected, abs=0.01)


def test_audience_without_clients_or_noise_is_the_worker_visitors():
    world = generate_world(small("ideal", workers=3000), np.random.default_rng(4))
    np.testing.assert_array_equal(world.audience, np.round(world.worker_visitors))
    assert (world.client_visitors == 0).all()
    het = generate_world(small(workers=3000), np.random.default_rng(4))
    ratio = het.client_visitors.sum() / het.worker_visitors.sum()
    assert abs(ratio - 0.15 / 0.85) < 0.03



def test_visitors_per_person_multiply_the_workers_the_panel_counts_and_nothing_else():
    """Visitors per person scale what the panel counts of the workers (devices above 1, a
    panel that misses visits below), the clients a share of all it counts, and nothing else
    of the country."""
    base = small(workers=3000)
    twice = base.varied("platforms.visitors_per_person", 1.5)
    one, more = (generate_world(s, np.random.default_rng(4)) for s in (base, twice))
    # the workers and their visits are the same country's
    np.testing.assert_array_equal(one.worker_visitors, more.worker_visitors)
    pd.testing.assert_frame_equal(one.responses, more.responses)
    # the clients stay a share of all that is counted: 0.15 of (1.5 x workers + clients)
    ratio = more.client_visitors.sum() / (1.5 * more.worker_visitors.sum())
    assert abs(ratio - 0.15 / 0.85) < 0.03
    assert more.audience.sum() / one.audience.sum() == pytest.approx(1.5, rel=0.05)
    assert [p["visitors_per_person"] for p in more.truth()["platforms"]] == [1.5] * 3
    # stated as 1 (the default), the country is drawn as before
    same = generate_world(base.varied("platforms.visitors_per_person", 1.0),
                          np.random.default_rng(4))
    np.testing.assert_array_equal(same.audience, one.audience)
    # a panel that misses half the workers who visit counts half of them
    half = generate_world(base.varied("platforms.visitors_per_person", 0.5),
                          np.random.default_rng(4))
    np.testing.assert_array_equal(half.worker_visitors, one.worker_visitors)
    assert half.audience.sum() / one.audience.sum() == pytest.approx(0.5, rel=0.05)
    with pytest.raises(ValueError, match="visitors_per_person"):
        base.varied("platforms.visitors_per_person", 0.05)

def test_churn_moves_presence():
    world = generate_world(small("churn", workers=4000), np.random.default_rng(6))
    ch = world.truth()["churn"]
    assert abs(ch["arrived"] / 4000 - 0.25) < 0.04
    assert abs(ch["departed"] / 4000 - 0.25) < 0.04
    assert (world.start < world.end).all()
    assert (world.start >= 0).all() and (world.end <= 364).all()


@pytest.mark.parametrize("power", [1.0, 2.0, 0.5])
def test_arrival_power_moves_when_arrivals_come(power):
    """`churn.arrival_power`: the arrivals' days are the period times U^power, so their
    mean is a 1 / (power + 1) share of the period; 1 leaves the country as it was."""
    sc = small("heterogeneous", workers=6000, churn={"arrivals": 0.3,
                                                     "arrival_power": power})
    world = generate_world(sc, np.random.default_rng(6))
    came = world.start[world.start > 0] / 364
    assert len(came) > 1500
    assert came.mean() == pytest.approx(1 / (power + 1), abs=4 * came.std() / np.sqrt(len(came)))
    if power == 1.0:
        plain = small("heterogeneous", workers=6000, churn={"arrivals": 0.3})
        np.testing.assert_array_equal(world.start,
                                      generate_world(plain, np.random.default_rng(6)).start)


def test_written_study_runs_through_the_pipeline(tmp_path):
    sc = small(workers=3000)
    world = generate_world(sc, np.random.default_rng(8))
    path = write_simulation(world, tmp_path, seed=8)
    study = load_study(path)
    assert study.study.simulated
    assert [p.name for p in study.platforms] == world.platforms
    assert [p.declared.value for p in study.platforms] == list(world.declared)
    raw = tomllib.loads(path.read_text(encoding="utf-8"))  # written by tomli-w
    assert [p.get("audience", {}).get("visitors", {}).get("value", 0) for p in raw["platforms"]] \
        == [float(v) for v in world.audience]
    assert {c: q["value"] for c, q in raw["experiment"]["reach"]["p_week"].items()} \
        == pytest.approx(world.reach_p_week)
    responses = pd.read_csv(tmp_path / "responses.csv")
    assert list(responses.columns) == RESPONSE_COLUMNS
    assert set(responses["frequency"]) <= set(CATEGORIES)
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert truth["tiers"] == world.tiers() and truth["seed"] == 8
    assert "very_active" not in (tmp_path / "study.toml").read_text().split("[experiment]")[0]
    results = run_study(path)
    for tier in ("occasional", "regular", "very_active"):
        assert results.combined[tier].estimate > 0
    # the declared method with the population's registrations is close in this scenario
    assert abs(results.methods["declared"]["occasional"].estimate / 3000 - 1) < 0.15


def test_simulate_cli_writes_the_study_and_truth(tmp_path, capsys):
    import pytest

    from crowdcensus.cli import main

    with pytest.raises(SystemExit) as code:
        main(["simulate", "churn", "--workers", "600", "--seed", "5", "--out", str(tmp_path)])
    assert code.value.code == 0
    out = capsys.readouterr().out
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert truth["tiers"]["occasional"] == 600 and truth["scenario"] == "churn"
    assert f"very active {truth['tiers']['very_active']:,}" in out
    for name in ("study.toml", "responses.csv", "declared.csv", "audience.csv"):
        assert (tmp_path / name).stat().st_size > 0
    declared = pd.read_csv(tmp_path / "declared.csv")
    assert list(declared["declared"]) == [p["declared"] for p in truth["platforms"]]


@pytest.mark.parametrize("churn, modelled", [("auto", False), (True, True), (False, False)])
def test_the_scenarios_churn_setting_reaches_the_joint_model(tmp_path, churn, modelled):
    """`assumptions.churn` is the simulated study's `experiment.churn`: with six weekly
    waves, "auto" leaves the population closed and true makes the model carry arrivals
    and departures."""
    from crowdcensus.pipeline import _read
    from crowdcensus.synthesis.data import synthesis_data
    from crowdcensus.synthesis.model import model_inputs

    sc = small(workers=800, assumptions={"churn": churn})
    world = generate_world(sc, np.random.default_rng(3))
    study = load_study(write_simulation(world, tmp_path))
    assert study.experiment.churn == churn
    cfg, arrays = model_inputs(synthesis_data(study, _read(study)[0]))
    assert cfg.churn is modelled and "wave_mid" in arrays


@pytest.mark.parametrize(("step", "grid"), [(0.1, 0.1), (1.0, 1.0), (0.5, 0.5)])
def test_hours_are_rounded_to_the_scenarios_step_and_read_back_so(tmp_path, step, grid):
    from crowdcensus.pipeline import _read
    from crowdcensus.synthesis.data import recording_step, synthesis_data

    sc = small("heterogeneous", workers=2000, activity={"hours_step": step})
    world = generate_world(sc, np.random.default_rng(4))
    given = world.hours[np.isfinite(world.hours)]
    assert np.abs(given / step - np.round(given / step)).max() < 1e-9
    # whole and half hours lump most occasional workers at 0, tenths do not
    assert (np.mean(given == 0) > 0.5) == (step >= 0.5)
    study = load_study(write_simulation(world, tmp_path))
    responses = _read(study)[0]
    answered = responses.respondents["hours"].to_numpy()
    assert len(answered) > 100 and np.isfinite(answered).all()
    assert recording_step(answered) == grid
    assert synthesis_data(study, responses).capture.hours_step == grid


def test_unstated_blanks_the_platforms_of_a_share_of_respondents_and_nothing_else():
    from crowdcensus.errors import InputError
    from crowdcensus.simulate.e2e import run_through_service
    from crowdcensus.simulate.outputs import export_frame

    plain = generate_world(small("subset", workers=6000), np.random.default_rng(3))
    quiet = generate_world(small("subset", workers=6000, experiment={"unstated": 0.3}),
                           np.random.default_rng(3))
    a, b = export_frame(plain), export_frame(quiet)
    others = [c for c in a.columns if c != "platforms_registered"]
    pd.testing.assert_frame_equal(a[others], b[others])
    assert np.array_equal(plain.declared, quiet.declared)
    assert np.array_equal(plain.audience, quiet.audience)
    assert plain.tiers() == quiet.tiers()
    blank = b["platforms_registered"] == ""
    assert not (a["platforms_registered"] == "").any()
    # a respondent says it in every answer or in none
    per_worker = blank.groupby(b["worker_hash"]).agg(["all", "any"])
    assert (per_worker["all"] == per_worker["any"]).all()
    share = per_worker["all"].mean()
    assert share == pytest.approx(0.3, abs=0.03), share
    assert (a.loc[~blank, "platforms_registered"] == b.loc[~blank, "platforms_registered"]).all()
    with pytest.raises(InputError, match="experiment.unstated"):
        run_through_service(quiet.scenario, "unused")


def test_platform_omission_leaves_out_registrations_but_never_the_platform_answered_on():
    plain = generate_world(small("subset", workers=8000), np.random.default_rng(4))
    forgetful = generate_world(small("subset", workers=8000,
                                     experiment={"platform_omission": 0.4}),
                               np.random.default_rng(4))
    a, b = plain.responses, forgetful.responses
    others = [c for c in a.columns if c != "platforms_registered"]
    pd.testing.assert_frame_equal(a[others], b[others])
    assert np.array_equal(plain.declared, forgetful.declared)
    assert plain.tiers() == forgetful.tiers()
    held = a["platforms_registered"].str.split(",").map(set)
    named = b["platforms_registered"].str.split(",").map(set)
    assert all(n <= h for n, h in zip(named, held, strict=True))       # only true ones
    assert all(p in n for p, n in zip(b["platform"], named, strict=True))
    # the platforms other than the one answered on are named with the chance asked for,
    # once per person: a person's first answer, binomially
    first = b.drop_duplicates("index").index
    others_held = sum(len(held[i]) - 1 for i in first)
    others_named = sum(len(named[i]) - 1 for i in first)
    assert others_held > 1000
    assert stats.binomtest(others_named, others_held, 0.6).pvalue > 1e-3
    assert others_named / others_held < 0.7
    # a person forgets the same platforms in every answer
    kept = [(i, frozenset(n - {p}), frozenset(h - {p}))
            for i, n, h, p in zip(b["index"], named, held, b["platform"], strict=True)]
    by_person: dict = {}
    for i, n, h in kept:
        by_person.setdefault(i, []).append((n, h))
    for answers in by_person.values():
        common = frozenset.intersection(*[h for _, h in answers])
        assert len({n & common for n, _ in answers}) == 1


def test_waves_posted_on_different_platforms_bring_answers_from_those_only():
    """`experiment.posted_waves`: each wave's answers come from the platforms it is posted
    on; the study file lists them (`experiment.schedule.posted`) unless `posting_stated`
    is false; the truth, the declared figures and the audience are those of the country
    posted on both platforms in every wave (the answers are drawn last)."""
    from crowdcensus.errors import InputError
    from crowdcensus.simulate.scenario import parse_scenario

    waves = [["clickworker", "mturk"], ["clickworker"], ["mturk"], ["clickworker"],
             ["clickworker"], ["clickworker"]]
    both = generate_world(small("subset", workers=4000), np.random.default_rng(8))
    world = generate_world(small("subset", workers=4000, experiment={
        "platforms": None, "posted_waves": waves}), np.random.default_rng(8))
    assert world.scenario.posted() == ["clickworker", "mturk"]
    assert both.tiers() == world.tiers()
    assert np.array_equal(both.declared, world.declared)
    assert np.array_equal(both.audience, world.audience)
    r = world.responses
    for w, on in enumerate(waves):
        platforms = set(r.loc[r["wave"] == f"w{w + 1}", "platform"])
        assert platforms == set(on), (w, platforms)
    # mturk's workers answer in the waves posted there only: fewer answers than with both
    assert (r["platform"] == "mturk").sum() < 0.6 * (both.responses["platform"] == "mturk").sum()
    for stated in (True, False):
        scenario = small("subset", workers=4000, experiment={
            "platforms": None, "posted_waves": waves, "posting_stated": stated})
        sched = tomllib.loads(write_study_toml(scenario))["experiment"]["schedule"]
        assert sched.get("posted") == (waves if stated else None)
    data = small("subset").model_dump(mode="json")
    for change, field in (({"posted_waves": waves}, "either experiment.platforms"),
                          ({"platforms": None, "posted_waves": waves[:2]}, "2 lists for 6"),
                          ({"platforms": None, "posted_waves": [[]] + waves[1:]},
                           "posted_waves[0]: must not be empty"),
                          ({"platforms": None, "posted_waves": [["toloka"]] + waves[1:]},
                           "posted_waves[0][0]")):
        with pytest.raises(InputError, match=field.replace("[", r"\[")):
            parse_scenario({**data, "experiment": {**data["experiment"], **change}})


@pytest.mark.parametrize("column", [True, False])
def test_workers_abroad_answer_from_elsewhere_and_count_nowhere_else(tmp_path, column):
    """`population.abroad`: people living elsewhere, drawn last, answer the waves and say
    so; the country's truth, declared figures, audience and answers are those without
    them; the study maps the country column (`experiment.country_column`), which leaves
    exactly them out, or does not, and counts them."""
    from crowdcensus.pipeline import _read
    from crowdcensus.simulate.outputs import export_frame

    home = generate_world(small(workers=6000), np.random.default_rng(4))
    world = generate_world(small(workers=6000, population={"abroad": 0.5},
                                 experiment={"country_column": column}),
                           np.random.default_rng(4))
    assert home.tiers() == world.tiers()
    assert np.array_equal(home.declared, world.declared)
    assert np.array_equal(home.audience, world.audience)
    r = world.responses
    pd.testing.assert_frame_equal(r.loc[~r["abroad"]].drop(columns="abroad"), home.responses)
    away = r.loc[r["abroad"], "worker"].nunique()
    # half as many people, caught as the country's are
    assert 0.4 < away / home.responses["worker"].nunique() < 0.6
    assert world.truth()["experiment"]["respondents_abroad"] == away
    exported = export_frame(world)
    said = exported.groupby("worker_hash")["country"].first()
    assert (said != "XX").sum() == away and set(said) == {"XX", "MG", "MA"}
    assert set(export_frame(home)["country"]) == {"ZZ"}   # as before, without workers abroad
    study = load_study(write_simulation(world, tmp_path, seed=4))
    assert (study.experiment.columns.country == "country") is column
    responses, _, _ = _read(study)
    assert responses.n_respondents == (said.size - away if column else said.size)
    assert sum(responses.elsewhere.values()) == (away if column else 0)
    # unmapped, the column the study leaves aside is pointed at
    assert set(responses.unmapped_countries) == (set() if column else {"XX", "MG", "MA"})


def write_study_toml(scenario) -> str:
    """The study file a simulation of ``scenario`` writes."""
    import tempfile

    with tempfile.TemporaryDirectory() as out:
        world = generate_world(scenario, np.random.default_rng(1))
        return write_simulation(world, out).read_text()


@pytest.mark.parametrize(("name", "value", "low", "high", "kind"), [
    ("dormant_share", 0.02, 0.005, 0.06, "beta"),
    ("visitors_per_person", 0.5, 0.4, 0.6, "lognormal"),
    ("answer_again", 1.0, 0.7, 1.4, "lognormal"),
    ("arrival_share", 0.2, 0.1, 0.3, "beta"),
    ("start_misdated", 0.05, 0.0, 0.1, "beta")])
def test_an_assumption_the_scenario_states_is_the_studys(tmp_path, name, value, low, high,
                                                         kind):
    """`assumptions.dormant_share`, `assumptions.visitors_per_person`,
    `assumptions.answer_again`, `assumptions.arrival_share` or
    `assumptions.start_misdated` (and its range) goes into
    the simulated study file as the study's stated assumption, which the joint model then
    takes as its prior instead of the default (a panel's visitors per person below 1, or
    an odds ratio on both sides of 1: a log-normal, not truncated at 1); without it the
    study file says nothing."""
    from crowdcensus.pipeline import _read
    from crowdcensus.synthesis.data import synthesis_data

    # the churn country's waves span the year: its model has the arrivals' default prior
    plain = small("churn" if name == "arrival_share" else "heterogeneous", workers=500)
    if name == "start_misdated":   # read where respondents say when they began
        plain = small("heterogeneous", workers=500, churn={"arrivals": 0.15},
                      experiment={"started_column": True})
    stated = plain.varied(f"assumptions.{name}", value).varied(
        f"assumptions.{name}_low", low).varied(f"assumptions.{name}_high", high)
    priors = []
    for i, sc in enumerate((plain, stated)):
        path = write_simulation(generate_world(sc, np.random.default_rng(3)), tmp_path / str(i))
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        study = load_study(path)
        # with the responses: where the waves span the year, they turn the churn model on
        priors.append(getattr(synthesis_data(study, _read(study)[0]).priors, name))
        if sc is plain:
            assert name not in raw["assumptions"]
            assert getattr(study.assumptions, name) is None
        else:
            assert raw["assumptions"][name]["value"] == value
            assert getattr(study.assumptions, name).range == (low, high)
    assert priors[0].label == priors[1].label and priors[0].params != priors[1].params
    assert priors[1].kind == kind and priors[1].origin == f"assumptions.{name}"
    with pytest.raises(ValueError, match=name):
        plain.varied(f"assumptions.{name}_low", low)


@pytest.mark.parametrize("misdated", [0.0, 0.2])
def test_a_share_of_those_there_from_the_start_name_a_month_of_the_period(tmp_path,
                                                                         misdated):
    """`experiment.start_misdated`: that share of the respondents there from the period's
    start (within sampling error, picked by the person's index) name a month of the period
    after its first and no later than their first answer's, which the joint model reads as
    "during"; those who arrived give their arrival's month whatever the share, and the rest
    of the country is the same."""
    from crowdcensus.pipeline import _read
    from crowdcensus.simulate.outputs import REFERENCE_START
    from crowdcensus.synthesis.data import synthesis_data

    def country(share):
        sc = small("heterogeneous", workers=3000, churn={"arrivals": 0.15},
                   experiment={"started_column": True, "start_misdated": share})
        path = write_simulation(generate_world(sc, np.random.default_rng(5)),
                                tmp_path / str(share))
        study = load_study(path)
        frame = pd.read_csv(study.responses_path())
        return frame, synthesis_data(study, _read(study)[0]).capture

    frame, cap = country(misdated)
    exact, exact_cap = country(0.0)
    pd.testing.assert_frame_equal(frame.drop(columns="started_month"),
                                  exact.drop(columns="started_month"))
    month = frame.drop_duplicates("worker_hash").set_index("worker_hash")["started_month"]
    said = exact.drop_duplicates("worker_hash").set_index("worker_hash")["started_month"]
    first = REFERENCE_START.strftime("%Y-%m")
    there = said < first            # the exact answers: before the period's first month
    changed = month != said
    assert not changed[~there].any()     # those who arrived keep their month
    moved = int(changed.sum())
    if misdated == 0:
        assert moved == 0
    else:
        n = int(there.sum())
        assert abs(moved / n - misdated) < 3 * np.sqrt(misdated * (1 - misdated) / n)
        assert (month[changed] > first).all()
        # nobody names a start after the month of their first answer
        answered = frame.groupby("worker_hash")["submitted_at"].min().str[:7]
        assert (month[changed] <= answered[month.index[changed]]).all()
    assert cap.start_answers == exact_cap.start_answers
    assert cap.started_during - exact_cap.started_during == moved


@pytest.mark.parametrize("weights", [None, [1, 0, 0, 0], [0, 1, 0, 3]])
def test_answers_without_reading_follow_the_scenarios_weights_and_are_read_back(
        tmp_path, weights):
    """`activity.inattentive_answers` spreads the frequency answers of those who do not
    read by its weights (the four alike when not given); the study reads the answers of
    those who failed the attention check back, counted by frequency, and they follow the
    same weights (those who pass the check always answer their own frequency's
    neighbourhood, so only the failed answers are checked)."""
    from crowdcensus.pipeline import _read

    sc = small(workers=3000, activity={"inattentive": 0.3, "inattentive_answers": weights})
    world = generate_world(sc, np.random.default_rng(5))
    responses = _read(load_study(write_simulation(world, tmp_path)))[0]
    counts = np.array([responses.failed_answers.get(c, 0) for c in CATEGORIES], dtype=float)
    assert counts.sum() == responses.inattentive > 100
    assert set(responses.failed_answers) <= set(CATEGORIES)
    p = np.full(4, 0.25) if weights is None else np.asarray(weights) / np.sum(weights)
    if (p > 0).sum() > 1:
        assert stats.chisquare(counts[p > 0], counts.sum() * p[p > 0]).pvalue > 1e-3
    assert (counts[p == 0] == 0).all()


def test_ids_per_platform_make_each_platform_a_respondent_of_its_own(tmp_path):
    """`experiment.linked_across_platforms = false` gives each platform its own worker ID,
    as the collection service's keyed hashes do: no ID answers on two platforms, and a
    person who answered on two is two respondents; by default one person has one ID."""
    worlds = {linked: generate_world(small(workers=3000, experiment={
        "linked_across_platforms": linked}), np.random.default_rng(4))
        for linked in (True, False)}
    for linked, world in worlds.items():
        path = write_simulation(world, tmp_path / str(linked))
        answers = pd.read_csv(path.parent / "responses.csv")
        spread = answers.groupby("worker_hash")["platform"].nunique()
        people = world.responses.groupby("index")["platform"].nunique()
        if linked:
            assert (spread > 1).sum() == (people > 1).sum() > 20
            assert len(spread) == len(people)
        else:
            assert (spread == 1).all()
            assert len(spread) == len(people) + (people - 1).sum()


def test_waves_of_unequal_length_expose_workers_for_their_own_days(tmp_path):
    """`experiment.wave_days` as one length per wave: a worker present all along answers
    wave w with chance q(1 - e^-(r d_w / 7)) for that wave's d_w days, answers fall in
    the wave's own days, and the study written states the lengths as given."""
    days = [1, 7, 3, 7, 1, 7]
    sc = small("ideal", workers=20000, experiment={"wave_days": days})
    world = generate_world(sc, np.random.default_rng(5))
    q, r = sc.experiment.take_up, world.responses
    for w, d in enumerate(days):
        in_wave = r[r["wave_index"] == w]
        start = sc.experiment.first_day + w * sc.experiment.spacing_days
        assert in_wave["day"].between(start, start + d).all() and in_wave["day"].max() > start
        for j, cls in enumerate(sc.activity.classes):
            members = np.flatnonzero(world.activity_class == j)
            answers = int(np.isin(in_wave["index"], members).sum())
            p = q * (1 - np.exp(-cls.visits_per_week * d / 7))
            # two-sided binomial test at 0.1%: fails if every wave were as long as another
            assert stats.binomtest(answers, len(members), p).pvalue > 1e-3, (w, cls.name)
    path = write_simulation(world, tmp_path, seed=5)
    raw = tomllib.loads(path.read_text(encoding="utf-8"))["experiment"]
    assert raw["schedule"]["wave_days"] == days
    assert raw["reach"]["posting_weeks"] == pytest.approx(sum(days) / 7)
    assert load_study(path).experiment.schedule.days(2) == 3.0


@pytest.mark.parametrize("days, field", [
    ([7, 7], "experiment.wave_days"),                  # two lengths for six waves
    ([7, 7, 7, 7, 7, 8], "experiment.spacing_days"),   # a wave longer than the spacing
])
def test_a_scenarios_wave_lengths_must_fit_its_waves(days, field):
    from crowdcensus.errors import InputError

    with pytest.raises(InputError, match=field.replace(".", r"\.")):
        small("ideal", experiment={"wave_days": days})


def test_the_joint_model_reads_each_waves_own_length(tmp_path):
    """A country whose waves alternate between 2 and 7 days: the study's schedule gives
    each wave's length, the joint model's exposure follows it, and its tiers land near the
    truth; read with the longest wave's length for all (what a single `wave_days` forced),
    the short waves look like long ones that few answered, and the occasional tier comes
    out higher. The report's table of waves gives each wave's length."""
    import re

    from crowdcensus.errors import InputError
    from crowdcensus.pipeline import _read
    from crowdcensus.report.html import render_html
    from crowdcensus.synthesis.data import synthesis_data

    days = [2, 7, 2, 7, 2, 7]
    sc = small("heterogeneous", workers=20000, experiment={"wave_days": days})
    world = generate_world(sc, np.random.default_rng(2))
    study = load_study(write_simulation(world, tmp_path, seed=2))
    study = study.model_copy(update={"synthesis": study.synthesis.model_copy(
        update={"inference": "laplace"})})
    responses = _read(study)[0]
    np.testing.assert_array_equal(synthesis_data(study, responses).capture.wave_days, days)

    def with_days(d):
        schedule = study.experiment.schedule.model_copy(update={"wave_days": d})
        return study.model_copy(update={"experiment": study.experiment.model_copy(
            update={"schedule": schedule})})

    with pytest.raises(InputError, match=r"wave_days: gives 5 waves but the responses have 6"):
        synthesis_data(with_days(days[:5]), responses)
    truth = world.tiers()
    results = run_study(study, draws=200)
    stated = results.combined
    longest = run_study(with_days(7), draws=200).combined
    # the report's table of waves gives each wave's start and length
    page = render_html(results, {})
    table = page[page.index('id="waves-table"'):]
    table = table[:table.index("</table>")]
    assert "<th class=\"num\">Days</th>" in table
    starts = study.experiment.schedule.wave_starts
    assert re.findall(r"<tr><td>w\d</td><td class=\"num\">([\d.]+)</td>"
                      r"<td class=\"num\">([\d.]+)</td>", table) == [
        (f"{a:g}", f"{d:g}") for a, d in zip(starts, days, strict=True)]
    for tier in ("very_active", "regular"):
        assert stated[tier].estimate == pytest.approx(truth[tier], rel=0.08), tier
    assert stated["occasional"].estimate < longest["occasional"].estimate


def _declaring_active(scenario: str, days: dict[int, int], inflation: float = 1.0,
                      workers: int = 8000, stated: bool = True):
    """A shipped scenario, scaled down, whose platforms ``days`` (index -> days) declare
    the accounts active in their last days of the reference period."""
    from crowdcensus.simulate.scenario import parse_scenario

    data = small(scenario, workers=workers).model_dump(mode="json")
    for j, window in days.items():
        data["platforms"][j].update(declared_active_days=window, inflation=inflation,
                                    declared_active_stated=stated)
    return parse_scenario(data)


def test_a_platform_declaring_active_accounts_declares_its_workers_active_in_the_window(
        tmp_path):
    """The first platform declares the workers who visited it in the last 30 days of the
    reference period: the other platforms' figures and everything else are the scenario's;
    the count follows the chance of a visit in the window (a sum of Bernoulli draws, so
    within four of its standard deviations of its mean); an inflation multiplies that same
    count; the study file says so unless the scenario says it does not."""
    from crowdcensus.errors import InputError

    plain = generate_world(small("churn", workers=8000), np.random.default_rng(8))
    active = generate_world(_declaring_active("churn", {0: 30}), np.random.default_rng(8))
    assert np.array_equal(plain.declared[1:], active.declared[1:])
    assert np.array_equal(plain.audience, active.audience)
    pd.testing.assert_frame_equal(plain.responses, active.responses)
    assert plain.tiers() == active.tiers()
    days = 364.0
    present = np.clip(np.minimum(active.end, days) - np.maximum(active.start, days - 30), 0, None)
    p = 1 - np.exp(-active.rate * present / 7 * active.visit_share[:, 0])
    mean, sd = p.sum(), np.sqrt((p * (1 - p)).sum())
    assert abs(active.declared[0] - mean) < 4 * sd
    assert active.declared[0] < 0.6 * plain.declared[0]      # far fewer than registered
    inflated = generate_world(_declaring_active("churn", {0: 30}, inflation=1.5),
                              np.random.default_rng(8))
    assert inflated.declared[0] == round(active.declared[0] * 1.5)
    written = load_study(write_simulation(active, tmp_path / "stated"))
    assert [p.declared_active_days for p in written.platforms] == [30, None, None]
    unstated = generate_world(_declaring_active("churn", {0: 30}, stated=False),
                              np.random.default_rng(8))
    quiet = load_study(write_simulation(unstated, tmp_path / "unstated"))
    assert [p.declared_active_days for p in quiet.platforms] == [None] * 3
    assert quiet.platforms[0].declared.value == active.declared[0]
    with pytest.raises(InputError, match=r"platforms\[1\].declared_active_days"):
        _declaring_active("churn", {1: 400})
    # the share of active accounts that are not workers', stated by the simulated study
    from crowdcensus.simulate.scenario import parse_scenario

    shared = _declaring_active("churn", {0: 30}).model_dump(mode="json")
    shared["assumptions"].update(active_nonworker_share=0.2, active_nonworker_share_low=0.1,
                                 active_nonworker_share_high=0.4)
    told = load_study(write_simulation(generate_world(parse_scenario(shared),
                                                      np.random.default_rng(8)),
                                       tmp_path / "shared"))
    assert told.assumptions.active_nonworker_share.range == (0.1, 0.4)
    shared["platforms"][0]["declared_active_stated"] = False
    with pytest.raises(InputError, match=r"assumptions.active_nonworker_share: no platform"):
        parse_scenario(shared)


def test_a_figure_taken_before_the_end_counts_the_workers_started_by_then(tmp_path):
    """The first platform's figure taken on day 182: its registrations are those of the
    workers started by then (and every inactive person's), times the inflation; with a
    window too, the window ends on that day; the rest of the country is the scenario's;
    the study file gives the day unless told not to."""
    from crowdcensus.errors import InputError
    from crowdcensus.simulate.scenario import parse_scenario

    def varied(**fields):
        data = small("churn", workers=8000).model_dump(mode="json")
        data["population"]["inactive_per_worker"] = 0.3
        data["platforms"][0].update(fields)
        return parse_scenario(data)

    plain = generate_world(varied(), np.random.default_rng(9))
    early = generate_world(varied(declared_day=182, inflation=1.2), np.random.default_rng(9))
    assert np.array_equal(plain.declared[1:], early.declared[1:])
    pd.testing.assert_frame_equal(plain.responses, early.responses)
    by_then = early.registered[early.start <= 182, 0].sum()
    assert by_then < early.registered[:, 0].sum()          # some came later
    assert early.declared[0] == round((by_then + early.inactive_registered[:, 0].sum()) * 1.2)
    active = generate_world(varied(declared_day=182, declared_active_days=30),
                            np.random.default_rng(9))
    present = np.clip(np.minimum(active.end, 182) - np.maximum(active.start, 152), 0, None)
    p = 1 - np.exp(-active.rate * present / 7 * active.visit_share[:, 0])
    assert abs(active.declared[0] - p.sum()) < 4 * np.sqrt((p * (1 - p)).sum())
    written = load_study(write_simulation(early, tmp_path / "stated"))
    assert [q.declared_day for q in written.platforms] == [182, None, None]
    quiet = generate_world(varied(declared_day=182, declared_day_stated=False),
                           np.random.default_rng(9))
    assert load_study(write_simulation(quiet, tmp_path / "quiet")).platforms[0].declared_day \
        is None
    with pytest.raises(InputError, match=r"platforms\[0\].declared_active_days"):
        varied(declared_day=20, declared_active_days=30)
    with pytest.raises(InputError, match=r"platforms\[0\].declared_day"):
        varied(declared_day=400)


def test_workers_in_two_groups_keep_to_their_own_platforms():
    """`subset`'s five platforms in two groups (clickworker and mturk; wirk, appen and
    prolific), 45% of the workers in the second. With an affinity of 1 the country is the
    scenario's, draw for draw; with 4, fewer workers hold platforms of both groups
    (here a quarter as many), the second group's platforms hold more of the workers
    found on no platform of the first, and the platforms per worker stay within 10%."""
    data = small("subset", workers=8000).model_dump(mode="json")
    data["population"].update(segment_share=0.45, segment_affinity=1.0)
    for entry in data["platforms"]:
        entry["segment"] = 0 if entry["name"] in ("clickworker", "mturk") else 1
    from crowdcensus.simulate.scenario import parse_scenario

    grouped = parse_scenario(data)
    plain = generate_world(small("subset", workers=8000), np.random.default_rng(5))
    same = generate_world(grouped, np.random.default_rng(5))
    assert np.array_equal(plain.registered, same.registered)
    pd.testing.assert_frame_equal(plain.responses, same.responses)
    apart = generate_world(grouped.varied("population.segment_affinity", 4.0),
                           np.random.default_rng(5))

    def both(world):
        reg = world.registered
        return float((reg[:, :2].any(axis=1) & reg[:, 2:].any(axis=1)).mean())

    def second_only(world):
        reg = world.registered
        return float((~reg[:, :2].any(axis=1)).mean())

    assert both(apart) < 0.7 * both(same)
    assert second_only(apart) > second_only(same) + 0.03
    per_worker = [w.registered.sum(axis=1).mean() for w in (same, apart)]
    assert abs(per_worker[1] / per_worker[0] - 1) < 0.1
    with pytest.raises(Exception, match="segment"):
        parse_scenario({**data, "platforms": [{**data["platforms"][0], "segment": 2},
                                              *data["platforms"][1:]]})
