"""Multiple systems estimation on simulated lists with a known population size."""

import numpy as np
import pytest

from crowdcensus.capture.histories import CaptureHistories
from crowdcensus.capture.mse.loglinear import HierarchicalModel, OverlapTable, fit_model
from crowdcensus.capture.mse.select import bic_search, stepwise


def simulate(n, probs, seed, pair_boost=None):
    """``n`` people, independent lists except that being on list 1 multiplies the
    chance of being on list 2 by ``pair_boost`` (a 12 interaction)."""
    rng = np.random.default_rng(seed)
    caught = rng.random((n, len(probs))) < probs
    if pair_boost:
        p2 = np.where(caught[:, 0], min(1.0, probs[1] * pair_boost), probs[1])
        caught[:, 1] = rng.random(n) < p2
    h = CaptureHistories.from_matrix(caught.astype(np.uint8),
                                     occasions=[f"L{i + 1}" for i in range(len(probs))])
    return OverlapTable.from_histories(h)


def test_independent_lists_keep_the_main_effects_model_near_the_truth():
    t = simulate(5000, [0.2, 0.15, 0.25, 0.1], seed=1)
    fit, steps = stepwise(t)
    assert str(fit.model) == "[1,2,3,4]" and steps == []
    # within 3 standard errors (delta method: se(N) = exp(theta_0) se(theta_0))
    se = fit.dark_figure * fit.intercept_se
    assert 0 < se < 0.05 * 5000
    assert abs(fit.popest - 5000) < 3 * se


def test_dependence_between_two_lists_is_found_and_corrected():
    t = simulate(5000, [0.2, 0.15, 0.25, 0.1], seed=2, pair_boost=3.0)
    main = fit_model(t, HierarchicalModel.main_effects(4))
    fit, steps = stepwise(t)
    assert steps[0].term == "12"
    # positive dependence makes the independence model undercount badly;
    # the selected model removes most of that bias
    assert main.popest < 0.9 * 5000
    assert abs(fit.popest - 5000) < 0.5 * abs(main.popest - 5000)
    best, ranking = bic_search(t, max_order=2)
    assert "12" in str(best.model)


def test_estimates_do_not_depend_on_the_order_of_the_lists():
    t = simulate(3000, [0.2, 0.15, 0.25], seed=3, pair_boost=2.0)
    perm = [2, 0, 1]  # new list j is old list perm[j]
    old_of_new = np.array(perm)
    new_counts = np.zeros_like(t.counts)
    for c in range(1, 8):
        old = sum(1 << int(old_of_new[j]) for j in range(3) if c >> j & 1)
        new_counts[c - 1] = t.counts[old - 1]
    u = OverlapTable(new_counts, ("c", "a", "b"))
    # old [12,3] is new [23,1]
    a = fit_model(t, HierarchicalModel.parse("[12,3]", 3))
    b = fit_model(u, HierarchicalModel.parse("[23,1]", 3))
    assert a.popest == pytest.approx(b.popest, rel=1e-9)
    assert stepwise(t)[0].popest == pytest.approx(stepwise(u)[0].popest, rel=1e-9)
