"""Each method against hand-computed values, and the reach weighting against a known truth."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from crowdcensus.errors import InputError, NotIdentifiableError
from crowdcensus.methods.audience import audience_regular
from crowdcensus.methods.declared import declared_occasional
from crowdcensus.methods.experiment import (
    RespondentArrays,
    experiment_tiers,
    model_average,
    weighted_multihoming,
)
from crowdcensus.sources.figures import platform_figures
from crowdcensus.sources.responses import parse_responses
from crowdcensus.study import parse_study
from crowdcensus.tiers import disjoint, reach_probability, weighted_shares

COLUMNS = {"worker": "worker_hash", "wave": "wave", "platform": "platform",
           "frequency": "frequency", "registered_on": "platforms_registered"}


def _central(study):
    return {p: np.array([q.value]) for p, q in study.quantities()}


def test_declared_by_hand(study_dict):
    study = parse_study(study_dict)
    values = _central(study)
    # (1000 + 500) / 1.25 = 1200
    assert declared_occasional(values, platform_figures(study), np.array([1.25]))[0] == \
        pytest.approx(1200.0, rel=1e-12)


def test_audience_by_hand(study_dict):
    study = parse_study(study_dict)
    values = _central(study)
    # (400 x 0.8 + 100 x 1) / 1.25 = 336; platform B has no worker share (counts as 1)
    assert audience_regular(values, platform_figures(study), np.array([1.25]))[0] == \
        pytest.approx(336.0, rel=1e-12)
    values["platforms[0].audience.worker_share"] = np.array([0.5])
    assert audience_regular(values, platform_figures(study), np.array([1.0]))[0] == \
        pytest.approx(300.0, rel=1e-12)


def test_reach_probability():
    assert reach_probability(0.5, 3) == pytest.approx(0.875)
    assert reach_probability(1.0, 2) == pytest.approx(1.0)
    assert reach_probability(np.array([0.2, 0.1]), 2) == pytest.approx([0.36, 0.19])


def test_weighted_shares_by_hand():
    # counts 10, 20, 30 with reach 1, 0.5, 0.25 -> weights 10, 40, 120 of 170
    s = weighted_shares(np.array([10, 20, 30]), np.array([1.0, 0.5, 0.25]))
    assert s == pytest.approx([10 / 170, 40 / 170, 120 / 170])


def test_experiment_tiers_by_hand():
    cats = ("several_weekly", "weekly", "monthly", "less_often")
    reach = reach_probability(np.array([[1.0, 0.5, 0.2, 0.1]]), 2)  # 1, .75, .36, .19
    counts = np.array([[6.0, 3.0, 9.0, 19.0]])  # weights 6, 4, 25, 100 of 135
    tiers, bands = experiment_tiers(np.array([2700.0]), counts, reach, cats)
    assert bands["very_active"][0] == pytest.approx(10 / 135)
    assert bands["regular_only"][0] == pytest.approx(25 / 135)
    assert tiers["very_active"][0] == pytest.approx(200.0)
    assert tiers["regular"][0] == pytest.approx(700.0)
    assert tiers["occasional"][0] == pytest.approx(2700.0)
    d = disjoint(tiers)
    assert d["regular_only"][0] + d["occasional_only"][0] + d["very_active"][0] == \
        pytest.approx(2700.0)


def test_weighted_multihoming_by_hand():
    # category 0 (reach 1): k = 2, 3; category 1 (reach 0.5): k = 1 and one missing
    # m = (2 + 3 + 1/0.5) / (1 + 1 + 1/0.5) = 7 / 4
    arr = RespondentArrays(("weekly", "monthly"), np.array([0, 0, 1, 1]),
                           np.array([2.0, 3.0, 1.0, np.nan]))
    counts, k_sum, k_n = arr.summaries(None, 1)
    assert counts[0].tolist() == [2, 2]
    m = weighted_multihoming(k_sum, k_n, np.array([[1.0, 0.5]]))
    assert m[0] == pytest.approx(1.75)


def test_bootstrap_summaries_are_resamples_of_the_respondents():
    # five respondents; answers (category, platforms): (0, 2), (2, -), (1, 1), (1, 4), (0, 3)
    arr = RespondentArrays(("weekly", "monthly", "less_often"), np.array([0, 2, 1, 1, 0]),
                           np.array([2.0, np.nan, 1.0, 4.0, 3.0]))
    size = 40_000
    counts, k_sum, k_n = arr.summaries(np.random.default_rng(3), size)
    # every row holds five respondents, each answer a whole number of times
    assert (counts.sum(axis=1) == 5).all() and (k_n <= counts).all()
    assert (k_n[:, 2] == 0).all() and (k_n[:, :2] == counts[:, :2]).all()
    # category 0 draws k = 2 or 3: its sum lies between 2 and 3 per respondent
    assert ((k_sum[:, 0] >= 2 * counts[:, 0]) & (k_sum[:, 0] <= 3 * counts[:, 0])).all()
    # resampling with replacement: each respondent drawn Binomial(5, 1/5) times, so a
    # category holding m of the five has mean 5 m/5 and variance 5 (m/5)(1 - m/5)
    for j, m in enumerate([2, 2, 1]):
        p = m / 5
        assert counts[:, j].mean() == pytest.approx(5 * p, abs=4 * (5 * p * (1 - p) / size) ** .5)
        assert counts[:, j].var() == pytest.approx(5 * p * (1 - p), rel=0.05)
    # the platforms' sum in category 1: 1 x Bin(5, 1/5) + 4 x Bin(5, 1/5), a covariance of -1/5
    assert k_sum[:, 1].mean() == pytest.approx(5.0, abs=0.05)
    assert k_sum[:, 1].var() == pytest.approx(17 * 0.8 - 2 * 4 * 0.2, rel=0.05)
    # without a generator, every row is the data
    counts, k_sum, k_n = arr.summaries(None, 2)
    assert counts.tolist() == [[2, 2, 1]] * 2 and k_sum.tolist() == [[5, 5, 0]] * 2
    assert k_n.tolist() == [[2, 2, 0]] * 2


def _model(name, n, se, aic, status="ok"):
    return SimpleNamespace(name_=name, abundance_=n, stderr_=se, aic_=aic, status_=status)


def test_model_average_by_hand():
    models = [_model("A", 100.0, 10.0, 10.0), _model("B", 120.0, 20.0, 12.0),
              _model("C", 200.0, 5.0, 1.0, status="not converged"),
              _model("D", math.inf, math.inf, 0.5, status="unbounded"),
              _model("E", 150.0, 9.0, 11.0, status="boundary: eta5=0")]
    # E is usable (boundary); drop it to get the two-model hand computation first
    avg = model_average(models[:4], n_captured=80)
    # weights exp(0), exp(-1) normalised: 0.7310586, 0.2689414
    assert avg.table.set_index("model")["weight"].to_dict() == pytest.approx(
        {"A": 0.7310585786, "B": 0.2689414214, "C": 0.0, "D": 0.0})
    assert avg.estimate == pytest.approx(105.3788284274, rel=1e-9)
    # Buckland et al.: sum w sqrt(var + (N - Nbar)^2)
    assert avg.stderr == pytest.approx(14.9639384836, rel=1e-9)
    assert avg.selected == "A"
    lo, hi = avg.interval(0.95)
    assert (lo, hi) == pytest.approx((88.7000262700, 154.0325273007), rel=1e-8)
    assert model_average(models, 80).table.set_index("model").loc["E", "used"]


def test_model_average_needs_a_usable_model():
    with pytest.raises(NotIdentifiableError):
        model_average([_model("A", math.inf, math.inf, 1.0, "unbounded")], 10)


def test_model_average_draws_follow_chao_lognormal():
    avg = model_average([_model("A", 1000.0, 100.0, 1.0)], n_captured=600)
    d = avg.draw(np.random.default_rng(1), 200_000)
    assert d.min() > 600  # never below the number caught
    assert np.median(d) == pytest.approx(1000.0, rel=0.01)
    lo, hi = avg.interval(0.95)
    assert np.quantile(d, [0.025, 0.975]) == pytest.approx([lo, hi], rel=0.01)


def test_weighting_recovers_a_known_truth():
    """Simulate a population, reach each member with chance r_c: weighted shares hit the truth."""
    rng = np.random.default_rng(11)
    truth = np.array([0.1, 0.2, 0.7])
    reach = reach_probability(np.array([0.9, 0.3, 0.05]), 4)
    cat = rng.choice(3, size=60_000, p=truth)
    reached = rng.random(cat.size) < reach[cat]
    counts = np.bincount(cat[reached], minlength=3)
    assert weighted_shares(counts, reach) == pytest.approx(truth, abs=0.01)
    assert abs(counts[2] / counts.sum() - 0.7) > 0.3  # unweighted is far off


def _responses_frame():
    return pd.DataFrame({
        "worker_hash": ["a", "b", "a", "c", "d", "c"],
        "wave": ["w1", "w1", "w2", "w2", "w2", "w3"],
        "platform": ["P", "Q", "P", "P", "Q", "Q"],
        "frequency": ["Weekly", "Une fois par mois", "Monthly", "less often",
                      "SEVERAL times a week", "Weekly"],
        "platforms_registered": ["P;Q", "2", "P", "", "P, Q, R", "Q"],
    })


def test_parse_responses():
    r = parse_responses(_responses_frame(), COLUMNS, {"Une fois par mois": "monthly"})
    assert r.n_respondents == 4
    # first answer (earliest wave) is kept: a said Weekly in w1, Monthly in w2
    assert r.respondents.loc["a", "category"] == "weekly"
    assert r.respondents.loc["b", "category"] == "monthly"
    assert r.respondents.loc["d", "category"] == "several_weekly"
    assert r.respondents.loc["a", "n_registered"] == 2
    assert r.respondents.loc["d", "n_registered"] == 3
    assert math.isnan(r.respondents.loc["c", "n_registered"])
    assert r.histories.occasions == ("w1", "w2", "w3")
    assert r.histories.n_captured == 4
    assert r.histories.per_occasion().tolist() == [2, 3, 1]


def test_parse_responses_errors():
    frame = _responses_frame()
    with pytest.raises(InputError, match="'Une fois par mois' in column 'frequency' is not "
                                         "mapped"):
        parse_responses(frame, COLUMNS)
    with pytest.raises(InputError, match=r"missing column 'wid' \(experiment.columns.worker"):
        parse_responses(frame, {**COLUMNS, "worker": "wid"})
    one_wave = frame.assign(wave="w1")
    with pytest.raises(InputError, match="at least 2 waves"):
        parse_responses(one_wave, COLUMNS, {"Une fois par mois": "monthly"})
    zero = frame.assign(platforms_registered="0")
    with pytest.raises(InputError, match="fewer than one platform"):
        parse_responses(zero, COLUMNS, {"Une fois par mois": "monthly"})
