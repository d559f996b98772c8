"""Bayesian thresholding: parity with MultipleSystemsEstimation, the sampler against
closed forms, the checks of the improper prior, and data that say nothing."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats

from crowdcensus.capture.mse.bayesthresh import bayes_threshold
from crowdcensus.capture.mse.loglinear import OverlapTable, design
from crowdcensus.capture.mse.model import MultipleSystemsModel
from crowdcensus.capture.mse.posterior import sample_posterior
from crowdcensus.capture.readers import read_histories
from crowdcensus.errors import NotIdentifiableError
from tests.cli_runner import run_cli

from .reference_bayesthresh import KNIFE_EDGE, LONG, LONG_DEFAULTS

HERE = Path(__file__).parent
DATA = HERE / "data"
PROBS = ("0.025", "0.1", "0.5", "0.9", "0.975")


def table(name: str) -> OverlapTable:
    return OverlapTable.from_histories(read_histories(DATA / f"{name}.csv"))


def r_default_rows():
    with open(HERE / "expected_bayesthresh.tsv", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    return [(r[0].lower(), [float(x) for x in r[2:7]], r[7].split()) for r in rows[1:]]


@pytest.mark.parametrize(("name", "quantiles", "retained"), r_default_rows())
def test_korea_western_against_r(name, quantiles, retained):
    # R's default chain (10,000 draws) moves 1-7 % between seeds: a few per cent here,
    # and 2 % against R's 40-times longer chain
    res = MultipleSystemsModel("bayesthresh").fit(read_histories(DATA / f"{name}.csv"))
    out = res.to_dict()
    assert out["retained"] == retained
    ours = [out["quantiles"][p] for p in PROBS]
    assert ours == pytest.approx(quantiles, rel=0.04)
    assert ours == pytest.approx(LONG_DEFAULTS[name], rel=0.02)
    assert out["popest"] == out["quantiles"]["0.5"] == res.abundance_


@pytest.mark.parametrize("key", sorted(LONG), ids=lambda k: k[0] + str(dict(k[1])))
def test_against_r_long_chains(key):
    name, options = key
    quantiles, pairs, triples, minus_inf, statistics, _call = LONG[key]
    res = bayes_threshold(table(name), **dict(options))
    ours = {**res.threshold_statistics, **res.triple_threshold_statistics}
    assert set(ours) == set(statistics)
    # R's random-walk chain, even 400,000 long, is off by up to 0.08 or 3.5 % on some
    # statistics (Ned: I:O 0.246, I:Z 4.598 in R; 0.17 and 4.44 here and in an
    # independent importance sample of 400,000 draws, effective size 139,000)
    for k, v in statistics.items():
        assert ours[k] == pytest.approx(v, rel=0.05, abs=0.1), k
    assert res.minus_infinity == minus_inf.split()
    edge = {k for d, k in KNIFE_EDGE if d == name}
    differ = set(res.retained) ^ set(pairs.split())
    assert differ <= edge, differ
    if differ:  # a statistic on the threshold: the note must say so
        assert any(k in n and "Monte Carlo" in n for k in differ for n in res.notes)
        return
    assert res.retained_triples == triples.split()
    heavy = name == "western"  # improper prior, threshold 0.2: a posterior sd of 55,000
    assert list(res.quantiles().values()) == pytest.approx(quantiles, rel=0.08 if heavy else 0.03)


def test_same_seed_same_draws_other_seed_close():
    t = table("korea")
    a, b = bayes_threshold(t, seed=7), bayes_threshold(t, seed=7)
    np.testing.assert_array_equal(a.total, b.total)
    c = bayes_threshold(t, seed=8)
    assert not np.array_equal(a.total, c.total)
    assert list(c.quantiles().values()) == pytest.approx(list(a.quantiles().values()), rel=0.03)
    assert a.rhat < 1.01 and a.ess > 5000


def test_sampler_flat_prior_against_independent_gammas():
    # Two lists, main effects, flat priors: the three cell means are independent
    # Gamma(y_c, 1) a posteriori (unit Jacobian), so the unseen cell is G10 G01 / G11.
    y = np.array([60.0, 45.0, 12.0])  # cells 10, 01, 11
    X = design(np.arange(1, 4), (0, 1, 2))
    post = sample_posterior(X, y, np.zeros(3), 20_000, np.random.default_rng(3))
    dark = np.exp(post.draws[:, 0])
    rng = np.random.default_rng(0)
    g = rng.gamma(y, size=(400_000, 3))
    exact = g[:, 0] * g[:, 1] / g[:, 2]
    probs = [0.025, 0.1, 0.5, 0.9, 0.975]
    assert np.quantile(dark, probs) == pytest.approx(np.quantile(exact, probs), rel=0.02)
    assert dark.mean() == pytest.approx(exact.mean(), rel=0.02)


def test_sampler_gaussian_prior_against_quadrature():
    # one cell, log-mean b with a N(0, 0.5) prior: density exp(y b - e^b - b^2 / 1)
    y = np.array([3.0])
    post = sample_posterior(np.ones((1, 1)), y, np.array([2.0]), 20_000,
                            np.random.default_rng(4))
    f = lambda b: np.exp(3 * b - np.exp(b) - b * b)  # noqa: E731
    z = integrate.quad(f, -20, 10)[0]
    mean = integrate.quad(lambda b: b * f(b), -20, 10)[0] / z
    sd = np.sqrt(integrate.quad(lambda b: (b - mean) ** 2 * f(b), -20, 10)[0] / z)
    assert post.mean[0] == pytest.approx(mean, abs=0.01)
    assert post.sd[0] == pytest.approx(sd, rel=0.02)
    ks = stats.kstest(post.draws[::10, 0], lambda x: np.array(
        [integrate.quad(f, -20, v)[0] / z for v in np.atleast_1d(x)]))
    assert ks.pvalue > 0.001


def test_improper_prior_refused_where_the_pairwise_mle_does_not_exist():
    # R stops on Korea too ("the full pairwise model fails the extended-MLE check")
    with pytest.raises(NotIdentifiableError, match="improper priors cannot start"):
        bayes_threshold(table("korea"), prior="improper")


def test_improper_three_list_step_skipped_with_a_note():
    res = bayes_threshold(table("western"), prior="improper", max_order=3, threshold=0.2)
    assert res.eligible_triples == ["A:C:D", "B:C:D", "A:C:E", "A:D:E", "C:D:E"]  # as R
    assert res.retained_triples == [] and res.triple_threshold_statistics == {}
    assert any("existence check" in n for n in res.notes)


def disjoint_csv(tmp_path) -> Path:
    # list C never meets A or B: with flat priors on the intercept and main effects,
    # the people on no list can be as many as one likes at no cost in likelihood
    f = tmp_path / "disjoint.csv"
    f.write_text("A,B,C,n\n1,0,0,60\n0,1,0,45\n1,1,0,20\n0,0,1,70\n")
    return f


def test_no_information_is_said_not_printed(tmp_path):
    h = read_histories(disjoint_csv(tmp_path))
    with pytest.raises(NotIdentifiableError, match="do not determine"):
        MultipleSystemsModel("bayesthresh").fit(h)
    r = run_cli("estimate", "mse", disjoint_csv(tmp_path), "--method", "bayesthresh",
                "--format", "json")
    assert r.returncode == 3 and r.stdout == ""  # 3: no model can be fitted to these data
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "do not determine" in lines[0]


@pytest.mark.parametrize("rows", [
    "A,B\n0,1\n",                                 # one person, on one list
    "A,B,n\n1,0,0\n0,1,40\n1,1,0\n",              # nobody on list A
    "A,B,C\n0,1,0\n1,0,0\n0,0,1\n",               # three people, each on one list
])
def test_improper_posteriors_are_refused_not_sampled_for_ever(tmp_path, rows):
    # the sampler's step shrank without end on these and the trajectories grew to
    # millions of leapfrog steps (the command never returned)
    f = tmp_path / "t.csv"
    f.write_text(rows)
    with pytest.raises(NotIdentifiableError, match="do not determine|not determined"):
        MultipleSystemsModel("bayesthresh").fit(read_histories(f))
    r = run_cli("estimate", "mse", f, "--method", "bayesthresh", "--format", "json")
    assert r.returncode == 3 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1


def test_neworl_gives_a_real_interval_where_r_s_chain_sticks():
    # R's default chain never moves on this eight-list table (all five quantiles
    # 1533.027, every statistic infinite); the posterior itself is well defined
    res = bayes_threshold(table("neworl"))
    q = res.quantiles()
    assert q[0.025] < 0.8 * q[0.5] and q[0.975] > 1.3 * q[0.5]
    assert all(np.isfinite(v) for v in res.threshold_statistics.values())
    assert res.rhat < 1.01


def test_cli_json_level_and_options(tmp_path):
    r = run_cli("estimate", "mse", DATA / "korea.csv", "--method", "bayesthresh", "--level",
                "0.8", "--seed", "3", "--format", "json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out["quantiles"]) == set(PROBS)
    assert set(out["ci"]) == {"0.1", "0.9"} and out["level"] == 0.8
    assert out["ci"]["0.1"] == pytest.approx(out["quantiles"]["0.1"], rel=1e-12)
    assert out["retained"] == ["b:c", "c:d"] and out["model"] == "[12,23]"
    assert out["posterior"]["seed"] == 3 and out["posterior"]["rhat"] < 1.01
    txt = run_cli("estimate", "mse", DATA / "korea.csv", "--method", "bayesthresh",
                  "--plot", tmp_path / "b.png")
    assert txt.returncode == 0 and "retained interactions: b:c, c:d" in txt.stdout
    assert (tmp_path / "b.png").stat().st_size > 1000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--prior", "improper"], "only used with --method bayesthresh"),
        (["--method", "bayesthresh", "--prior", "vague"], "--prior"),
        (["--method", "bayesthresh", "--prior", "improper", "--prior-variance", "2"],
         "--prior-variance"),
        (["--method", "bayesthresh", "--max-order", "4"], "--max-order"),
        (["--method", "bayesthresh", "--bootstrap", "10"], "--bootstrap"),
        (["--method", "bayesthresh", "--threshold", "-1"], "--threshold"),
        (["--level", "1.2"], "--level"),
    ],
)
def test_bad_options_one_line(args, message):
    r = run_cli("estimate", "mse", DATA / "korea.csv", *args)
    assert r.returncode == 2 and r.stdout == ""
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1
