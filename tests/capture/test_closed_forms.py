"""Closed-form estimators against textbook vectors and closed-form identities."""

from __future__ import annotations

import math

import numpy as np
import pytest

from crowdcensus.capture import CaptureFrequencies, CaptureHistories, load_seber2
from crowdcensus.capture.closed.forms import (
    chao_lower_bound,
    chapman,
    closed_form_estimates,
    lincoln_petersen,
    zelterman,
)
from crowdcensus.capture.closed.model import ClosedPopulationModel
from crowdcensus.errors import InputError


def test_krebs_box_2_1():
    """Krebs, Ecological Methodology, Box 2.1: M=948, C=421, R=167."""
    assert round(lincoln_petersen(948, 421, 167).abundance) == 2390
    assert round(chapman(948, 421, 167).abundance) == 2383


@pytest.mark.parametrize(
    ("M", "C", "R", "N", "se"), [(500, 149, 7, 9393, 3022), (1000, 243, 21, 11101, 2184)]
)
def test_seber_chapman(M, C, R, N, se):
    """Seber (2002): Chapman estimate and standard error."""
    est = chapman(M, C, R)
    assert round(est.abundance) == N
    assert round(est.stderr) == se
    assert est.ci_low < est.abundance < est.ci_high
    assert est.ci_low >= M + C - R


def test_no_recapture_is_unbounded_not_huge():
    lp = lincoln_petersen(100, 80, 0)
    assert math.isinf(lp.abundance) and lp.status.startswith("unbounded")
    assert lp.to_dict()["abundance"] is None
    assert "not reliable" in chapman(100, 80, 0).status


def test_petersen_equals_saturated_mt():
    """With two occasions Mt is saturated and its estimate is Lincoln-Petersen's."""
    mt = ClosedPopulationModel("Mt").fit(load_seber2())
    assert mt.abundance_ == pytest.approx(948 * 421 / 167, rel=1e-9)
    assert mt.deviance_ == pytest.approx(0, abs=1e-8)


def test_chao_lower_bound_formula():
    f = np.array([30, 12, 5, 1])
    data = CaptureFrequencies(f, 4)
    n = f.sum()
    assert chao_lower_bound(data).abundance == pytest.approx(n + 30**2 / (2 * 12))
    # Zelterman: n / (1 - exp(-2 f2/f1))
    assert zelterman(data).abundance == pytest.approx(n / (1 - math.exp(-2 * 12 / 30)))


def test_chao_model_equals_moment_form():
    """Rcapture's Mh Chao with no eta removed reproduces n + (t-1)/t * f1^2 / (2 f2)."""
    rng = np.random.default_rng(3)
    p = rng.beta(1, 4, size=3000)
    caught = rng.random((3000, 5)) < p[:, None]
    data = CaptureHistories.from_matrix(caught.astype(int))
    m = ClosedPopulationModel("Mh Chao (LB)").fit(data)
    f = data.capture_frequencies()
    if m.status_ == "ok":
        expected = data.n_captured + (4 / 5) * f[0] ** 2 / (2 * f[1])
        assert m.abundance_ == pytest.approx(expected, rel=1e-8)
    else:  # an eta on its bound changes the fit of f_3.., not of f_1, f_2
        assert m.status_.startswith("boundary")


def test_two_occasion_closed_forms_listed():
    names = [e.estimator for e in closed_form_estimates(load_seber2())]
    assert names == ["Lincoln-Petersen", "Chapman", "Chao lower bound", "Zelterman"]


def test_bad_counts_rejected():
    with pytest.raises(InputError, match="recaptured cannot exceed"):
        chapman(10, 5, 7)


def test_no_three_way_interaction_closed_form():
    """t=3, Mt + all two-way interactions: the unseen cell is
    n111 n100 n010 n001 / (n110 n101 n011)."""
    counts = {(1, 1, 1): 12, (1, 1, 0): 30, (1, 0, 1): 25, (0, 1, 1): 20,
              (1, 0, 0): 80, (0, 1, 0): 70, (0, 0, 1): 60}
    data = CaptureHistories.from_matrix(list(counts), list(counts.values()))
    m = ClosedPopulationModel("Mt", interactions="c1:c2,c1:c3,c2:c3").fit(data)
    n0 = 12 * 80 * 70 * 60 / (30 * 25 * 20)
    assert m.abundance_ == pytest.approx(sum(counts.values()) + n0, rel=1e-7)
    assert m.df_ == 0
    assert m.name_ == "Mt"
    assert m.interactions_ == ["c1:c2", "c1:c3", "c2:c3"]


def test_continuous_time_m0_is_truncated_poisson():
    """closedp.0 with t = inf: M0 makes f_k proportional to lambda^k / k! on k = 1..kmax
    (Rcapture sets t to the largest count), so N = n (1 + 1 / sum_k lambda^k / k!)."""
    from scipy.optimize import brentq

    f = np.array([50, 30, 14, 5, 2])
    data = CaptureFrequencies(f, math.inf)
    m = ClosedPopulationModel("M0").fit(data)
    k = np.arange(1, 6)
    w = np.array([1, 1, 2, 6, 24], dtype=float) * k  # k!
    mean = (k * f).sum() / f.sum()

    def excess(lam):
        terms = lam**k / w
        return (k * terms).sum() / terms.sum() - mean

    lam = brentq(excess, 1e-6, 50)
    expected = f.sum() * (1 + 1 / (lam**k / w).sum())
    assert m.abundance_ == pytest.approx(expected, rel=1e-7)
    assert m.df_ == 5 - 2


def test_frequency_data_same_abundance_as_histories():
    """closedp.0 on the f_k of a history table gives closedp.t's abundance and stderr."""
    from crowdcensus.capture import load_hare

    hare = load_hare()
    for name in ("M0", "Mh Chao (LB)", "Mh Poisson2", "Mh Darroch", "Mh Gamma3.5"):
        a = ClosedPopulationModel(name).fit(hare)
        b = ClosedPopulationModel(name).fit(hare.to_frequencies())
        assert b.abundance_ == pytest.approx(a.abundance_, rel=1e-8)
        assert b.stderr_ == pytest.approx(a.stderr_, rel=1e-6)
        assert b.df_ == 6 - (a.fit_.rank)


def test_interactions_bad_name():
    from crowdcensus.capture import load_hare

    with pytest.raises(InputError, match="no occasion named 'c9'"):
        ClosedPopulationModel("Mt", interactions="c1:c9").fit(load_hare())
    with pytest.raises(InputError):
        chapman(-1, 3, 0)
