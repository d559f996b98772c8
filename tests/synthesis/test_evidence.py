"""The marginal likelihood: Laplace's and bridge sampling's against closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from crowdcensus.synthesis.evidence import bridge_log_evidence, laplace_log_evidence


def _log_gamma_posterior(shape: float, dims: int, n: int, seed: int = 0):
    """``dims`` independent coordinates x = log t with t ~ Gamma(shape, 1): the
    unnormalised log density shape x - exp(x) (the Jacobian included) integrates to
    Gamma(shape) per coordinate. Exact draws in (2 chains, n, dims), their potentials,
    the potential, and the mode and Cholesky factor of the Hessian there."""
    rng = np.random.default_rng(seed)
    x = np.log(rng.gamma(shape, 1.0, (2, n, dims)))

    def u(z):
        z = np.asarray(z, dtype=float)
        return -np.sum(shape * z - np.exp(z), axis=-1)

    mode = np.full(dims, np.log(shape))
    chol = np.sqrt(shape) * np.eye(dims)     # the Hessian of u at the mode: shape
    return x, u(x), u, mode, chol


@pytest.mark.parametrize("laplace_proposal", [False, True])
def test_bridge_sampling_finds_the_constant_of_a_skewed_posterior_where_laplace_misses(
        laplace_proposal):
    """Five coordinates, each the log of a Gamma(0.5, 1): left-skewed. The exact log
    constant is 5 log Gamma(0.5) = 2.862; the Laplace approximation gives 2.097 (0.77
    low); bridge sampling is within three of its stated errors, and they are small."""
    x, pot, u, mode, chol = _log_gamma_posterior(0.5, 5, 2000)
    exact = 5 * special.gammaln(0.5)
    laplace = laplace_log_evidence(float(u(mode)), chol)
    assert laplace == pytest.approx(exact - 0.765, abs=0.01)
    log_z, err = bridge_log_evidence(x, pot, u, seed=1,
                                     proposal=(mode, chol) if laplace_proposal else None)
    assert abs(log_z - exact) < 3 * err and err < 0.1


def test_the_bridge_error_shrinks_with_the_draws_and_the_seed_moves_the_estimate_within_it():
    x, pot, u, mode, chol = _log_gamma_posterior(2.0, 3, 4000, seed=3)
    exact = 3 * special.gammaln(2.0)
    few = bridge_log_evidence(x[:, :250], pot[:, :250], u, proposal=(mode, chol))
    many = bridge_log_evidence(x, pot, u, proposal=(mode, chol))
    assert many[1] < few[1] / 2
    again = bridge_log_evidence(x, pot, u, seed=5, proposal=(mode, chol))
    assert again[0] != many[0] and abs(again[0] - many[0]) < 4 * many[1]
    assert abs(many[0] - exact) < 3 * many[1]


def test_a_proposal_draw_without_density_counts_as_zero():
    """A potential that is infinite on part of the space (a truncated posterior): the
    proposal's draws there add nothing, and the constant is the truncated one."""
    rng = np.random.default_rng(2)
    x = np.abs(rng.standard_normal((2, 3000, 1)))        # a half-normal

    def u(z):
        z = np.asarray(z, dtype=float)
        return np.where(z[..., 0] >= 0, 0.5 * z[..., 0] ** 2, np.inf)

    log_z, err = bridge_log_evidence(x, u(x), u)
    assert abs(log_z - np.log(np.sqrt(2 * np.pi) / 2)) < 3 * err
