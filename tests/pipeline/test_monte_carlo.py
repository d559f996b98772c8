"""The methods' Monte Carlo and the inverse-variance baseline: reproducible with a seed,
draws that respect the inputs' ranges, weights and spread as specified."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crowdcensus.pipeline import run_study
from crowdcensus.study import parse_study
from crowdcensus.synthesis.baseline import combination_weights


def triangulate(study, **kwargs):
    """The methods on their own and their inverse-variance combination (no joint model)."""
    return run_study(study, joint=False, **kwargs)


def test_same_seed_same_output_different_seed_different(study_dict):
    study = parse_study(study_dict)
    a = triangulate(study, seed=5, draws=300)
    b = triangulate(study, seed=5, draws=300)
    c = triangulate(study, seed=6, draws=300)
    pd.testing.assert_frame_equal(a.draws_frame, b.draws_frame)
    assert a.baseline == b.baseline
    assert not np.allclose(a.draws_frame["inverse_variance.occasional"],
                           c.draws_frame["inverse_variance.occasional"])
    assert a.baseline["occasional"].estimate == c.baseline["occasional"].estimate  # point
    assert a.baseline["occasional"].low != c.baseline["occasional"].low


def test_settings_seed_and_draws_are_used(study_dict):
    study = parse_study(study_dict)
    r = triangulate(study)
    assert (r.seed, r.draws, len(r.draws_frame)) == (3, 200, 200)


def test_draws_stay_in_their_ranges(study_dict):
    study = parse_study(study_dict)
    r = triangulate(study, seed=1, draws=5000)
    d = r.draws_frame
    assert d["platforms[0].declared"].between(900, 1100).all()
    assert (d["platforms[1].declared"] == 500).all()  # no range: fixed
    # triangular(900, 1000, 1100) has mean 1000
    assert d["platforms[0].declared"].mean() == pytest.approx(1000, abs=3)
    # the declared occasional tier in every draw is sum / m of that draw
    expect = (d["platforms[0].declared"] + d["platforms[1].declared"]) / d["multihoming"]
    assert np.allclose(d["declared.occasional"], expect)


def test_uniform_distribution(study_dict):
    study_dict["platforms"][0]["declared"]["distribution"] = "uniform"
    r = triangulate(parse_study(study_dict), seed=2, draws=20_000)
    x = r.draws_frame["platforms[0].declared"]
    assert x.var() == pytest.approx(200**2 / 12, rel=0.05)  # uniform(900, 1100)


def test_inverse_variance_weights_on_log_scale():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1.0, 100_000)
    b = rng.normal(0, 2.0, 100_000)
    w = combination_weights({"a": a, "b": b})
    assert w["a"] == pytest.approx(0.8, abs=0.01)  # 1/1 / (1/1 + 1/4)
    assert combination_weights({"a": np.zeros(5), "b": b}) == {"a": 1.0, "b": 0.0}


def test_combined_tier_when_two_methods_estimate_it(study_dict):
    # a share of the audience figure gives a second estimate of the regular tier
    study_dict["experiment"] = {"share_base": "declared", "shares": {
        "regular": {"value": 0.3, "low": 0.2, "high": 0.4, "status": "assumed"}}}
    r = triangulate(parse_study(study_dict), seed=4, draws=2000)
    w = r.weights["regular"]
    assert set(w) == {"audience", "experiment"} and sum(w.values()) == pytest.approx(1)
    aud = r.methods["audience"]["regular"].estimate  # 336
    exp = r.methods["experiment"]["regular"].estimate  # 0.3 x 1200 = 360
    assert (aud, exp) == pytest.approx((336, 360))
    expected = np.exp(w["audience"] * np.log(aud) + w["experiment"] * np.log(exp))
    assert r.baseline["regular"].estimate == pytest.approx(expected)
    assert min(aud, exp) < r.baseline["regular"].estimate < max(aud, exp)


def test_between_method_variance_by_hand():
    """DerSimonian-Laird: y = (0, 1), v = (0.01, 0.04): w = (100, 25), ybar = 0.2,
    Q = 100 * 0.04 + 25 * 0.64 = 20, c = 125 - (10000 + 625) / 125 = 40, tau2 = 19/40."""
    from crowdcensus.synthesis.baseline import between_method_variance

    tau2 = between_method_variance({"a": 0.0, "b": 1.0}, {"a": 0.01, "b": 0.04})
    assert tau2 == pytest.approx(19 / 40)
    assert between_method_variance({"a": 0.0, "b": 0.05}, {"a": 0.01, "b": 0.04}) == 0.0
    assert between_method_variance({"a": 0.0}, {"a": 0.01}) == 0.0




def _two_methods_on_regular(study_dict, share):
    """The regular tier from the audience (336) and from a share of the declared (1,200 x s)."""
    study_dict["experiment"] = {
        "share_base": "declared", "tiers": ["very_active", "regular"],
        "shares": {
            "very_active": {"value": 0.05, "low": 0.04, "high": 0.06, "status": "assumed",
                            "source": "s"},
            "regular": {"value": share, "low": share * 0.95, "high": share * 1.05,
                        "status": "assumed", "source": "s"},
        },
    }
    return triangulate(parse_study(study_dict), seed=5, draws=4000)


def test_disagreeing_methods_widen_the_combined_interval(study_dict):
    import copy

    agree = _two_methods_on_regular(copy.deepcopy(study_dict), 0.28)
    apart = _two_methods_on_regular(copy.deepcopy(study_dict), 0.70)
    assert agree.methods["audience"]["regular"].estimate == pytest.approx(336)
    assert apart.methods["experiment"]["regular"].estimate == pytest.approx(840)
    width = {k: r.baseline["regular"].high / r.baseline["regular"].low
             for k, r in (("agree", agree), ("apart", apart))}
    # far apart: the between-method spread widens the interval so that it reaches both
    assert width["apart"] > 1.5 * width["agree"]
    iv = apart.baseline["regular"]
    assert iv.low < apart.baseline["regular"].estimate < iv.high
    # the point estimate keeps the inverse-variance weights
    w = apart.weights["regular"]
    est = {m: apart.methods[m]["regular"].estimate for m in w}
    assert iv.estimate == pytest.approx(np.exp(sum(w[m] * np.log(est[m]) for m in w)))


def test_a_method_that_finds_no_worker_is_left_out_of_the_combination(tmp_path):
    """A country whose workers all visit about once in four months: nobody answers as
    weekly, and the experiment finds no very active worker (no logarithm to weigh).
    The combination leaves it out and says so, with no numerical warning on the way;
    a tier no method puts a worker in has no combined figure (not a NaN)."""
    import warnings

    from crowdcensus.simulate.outputs import write_simulation
    from crowdcensus.simulate.world import generate_world
    from tests.simulate.conftest import small

    rare = {"classes": [{"name": "rare", "share": 1.0, "visits_per_week": 0.054}]}
    world = generate_world(small("heterogeneous", workers=3000, activity=rare),
                           np.random.default_rng(1))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        r = triangulate(write_simulation(world, tmp_path), seed=1)
    assert r.methods["experiment"]["very_active"].estimate == 0
    assert "very_active" not in r.baseline and "very_active" not in r.weights
    assert any("finds no worker in the very active tier" in w for w in r.warnings)
    assert r.methods["experiment"]["occasional"].estimate > 0
    assert set(r.weights["occasional"]) == {"declared", "experiment"}
    assert all(np.isfinite(iv.estimate) for iv in r.baseline.values())
