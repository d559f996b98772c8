"""Simulations with a known population size: the 95% intervals must cover it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from crowdcensus.capture import CaptureHistories
from crowdcensus.capture.closed.model import ClosedPopulationModel, fit_closed_models


def simulate(rng, N, p):
    """N individuals, capture probabilities p (per occasion, or per individual x occasion)."""
    p = np.broadcast_to(np.asarray(p, dtype=float), (N, np.size(p) if np.ndim(p) == 1
                                                      else np.shape(p)[-1]))
    return CaptureHistories.from_matrix((rng.random(p.shape) < p).astype(np.uint8))


@pytest.mark.parametrize(
    ("model", "p"),
    [("M0", [0.15] * 5), ("Mt", [0.1, 0.25, 0.15, 0.3, 0.2])],
)
def test_profile_interval_covers_true_N(model, p):
    """60 seeded replicates with N = 400: the 95% profile interval covers N in >= 88% of them
    (binomial(60, 0.95) falls below 53 with probability < 2%)."""
    N, reps, covered = 400, 60, 0
    estimates = []
    for seed in range(reps):
        rng = np.random.default_rng(1000 + seed)
        m = ClosedPopulationModel(model, ci="profile").fit(simulate(rng, N, p))
        lo, hi = m.confidence_interval_
        covered += lo <= N <= hi
        estimates.append(m.abundance_)
    assert covered >= 53, f"coverage {covered}/{reps}"
    # and the estimator is nearly unbiased at this size
    assert abs(np.mean(estimates) - N) < 0.05 * N


def test_wald_interval_from_stderr_also_covers():
    N, covered = 300, 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        m = ClosedPopulationModel("M0").fit(simulate(rng, N, [0.2] * 6))
        covered += abs(m.abundance_ - N) <= 1.96 * m.stderr_
    assert covered >= 34


def test_heterogeneity_biases_m0_and_mh_models_correct_it():
    """Under strong heterogeneity, M0 underestimates and an Mh model gets closer."""
    rng = np.random.default_rng(7)
    N = 5000
    p = rng.beta(0.8, 4, size=N)[:, None] * np.ones(8)
    data = simulate(rng, N, p)
    table = fit_closed_models(data, models=["M0", "Mh Chao (LB)", "Mh Poisson2"])
    m0 = table["M0"].abundance_
    chao = table["Mh Chao (LB)"].abundance_
    assert m0 < 0.9 * N
    assert abs(chao - N) < abs(m0 - N)


def test_many_occasions_use_sufficient_statistics():
    """52 occasions: every model but the full-table ones fits, close to the truth."""
    rng = np.random.default_rng(52)
    N = 20000
    p = np.full(52, 0.02) + 0.01 * (np.arange(52) % 4)
    data = simulate(rng, N, p)
    table = fit_closed_models(data)
    names = [m.name_ for m in table.models]
    assert "Mt" in names and "Mb" in names and "Mh Chao (LB)" in names
    for name in ("M0", "Mt", "Mb"):
        m = table[name]
        assert abs(m.abundance_ - N) < 4 * m.stderr_, name
    assert table["Mt"].df_ == 2**52 - 1 - 53
    for m in table.models:
        assert m.status_ == "ok" or m.status_.startswith("boundary"), (m.name_, m.status_)
    # Chao's lower bound with and without time effects agree closely
    assert table["Mth Chao (LB)"].abundance_ == pytest.approx(
        table["Mh Chao (LB)"].abundance_, rel=0.01)


def test_interactions_refused_for_large_t():
    from crowdcensus.errors import TooLargeError

    rng = np.random.default_rng(1)
    data = simulate(rng, 2000, [0.1] * 20)
    with pytest.raises(TooLargeError, match="needs the full table of 2\\^20 histories"):
        ClosedPopulationModel("Mt", interactions="c1:c2").fit(data)


def test_no_recapture_is_unbounded():
    data = CaptureHistories.from_matrix([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]])
    for m in fit_closed_models(data, models=["M0", "Mt", "Mh Poisson2"]).models:
        assert math.isinf(m.abundance_)
        assert m.status_ == "unbounded"
        assert m.to_row()["abundance"] is None
