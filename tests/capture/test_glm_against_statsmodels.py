"""The grouped Poisson GLM behind every log-linear model, against statsmodels' GLM.

statsmodels (``statsmodels.api.GLM`` with the Poisson family and an offset) is an
independent implementation of the same maximum-likelihood problem; the data are
made here: grouped capture-history cells whose multiplicities enter as offsets,
as the closed models use them, with columns of very different scales (``2**k``).
"""

from __future__ import annotations

import numpy as np
import pytest

from crowdcensus.capture.glm import fit_poisson, gammaln, poisson_loglik_kernel

sm = pytest.importorskip("statsmodels.api")


def grouped_cells(seed: int, t: int = 8):
    """Histories grouped by number of captures k: y_k with multiplicity C(t, k)."""
    rng = np.random.default_rng(seed)
    k = np.arange(1, t + 1, dtype=float)
    log_mult = gammaln(t + 1) - gammaln(k + 1) - gammaln(t - k + 1)
    X = np.column_stack([np.ones(t), k, 2.0**k - 1])  # Mh Poisson2-like columns
    beta = np.array([1.5, -0.9, 0.002])
    y = rng.poisson(np.exp(log_mult + X @ beta)).astype(float)
    return X, y, log_mult


def occasion_table(seed: int, t: int = 5):
    """All 2**t - 1 histories, one column per occasion plus a two-way interaction."""
    rng = np.random.default_rng(seed)
    codes = np.arange(1, 2**t)
    W = ((codes[:, None] >> np.arange(t)) & 1).astype(float)
    X = np.column_stack([np.ones(len(codes)), W, W[:, 0] * W[:, 1]])
    beta = np.concatenate([[4.0], rng.normal(-0.8, 0.4, t), [0.6]])
    y = rng.poisson(np.exp(X @ beta)).astype(float)
    return X, y, np.zeros(len(y))


@pytest.mark.parametrize("make", [grouped_cells, occasion_table], ids=["grouped", "full"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_coefficients_standard_errors_and_deviance_match_statsmodels(make, seed):
    X, y, offset = make(seed)
    ours = fit_poisson(X, y, offset=offset)
    ref = sm.GLM(y, X, family=sm.families.Poisson(), offset=offset).fit(tol=1e-12)
    assert ours.converged
    np.testing.assert_allclose(ours.coef, ref.params, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(np.sqrt(np.diag(ours.cov)), ref.bse, rtol=1e-6)
    np.testing.assert_allclose(ours.fitted, ref.fittedvalues, rtol=1e-7)
    loglik = poisson_loglik_kernel(y, ours.fitted) - gammaln(y + 1).sum()
    assert loglik == pytest.approx(ref.llf, rel=1e-10)
    pos = y > 0
    deviance = 2 * (np.sum(y[pos] * np.log(y[pos] / ours.fitted[pos])) - np.sum(y - ours.fitted))
    assert deviance == pytest.approx(ref.deviance, rel=1e-7, abs=1e-9)


def test_aliased_column_is_reported_as_nan_like_r():
    X, y, offset = occasion_table(4)
    aliased = np.column_stack([X, X[:, 1] + X[:, 2]])
    ours = fit_poisson(aliased, y, offset=offset)
    ref = sm.GLM(y, X, family=sm.families.Poisson(), offset=offset).fit(tol=1e-12)
    assert ours.rank == X.shape[1]
    assert np.isnan(ours.coef[-1]) and np.isnan(ours.cov[-1, -1])
    np.testing.assert_allclose(ours.coef[:-1], ref.params, rtol=1e-7, atol=1e-9)
