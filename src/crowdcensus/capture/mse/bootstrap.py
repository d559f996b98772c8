"""Parallel multinomial bootstrap and BCa intervals.

Each replicate draws a new table of counts from the multinomial distribution
with the observed total and the observed cell proportions (the nonparametric
bootstrap of individuals, as the R package MultipleSystemsEstimation does),
then recomputes the statistic -- for multiple systems estimation, the whole
model selection.

Reproducibility: the seed gives a :class:`numpy.random.SeedSequence`, and
replicate ``b`` draws from its ``b``-th spawned child. A replicate's table
therefore depends only on the seed and on ``b``, never on which worker runs it
or in which order, so local processes, a Dask cluster and a plain loop give
identical results.

The BCa interval (Efron 1987; DiCiccio & Efron 1996) at level ``alpha`` is the
bootstrap quantile of order

.. math::

    \\Phi\\left(z_0 + \\frac{z_0 + z_\\alpha}{1 - a (z_0 + z_\\alpha)}\\right),

with the bias correction ``z_0 = Phi^{-1}(#{theta*_b < theta} + #{= theta}/2) / B``
and the acceleration ``a = sum w_i d_i^3 / (6 (sum w_i d_i^2)^{3/2})`` from a
delete-one-individual jackknife: ``d_i = mean - theta_(i)`` for each distinct
cell ``i``, weighted by its count ``w_i``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from crowdcensus.errors import InputError, ModelError
from crowdcensus.parallel import Runner, chunks, default_workers

__all__ = ["BootstrapResult", "bca_interval", "bootstrap_bca", "default_workers"]

Statistic = Callable[[np.ndarray], float]


#: Fewest bootstrap replicates that make an interval.
MIN_BOOT = 10


def check_replicates(n_boot: int) -> None:
    """Refuse fewer than :data:`MIN_BOOT` replicates: the BCa interval's ends would be the
    few replicates themselves, and can leave out the estimate (one replicate gave an
    interval of width 0 beside it)."""
    if n_boot < MIN_BOOT:
        raise InputError(f"--bootstrap needs at least {MIN_BOOT} replicates for an interval "
                         f"(got {n_boot}; 1,000 or more for one to report)")


def _replicate_tables(
    counts: np.ndarray, seeds: Sequence[np.random.SeedSequence]
) -> list[np.ndarray]:
    total = int(round(counts.sum()))
    probs = counts / counts.sum()
    return [np.random.default_rng(s).multinomial(total, probs).astype(float) for s in seeds]


def _bootstrap_chunk(
    statistic: Statistic, counts: np.ndarray, seeds: Sequence[np.random.SeedSequence]
) -> list[float]:
    return [float(statistic(t)) for t in _replicate_tables(counts, seeds)]


def _evaluate_chunk(statistic: Statistic, tables: Sequence[np.ndarray]) -> list[float]:
    return [float(statistic(t)) for t in tables]


@dataclass(frozen=True)
class BootstrapResult:
    """Bootstrap replicates with their BCa interval.

    Attributes
    ----------
    estimate : float
        The statistic on the observed data.
    replicates : ndarray
        One value per replicate (``nan`` where the statistic failed).
    jackknife : ndarray
        Delete-one values, one per distinct cell with a positive count.
    acceleration, bias_correction : float
        ``a`` and ``z_0`` of the BCa interval.
    ci : dict
        Interval endpoint for each requested cumulative level.
    """

    estimate: float
    replicates: np.ndarray
    jackknife: np.ndarray
    acceleration: float
    bias_correction: float
    ci: dict[float, float]

    @property
    def n_failed(self) -> int:
        return int(np.sum(~np.isfinite(self.replicates)))


def bca_interval(
    estimate: float,
    replicates: np.ndarray,
    jackknife: np.ndarray,
    weights: np.ndarray,
    levels: Sequence[float] = (0.025, 0.975),
) -> tuple[dict[float, float], float, float]:
    """BCa endpoints, acceleration and bias correction (see the module docstring)."""
    reps = np.asarray(replicates, dtype=float)
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        raise ModelError("every bootstrap replicate failed; no interval can be given")
    B = reps.size
    share = (np.sum(reps < estimate) + 0.5 * np.sum(reps == estimate)) / B
    share = min(max(share, 0.5 / B), 1 - 0.5 / B)
    z0 = float(norm.ppf(share))
    w = np.asarray(weights, dtype=float)
    jack = np.asarray(jackknife, dtype=float)
    ok = np.isfinite(jack) & (w > 0)
    w, jack = w[ok], jack[ok]
    d = np.sum(w * jack) / np.sum(w) - jack
    denom = float(np.sum(w * d**2))
    a = float(np.sum(w * d**3) / (6 * denom**1.5)) if denom > 0 else 0.0
    ci = {}
    for level in levels:
        z = norm.ppf(level)
        adj = norm.cdf(z0 + (z0 + z) / (1 - a * (z0 + z)))
        ci[float(level)] = float(np.quantile(reps, adj))
    return ci, a, z0


def bootstrap_bca(
    statistic: Statistic,
    counts: np.ndarray,
    n_boot: int,
    seed: int | None = None,
    levels: Sequence[float] = (0.025, 0.975),
    workers: int | None = None,
    scheduler: str | None = None,
    estimate: float | None = None,
) -> BootstrapResult:
    """Multinomial bootstrap of a table of counts, with a BCa interval.

    Parameters
    ----------
    statistic : callable
        Maps a table of counts (float array) to a number; it must be picklable
        (a module-level function or a :func:`functools.partial` of one) to run
        in other processes. Returning ``nan`` marks a failed replicate.
    counts : ndarray
        Observed counts per cell.
    n_boot : int
        Number of replicates (>= 1).
    seed : int, optional
        Seed of the :class:`numpy.random.SeedSequence`; same seed, same result.
    workers : int, optional
        Local worker processes (default: the CPUs available; 1 = no pool).
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://host:8786``); replaces local processes.
    """
    check_replicates(n_boot)
    counts = np.asarray(counts, dtype=float)
    theta = float(statistic(counts)) if estimate is None else float(estimate)
    seeds = np.random.SeedSequence(seed).spawn(n_boot)
    # jackknife: remove one individual from each distinct observed cell
    cells = np.flatnonzero(counts > 0)
    jack_tables = []
    for c in cells:
        t = counts.copy()
        t[c] -= 1
        jack_tables.append(t)
    with Runner(workers, scheduler) as runner:
        parts = chunks(n_boot, 4 * runner.parallelism)
        boot = runner.map(_bootstrap_chunk,
                          [(statistic, counts, [seeds[i] for i in p]) for p in parts])
        jparts = chunks(len(jack_tables), 2 * runner.parallelism)
        jack = runner.map(_evaluate_chunk,
                          [(statistic, [jack_tables[i] for i in p]) for p in jparts])
    replicates = np.array([v for part in boot for v in part])
    jackknife = np.array([v for part in jack for v in part])
    ci, a, z0 = bca_interval(theta, replicates, jackknife, counts[cells], levels)
    return BootstrapResult(theta, replicates, jackknife, a, z0, ci)
