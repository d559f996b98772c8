"""The Monte Carlo error of the joint model's interval bounds: against the spread of the
bounds over many independent sets of draws whose answer is known (independent normals
and autocorrelated chains), and the warning and report line it gives."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter

from crowdcensus.synthesis.diagnostics import quantile_mcse
from crowdcensus.synthesis.summary import (
    BOUND_ERROR_WARNING,
    Figure,
    JointSummary,
    bound_error_warning,
    bound_errors,
    imprecise_bounds,
)


def _chains(rho: float, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Stationary AR(1) chains with unit variance along the last axis."""
    e = rng.standard_normal(shape) * np.sqrt(1 - rho ** 2)
    e[..., 0] = rng.standard_normal(shape[:-1])
    return lfilter([1.0], [1.0, -rho], e, axis=-1)


@pytest.mark.parametrize("rho", [0.0, 0.8])
@pytest.mark.parametrize("p", [0.025, 0.5, 0.975])
def test_the_error_of_a_quantile_matches_its_spread_over_repeated_runs(rho, p):
    """Over 300 runs of two chains of 1,000 draws, the mean estimated error of the p
    quantile is within 20% of the standard deviation of the quantile itself; for
    independent draws both are near the closed form sqrt(p (1 - p) / n) / density."""
    from scipy.stats import norm

    rng = np.random.default_rng(11)
    runs = _chains(rho, (300, 2, 1000), rng)
    quantiles = np.quantile(runs.reshape(300, -1), p, axis=1)
    errors = np.array([quantile_mcse(r, p) for r in runs])
    spread = float(np.std(quantiles, ddof=1))
    assert np.mean(errors) == pytest.approx(spread, rel=0.2)
    if rho == 0.0:
        closed = np.sqrt(p * (1 - p) / 2000) / norm.pdf(norm.ppf(p))
        assert np.mean(errors) == pytest.approx(closed, rel=0.15)
    else:  # autocorrelation makes it larger
        assert np.mean(errors) > 1.5 * np.sqrt(p * (1 - p) / 2000) / norm.pdf(norm.ppf(p))


def test_too_few_or_constant_draws_have_no_error():
    assert np.isnan(quantile_mcse(np.ones((2, 500)), 0.025))
    assert np.isnan(quantile_mcse(np.arange(3.0), 0.5))


def _summary(draws: dict[str, np.ndarray], chains: int) -> JointSummary:
    tiers = {t: Figure(*np.quantile(d, [0.5, 0.025, 0.975])) for t, d in draws.items()}
    return JointSummary("nuts", True, [], {}, tiers, {}, None, None, None,
                        bound_errors=bound_errors(draws, chains, 0.95))


def test_few_correlated_draws_give_a_warning_and_many_independent_draws_none():
    """Tiers of 10,000, 20,000 and 30,000 (sd 3,000) from two slow chains of 150 draws: a
    bound's error is several percent of it, and the warning names the worst; from 20,000
    independent draws, none."""
    rng = np.random.default_rng(5)
    slow = {t: 10_000 * (k + 1) + 3_000 * _chains(0.97, (2, 150), rng).ravel()
            for k, t in enumerate(("very_active", "regular", "occasional"))}
    summary = _summary(slow, chains=2)
    tier, side, bound, err = summary.largest_bound_error
    assert err / bound > BOUND_ERROR_WARNING
    assert tier == "very_active" and side == "lower"   # the smallest bound, the same error
    said = bound_error_warning(summary)
    assert said is not None and f"{bound:,.0f} ± {err:,.0f}" in said
    assert "very active tier's lower bound" in said and "raise [synthesis] draws" in said

    many = {t: 10_000 * (k + 1) + 1_000 * rng.standard_normal(20_000)
            for k, t in enumerate(("very_active", "regular", "occasional"))}
    calm = _summary(many, chains=1)
    assert calm.largest_bound_error[3] / calm.largest_bound_error[2] < 0.01
    assert bound_error_warning(calm) is None


def test_chains_run_on_while_a_bound_is_imprecise():
    """The run-on criterion of ``crowdcensus run`` (:func:`imprecise_bounds`) reads the
    tiers from the draws of the workers and band shares by chain: from two slow chains of
    150 draws it names the bound whose error is the largest share of it, as the summary's
    warning would; from two chains of 20,000 independent draws it lets them stop; at a
    looser limit the slow chains may stop too."""
    rng = np.random.default_rng(8)
    shares = np.broadcast_to([0.2, 0.3, 0.5], (2, 150, 3))
    slow = {"workers": 30_000 + 10_000 * _chains(0.97, (2, 150), rng), "band_shares": shares}
    said = imprecise_bounds(0.95)(slow)
    tiers = {"very_active": slow["workers"].ravel() * 0.2,
             "regular": slow["workers"].ravel() * 0.5, "occasional": slow["workers"].ravel()}
    tier, side, bound, err = _summary(tiers, chains=2).largest_bound_error
    assert err / bound > BOUND_ERROR_WARNING
    assert said is not None and said.startswith("interval bounds' Monte Carlo error above 5%")
    assert f"the {tier.replace('_', ' ')} tier's {side} bound, {bound:,.0f} ± {err:,.0f}" in said
    assert imprecise_bounds(0.95, limit=1.2 * err / bound)(slow) is None

    many = {"workers": 30_000 + 10_000 * rng.standard_normal((2, 20_000)),
            "band_shares": np.broadcast_to([0.2, 0.3, 0.5], (2, 20_000, 3))}
    assert imprecise_bounds(0.95)(many) is None
    assert imprecise_bounds(0.95)({"workers": slow["workers"]}) is None  # no band shares
