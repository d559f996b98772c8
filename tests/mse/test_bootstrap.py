"""Parallel bootstrap: reproducibility across back ends, and BCa against scipy's."""

import functools
from pathlib import Path

import numpy as np
import pytest

from crowdcensus.capture.mse.bootstrap import bca_interval, bootstrap_bca
from crowdcensus.capture.mse.loglinear import OverlapTable
from crowdcensus.capture.mse.select import population_estimate
from crowdcensus.capture.readers import read_histories

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def korea():
    return OverlapTable.from_histories(read_histories(DATA / "korea.csv"))


def stepwise_statistic(table):
    return functools.partial(population_estimate, lists=table.lists, method="stepwise")


def test_same_seed_same_result_serial_processes_and_dask(korea):
    from distributed import LocalCluster

    stat = stepwise_statistic(korea)
    serial = bootstrap_bca(stat, korea.counts, 60, seed=11, workers=1)
    local = bootstrap_bca(stat, korea.counts, 60, seed=11, workers=2)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:
        dask = bootstrap_bca(stat, korea.counts, 60, seed=11, scheduler=cluster.scheduler_address)
    np.testing.assert_array_equal(serial.replicates, local.replicates)
    np.testing.assert_array_equal(serial.replicates, dask.replicates)
    np.testing.assert_array_equal(serial.jackknife, dask.jackknife)
    assert serial.ci == local.ci == dask.ci
    # the model selection really is repeated: replicates pick different models
    assert len(np.unique(np.round(serial.replicates, 6))) > 5
    other = bootstrap_bca(stat, korea.counts, 60, seed=12, workers=1)
    assert not np.array_equal(other.replicates, serial.replicates)


def test_bca_reduces_to_percentile_without_bias_or_acceleration():
    reps = np.arange(1.0, 1002.0)  # median 501 = estimate -> z0 = 0
    jack = np.array([1.0, -1.0])  # symmetric -> a = 0
    ci, a, z0 = bca_interval(501.0, reps, jack, np.array([1, 1]), (0.025, 0.975))
    assert a == 0 and z0 == 0
    assert ci[0.025] == pytest.approx(np.quantile(reps, 0.025))
    assert ci[0.975] == pytest.approx(np.quantile(reps, 0.975))


def _individuals(counts: np.ndarray) -> np.ndarray:
    """One cell code (0-based) per individual of a table of counts."""
    return np.repeat(np.arange(counts.size), counts.astype(int))


def closed_form_12_3(counts: np.ndarray) -> float:
    """Population under the model [12,3] (list 3 independent of lists 1-2): the unseen
    cell is ``y_001 * S0 / S1``, ``S_k`` = people with pattern (a, b, k), (a, b) != (0, 0)."""
    y = np.concatenate([[0.0], counts])  # index = bit mask of the lists
    s0, s1 = y[[1, 2, 3]].sum(), y[[5, 6, 7]].sum()
    return float(counts.sum() + y[4] * s0 / s1)


def test_bca_against_scipy_on_a_statistic_without_reselection():
    # reference: scipy.stats.bootstrap(method="BCa"), resampling individuals, on a
    # fixed model (no model selection, so scipy's statistic is the same function).
    # Given scipy's own replicates, our BCa endpoints must be scipy's: same z0 (share
    # below the estimate, ties halved), same jackknife acceleration (ours per cell,
    # weighted by its count; scipy's per individual), same quantile rule.
    from scipy.stats import bootstrap

    rng = np.random.default_rng(21)
    caught = rng.random((700, 3)) < [0.35, 0.3, 0.25]
    caught[:200, :2] |= rng.random((200, 2)) < 0.3  # lists 1 and 2 dependent
    codes = (caught * [1, 2, 4]).sum(axis=1)
    counts = np.bincount(codes, minlength=8)[1:].astype(float)
    stat = closed_form_12_3

    def on_individuals(sample, axis=-1):
        return stat(np.bincount(sample, minlength=7).astype(float))

    theta = stat(counts)
    fixed = population_estimate(counts, ("a", "b", "c"), method="fixed", model="[12,3]")
    assert theta == pytest.approx(fixed, rel=1e-9)
    res = bootstrap((_individuals(counts),), on_individuals, method="BCa", n_resamples=999,
                    confidence_level=0.9, vectorized=False, rng=np.random.default_rng(5))
    cells = np.flatnonzero(counts > 0)
    jack = []
    for c in cells:
        t = counts.copy()
        t[c] -= 1
        jack.append(stat(t))
    ci, a, z0 = bca_interval(theta, res.bootstrap_distribution, np.array(jack), counts[cells],
                             (0.05, 0.95))
    assert (ci[0.05], ci[0.95]) == pytest.approx(
        (res.confidence_interval.low, res.confidence_interval.high), rel=1e-10)
    assert abs(a) > 1e-4 and abs(z0) > 1e-3  # both corrections at work
    # and our own resampling gives scipy's interval up to Monte Carlo error
    ours = bootstrap_bca(stat, counts, 999, seed=8, levels=(0.05, 0.95), workers=1)
    assert ours.acceleration == pytest.approx(a, rel=1e-10)
    assert (ours.ci[0.05], ours.ci[0.95]) == pytest.approx(
        (res.confidence_interval.low, res.confidence_interval.high), rel=0.03)


def test_two_list_interval_covers_the_truth_in_a_simulation():
    # N = 2000 people, two independent lists: Lincoln-Petersen is unbiased-ish,
    # the 95% BCa interval must cover the truth for this seeded draw
    rng = np.random.default_rng(5)
    caught = rng.random((2000, 2)) < [0.3, 0.25]
    codes = caught[:, 0] * 1 + caught[:, 1] * 2
    counts = np.bincount(codes, minlength=4)[1:].astype(float)
    stat = functools.partial(population_estimate, lists=("a", "b"), method="main")
    res = bootstrap_bca(stat, counts, 300, seed=2, workers=1)
    assert res.ci[0.025] < 2000 < res.ci[0.975]
    assert res.ci[0.025] < res.estimate < res.ci[0.975]
