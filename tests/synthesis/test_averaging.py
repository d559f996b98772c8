"""The two take-up models averaged by their marginal likelihoods (no fit: posteriors
made by hand, and a fit function that records what it is asked)."""

from __future__ import annotations

import numpy as np
import pytest

from crowdcensus.synthesis.averaging import WEIGHT, WINDOW, fit_averaged, mix, slope_probability
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


def test_a_model_that_did_not_converge_makes_the_average_not_converge():
    bad = _post(0.0)
    bad.converged, bad.problems = False, ["50 divergent transitions"]
    out = mix(_post(0.0), bad, 0.5)
    assert not out.converged and out.problems == ["50 divergent transitions"]


@pytest.mark.parametrize("gap, sampled", [(-20.0, [False]), (20.0, [True]),
                                          (0.0, [False, True])])
def test_nuts_samples_only_the_models_inside_occams_window(gap, sampled):
    """With NUTS, the two models are first fitted at their modes (Laplace), and only those
    whose probability is at least WINDOW are sampled; the result says the probability."""
    calls = []

    def fit(slope, method, predictive, start):
        calls.append((slope, method))
        evidence = -100.0 + (gap if slope else 0.0)
        post = _post(evidence, **({"takeup_slope": 0.5} if slope else {"log_sight": 0.0}))
        post.method = method
        if slope:
            post.samples["workers"] = np.ones(4000)
        return post

    out = fit_averaged(fit, "nuts", predictive=False)
    assert calls[:2] == [(False, "laplace"), (True, "laplace")]
    assert [s for s, m in calls[2:]] == sampled and all(m == "nuts" for _, m in calls[2:])
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

    def fit(slope, method, predictive, start):
        calls.append((slope, method, predictive, start))
        post = _post(-10.0 if slope else -10.5)
        post.mode = {"takeup_logit": np.array(0.5 if slope else -0.3)}
        return post

    fit_averaged(fit, "laplace", predictive=True)
    assert [c[:3] for c in calls] == [(False, "laplace", True), (True, "laplace", True)]
    assert calls[0][3] is None and float(calls[1][3]["takeup_logit"]) == -0.3


@pytest.mark.parametrize("method", ["laplace", "nuts"])
@pytest.mark.parametrize("failing", [False, True])
def test_a_model_that_fails_at_its_mode_is_left_out_and_said(method, failing):
    """Where one model has no usable fit at its mode and the other has, the other is kept
    alone (sampled by NUTS where that is the method), with probability 1 or 0, and the
    diagnostics say which was left out and why."""
    from crowdcensus.synthesis.averaging import LEFT_OUT

    calls = []

    def fit(slope, m, predictive, start):
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
