"""The two take-up models averaged by their marginal likelihoods (no fit: posteriors
made by hand, and a fit function that records what it is asked)."""

from __future__ import annotations

import numpy as np
import pytest

from crowdcensus.synthesis.averaging import (
    WEIGHT,
    WINDOW,
    draw_models,
    fit_averaged,
    mix,
    reweighted,
    slope_probability,
)
from crowdcensus.synthesis.inference import Posterior


def _post(evidence, n=4000, **sites):
    samples = {"workers": np.zeros(n), **{k: np.full(n, v, dtype=float)
                                         for k, v in sites.items()}}
    return Posterior(samples, "laplace", {}, {"log_evidence": evidence})


@pytest.mark.parametrize("gap", [-30.0, -2.0, 0.0, 1.5, 40.0])
def test_the_slope_probability_is_the_logistic_of_the_log_evidence_difference(gap):
    p = slope_probability(_post(-500.0), _post(-500.0 + gap))
    assert p == pytest.approx(1 / (1 + np.exp(-gap)), rel=1e-12)


def test_a_fit_without_a_marginal_likelihood_leaves_even_odds():
    assert slope_probability(_post(None), _post(-3.0)) == 0.5
    assert slope_probability(_post(-3.0), _post(np.nan)) == 0.5


def test_the_mixture_takes_each_draw_from_one_model_with_its_probability():
    """Each draw comes whole from one model (its sites together), from the slope model
    with the given probability; each site only one model has takes the other's fixed
    value (slope 0, log sight 0) in the other's draws."""
    without = _post(0.0, log_sight=-1.0)
    with_slope = _post(0.0, takeup_slope=0.8)
    with_slope.samples["workers"] = np.ones(4000)
    mixed = mix(without, with_slope, 0.3, seed=5)
    from_slope = mixed.samples["workers"] == 1
    assert abs(from_slope.mean() - 0.3) < 3 * np.sqrt(0.3 * 0.7 / 4000)
    np.testing.assert_array_equal(mixed.samples["takeup_slope"], np.where(from_slope, 0.8, 0))
    np.testing.assert_array_equal(mixed.samples["log_sight"], np.where(from_slope, 0, -1.0))
    assert mixed.diagnostics[WEIGHT] == 0.3
    again = mix(without, with_slope, 0.3, seed=5)
    np.testing.assert_array_equal(again.samples["workers"], mixed.samples["workers"])


def test_a_model_whose_chains_ran_on_further_keeps_every_draw_in_the_mixture():
    """Two chains of 2,000 draws beside two of 500 (one model's chains ran on further):
    the mixture has 4,000 draws, every draw of the longer kept in its place, the
    shorter's repeated in order and chain by chain, and says 2,000 draws a chain."""
    longer = _post(0.0, n=4000)
    longer.samples["workers"] = np.arange(4000.0)
    shorter = _post(0.0, n=1000)
    shorter.samples["workers"] = -1.0 - np.arange(1000.0)
    for post, draws in ((longer, 2000), (shorter, 500)):
        post.diagnostics.update(chains=2, draws=draws)
    for p in (0.3, 0.7):
        mixed = mix(longer, shorter, p, seed=3)
        w = mixed.samples["workers"]
        assert w.shape == (4000,) and mixed.diagnostics["draws"] == 2000
        from_short = w < 0
        np.testing.assert_array_equal(w[~from_short], np.arange(4000.0)[~from_short])
        index = -1 - w[from_short]                 # the shorter's rows, in order
        assert np.all(np.diff(index) >= 0)
        # the first half of the mixture holds the shorter's first chain only
        assert np.all((index < 500) == (np.flatnonzero(from_short) < 2000))
        assert abs(from_short.mean() - p) < 0.03


def test_a_model_that_did_not_converge_makes_the_average_not_converge():
    bad = _post(0.0)
    bad.converged, bad.problems = False, ["50 divergent transitions"]
    out = mix(_post(0.0), bad, 0.5)
    assert not out.converged and out.problems == ["50 divergent transitions"]


def test_the_mixture_says_either_model_was_sampled_a_second_time():
    """The average's diagnostics are the more probable model's, but a second sampling of
    the other (its first chains refused) is still said, with the higher target or the
    wider spread of draws that made its mass matrix."""
    from crowdcensus.synthesis.inference import MASS_FROM_DRAWS, RETRIED

    first, second = _post(0.0), _post(0.0)
    first.diagnostics.update({RETRIED: [], "target_accept": 0.9})
    second.diagnostics.update({RETRIED: ["14 of 1000 transitions diverged"],
                               "target_accept": 0.97})
    for p in (0.2, 0.8):  # the main model either way
        out = mix(first, second, p)
        assert out.diagnostics[RETRIED] == ["14 of 1000 transitions diverged"]
        assert out.diagnostics["target_accept"] == 0.97
    assert mix(first, _post(0.0), 0.2).diagnostics[RETRIED] == []
    # a model sampled again with its draws' covariance as the mass matrix: the widest
    # spread of either is kept
    third = _post(0.0)
    third.diagnostics.update({RETRIED: ["R-hat above 1.05"], "target_accept": 0.9,
                              MASS_FROM_DRAWS: 6.5})
    out = mix(second, third, 0.3)
    assert out.diagnostics[MASS_FROM_DRAWS] == 6.5
    assert out.diagnostics[RETRIED] == ["14 of 1000 transitions diverged", "R-hat above 1.05"]
    assert mix(first, second, 0.5).diagnostics[MASS_FROM_DRAWS] is None


@pytest.mark.parametrize("gap, sampled", [(-20.0, [False]), (20.0, [True]),
                                          (0.0, [False, True])])
def test_nuts_samples_only_the_models_inside_occams_window(gap, sampled):
    """With NUTS, the two models are first fitted at their modes (Laplace), and only those
    whose probability is at least WINDOW are sampled; the result says the probability."""
    calls, bridges = [], []

    def fit(slope, method, predictive, start, bridge=False):
        calls.append((slope, method))
        bridges.append(bridge)
        evidence = -100.0 + (gap if slope else 0.0)
        post = _post(evidence, **({"takeup_slope": 0.5} if slope else {"log_sight": 0.0}))
        post.method = method
        if slope:
            post.samples["workers"] = np.ones(4000)
        return post

    out = fit_averaged(fit, "nuts", predictive=False)
    assert calls[:2] == [(False, "laplace"), (True, "laplace")]
    assert [s for s, m in calls[2:]] == sampled and all(m == "nuts" for _, m in calls[2:])
    # the marginal likelihood from the draws is asked for only where both are sampled
    assert bridges == [False, False] + [len(sampled) == 2] * len(sampled)
    p = 1 / (1 + np.exp(-gap))
    assert out.diagnostics[WEIGHT] == pytest.approx(p) and out.method == "nuts"
    share = float(np.mean(out.samples["workers"]))
    if len(sampled) == 1:
        assert share == (1.0 if sampled[0] else 0.0) and min(p, 1 - p) < WINDOW
    else:
        assert 0.45 < share < 0.55


def test_with_laplace_the_two_fits_are_the_draws_the_second_searched_from_the_first():
    """The model without the slope is searched from the usual start, the one with it from
    the first one's mode; nothing else is fitted."""
    calls = []

    def fit(slope, method, predictive, start, bridge=False):
        calls.append((slope, method, predictive, start))
        post = _post(-10.0 if slope else -10.5)
        post.mode = {"takeup_logit": np.array(0.5 if slope else -0.3)}
        return post

    fit_averaged(fit, "laplace", predictive=True)
    assert [c[:3] for c in calls] == [(False, "laplace", True), (True, "laplace", True)]
    assert calls[0][3] is None and float(calls[1][3].mode["takeup_logit"]) == -0.3


def test_the_second_reading_is_searched_from_the_first_ones_mode_and_hessian(monkeypatch):
    """fit_readings hands the model with the slope the first fit's mode and Hessian (its
    ``precision``); the mixture keeps neither model's Hessian."""
    import crowdcensus.synthesis.averaging as averaging

    asked = []

    def fake_fit_joint(data, method, seed, progress, predictive, start, bridge,
                       start_precision, **options):
        asked.append((start, start_precision))
        post = _post(-10.0 - len(asked) * 0.1)
        post.mode = {"takeup_logit": np.array(0.2 * len(asked))}
        post.precision = np.full((2, 2), float(len(asked)))
        return post

    monkeypatch.setattr(averaging, "fit_joint", fake_fit_joint)
    monkeypatch.setattr(averaging, "with_take_up_slope", lambda data, slope: data)
    out = averaging.fit_readings(object(), "laplace", predictive=False)
    assert asked[0] == (None, None)
    assert float(asked[1][0]["takeup_logit"]) == pytest.approx(0.2)
    np.testing.assert_array_equal(asked[1][1], np.full((2, 2), 1.0))
    assert len(asked) == 2 and out.precision is None


@pytest.mark.parametrize("method", ["laplace", "nuts"])
@pytest.mark.parametrize("failing", [False, True])
def test_a_model_that_fails_at_its_mode_is_left_out_and_said(method, failing):
    """Where one model has no usable fit at its mode and the other has, the other is kept
    alone (sampled by NUTS where that is the method), with probability 1 or 0, and the
    diagnostics say which was left out and why."""
    from crowdcensus.synthesis.averaging import LEFT_OUT

    calls = []

    def fit(slope, m, predictive, start, bridge=False):
        calls.append((slope, m))
        post = _post(-1.0)
        post.method = m
        if slope == failing:
            post.converged, post.problems = False, ["the Hessian is not positive definite"]
        return post

    out = fit_averaged(fit, method, predictive=False)
    kept = not failing
    assert out.converged and out.diagnostics[WEIGHT] == float(kept)
    assert out.diagnostics[LEFT_OUT] == (
        f"the model {'without' if failing is False else 'with'} the take-up slope was left "
        "out of the average (the Hessian is not positive definite)")
    assert calls[2:] == ([] if method == "laplace" else [(kept, "nuts")])


def test_the_mixture_says_which_model_each_draw_comes_from():
    without = _post(0.0, log_sight=-1.0)
    with_slope = _post(0.0, takeup_slope=0.8)
    mixed = mix(without, with_slope, 0.4, seed=2)
    np.testing.assert_array_equal(draw_models(mixed.samples),
                                  mixed.samples["takeup_slope"] == 0.8)
    assert draw_models(with_slope.samples).all()
    assert not draw_models(without.samples).any()
    assert draw_models({"workers": np.zeros(3)}) is None


@pytest.mark.parametrize("p, odds", [(0.3, 4.0), (0.3, 0.25), (0.9, 0.25), (0.02, 4.0)])
def test_other_prior_odds_move_the_probability_by_bayes_rule(p, odds):
    """Prior odds k times the even ones multiply the posterior odds by k; the weights
    give each model's draws that new probability, evenly within the model."""
    models = np.random.default_rng(1).random(5000) < p
    w, new = reweighted(models, p, odds=odds)
    assert new / (1 - new) == pytest.approx(odds * p / (1 - p), rel=1e-12)
    assert w[models].sum() == pytest.approx(new, rel=1e-12)
    assert np.ptp(w[models]) < 1e-15 and np.ptp(w[~models]) < 1e-15


def test_a_changed_prior_of_one_models_parameter_moves_its_probability_as_its_evidence():
    """Against the closed form: model 1 has y ~ N(mu, 1) with mu ~ N(0, tau^2), so its
    marginal likelihood is N(y; 0, 1 + tau^2); model 0 has no parameter (y ~ N(0, 1)).
    The prior of mu raised to the power 4 is N(0, tau^2 / 4): reweighting the draws of
    model 1 gives the probability and posterior mean of the model with that prior."""
    from scipy import stats

    from crowdcensus.synthesis.sensitivity import normal_power_log_ratio

    y, tau, alpha, n = 1.3, 2.0, 4.0, 400_000
    rng = np.random.default_rng(3)

    def evidence(t):
        return stats.norm.pdf(y, 0, np.sqrt(1 + t * t))

    def probability(t):
        return evidence(t) / (evidence(t) + stats.norm.pdf(y, 0, 1))

    p = probability(tau)
    models = rng.random(n) < p
    shrink = tau * tau / (1 + tau * tau)
    mu = np.where(models, rng.normal(shrink * y, np.sqrt(shrink), n), 0.0)
    w, new = reweighted(models, p, log_ratio=(None, normal_power_log_ratio(mu, tau, alpha)))
    narrow = tau / np.sqrt(alpha)
    assert new == pytest.approx(probability(narrow), abs=2e-3)
    shrink2 = narrow * narrow / (1 + narrow * narrow)
    assert np.sum(w[models] * mu[models]) / new == pytest.approx(shrink2 * y, abs=5e-3)
    # and the reverse change leaves the other model's draws even
    w0, _ = reweighted(~models, 1 - p, log_ratio=(normal_power_log_ratio(mu, tau, alpha), None))
    assert w0[~models].sum() == pytest.approx(1 - new, abs=2e-3)


def test_the_readings_table_sets_each_reading_beside_the_average():
    """Each reading's figures are those of its own draws; other prior odds move the
    median towards the reading they favour, with the probability Bayes's rule gives."""
    from crowdcensus.synthesis.summary import readings

    rng = np.random.default_rng(6)
    n = 20_000
    models = rng.random(n) < 0.3
    tiers = {t: np.where(models, 1300.0, 1000.0) + rng.normal(0, 20, n)
             for t in ("occasional", "regular", "very_active")}
    samples = {"slope_model": models.astype(float)}
    table = readings(tiers, samples, 0.3, 0.9).set_index("tier")
    row = table.loc["occasional"]
    assert row["without"] == pytest.approx(np.median(tiers["occasional"][~models]))
    assert row["with_slope_low"] == pytest.approx(
        np.quantile(tiers["occasional"][models], 0.05))
    assert row["averaged"] == pytest.approx(np.median(tiers["occasional"]))
    assert row["probability_higher"] == pytest.approx(4 * 0.3 / (4 * 0.3 + 0.7))
    assert row["probability_lower"] == pytest.approx(0.25 * 0.3 / (0.25 * 0.3 + 0.7))
    # 4:1 makes the slope reading the more probable (63%): the median is its
    assert 1250 < row["odds_higher"] < 1350 and row["odds_lower"] < row["averaged"] < 1100
    assert readings(tiers, samples, None, 0.9).empty


def test_the_warning_names_the_tiers_whose_readings_differ():
    from crowdcensus.synthesis.summary import READINGS_DIFFER, readings, readings_warning

    rng = np.random.default_rng(8)
    n = 8000
    models = rng.random(n) < 0.4
    gap = {"occasional": 1.3, "regular": 1.0 + READINGS_DIFFER / 3, "very_active": 1.0}
    tiers = {t: 1000 * np.where(models, g, 1.0) * np.exp(rng.normal(0, 0.01, n))
             for t, g in gap.items()}
    table = readings(tiers, {"slope_model": models.astype(float)}, 0.4, 0.95)
    line = readings_warning(table)
    occ = table.set_index("tier").loc["occasional"]
    assert f"occasional {occ['without']:,.0f} ({occ['without_low']:,.0f}-" in line
    assert f"occasional {occ['with_slope']:,.0f} (" in line and "40% from even" in line
    assert "regular" not in line and "very active" not in line
    # the same readings, or one reading left out: nothing to say
    same = readings({t: tiers["very_active"] for t in tiers},
                    {"slope_model": models.astype(float)}, 0.4, 0.95)
    assert readings_warning(same) is None
    alone = readings(tiers, {"log_sight": np.zeros(n)}, 0.004, 0.95)
    assert alone["with_slope"].isna().all() and readings_warning(alone) is None


@pytest.mark.parametrize("bridged", [True, False])
def test_where_nuts_samples_both_their_weights_come_from_bridge_sampling(bridged):
    """The Laplace marginal likelihoods choose which models NUTS samples; where it samples
    both, the weights are their bridge sampling estimates (the Laplace probability kept
    beside), and where a sampled fit has none (it did not converge), the Laplace ones."""
    from crowdcensus.synthesis.averaging import WEIGHT_LAPLACE

    def fit(slope, method, predictive, start, bridge=False):
        post = _post(-100.0 + (0.5 if slope else 0.0),
                     **({"takeup_slope": 0.5} if slope else {"log_sight": 0.0}))
        post.method = method
        if method == "nuts" and bridge and bridged:    # (not bridged: it did not converge)
            post.diagnostics["log_evidence_bridge"] = -99.0 - (2.0 if slope else 0.0)
        return post

    out = fit_averaged(fit, "nuts", predictive=False)
    laplace = 1 / (1 + np.exp(-0.5))
    if bridged:
        assert out.diagnostics[WEIGHT] == pytest.approx(1 / (1 + np.exp(2.0)))
        assert out.diagnostics[WEIGHT_LAPLACE] == pytest.approx(laplace)
    else:
        assert out.diagnostics[WEIGHT] == pytest.approx(laplace)
        assert WEIGHT_LAPLACE not in out.diagnostics
    share = float(np.mean(draw_models(out.samples)))
    assert abs(share - out.diagnostics[WEIGHT]) < 0.03


@pytest.mark.parametrize("failing", [False, True])
def test_where_nuts_cannot_sample_one_model_the_other_is_kept_and_said(failing):
    """Both models weigh at their modes and are sampled; the sampler does not converge for
    one: the figures are the other's alone, converged, and the diagnostics say which was
    left out, why, and the probability the modes gave it."""
    from crowdcensus.synthesis.averaging import LEFT_OUT, WEIGHT_LAPLACE

    def fit(slope, method, predictive, start, bridge=False):
        post = _post(-100.0 + (np.log(3) if slope else 0.0),
                     **({"takeup_slope": 0.5} if slope else {"log_sight": 0.0}))
        post.method = method
        if method == "nuts" and slope == failing:
            post.converged, post.problems = False, ["12 of 1000 transitions diverged"]
        return post

    out = fit_averaged(fit, "nuts", predictive=False)
    kept = not failing
    assert out.converged and out.diagnostics[WEIGHT] == float(kept)
    assert out.diagnostics[WEIGHT_LAPLACE] == pytest.approx(0.75)
    assert draw_models(out.samples).all() == kept
    said = out.diagnostics[LEFT_OUT]
    assert said.startswith(f"the model {'with' if failing else 'without'} the take-up slope "
                           f"was left out of the average, though the modes gave it "
                           f"{75 if failing else 25}%")
    assert "(12 of 1000 transitions diverged)" in said
