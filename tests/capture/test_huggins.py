"""Huggins' models: closed forms, Rcapture's models without covariates, simulations, edge cases.

The figures from VGAM are checked in ``test_huggins_against_vgam.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq
from scipy.special import gammaln

from crowdcensus.capture import load_hare, load_seber2
from crowdcensus.capture.closed.forms import lincoln_petersen
from crowdcensus.capture.closed.huggins import (
    HugginsLikelihood,
    HugginsModel,
    fit_huggins_models,
    huggins_loglik,
)
from crowdcensus.capture.covariates import CovariateHistories
from crowdcensus.errors import InputError
from tests.capture.reference import rcapture

# ---------------------------------------------------------------- closed forms


def test_m0_without_covariates_is_the_truncated_binomial_closed_form():
    """M0: p solves p / (1 - (1-p)^t) = K / (n t); then N = n / (1 - (1-p)^t) = K / (t p)."""
    hare = load_hare()
    n, t = hare.n_captured, hare.t
    K = float(hare.counts @ hare.times_caught())
    p = brentq(lambda p: p / (1 - (1 - p) ** t) - K / (n * t), 1e-9, 1 - 1e-9, xtol=1e-14)
    m = HugginsModel("M0").fit(hare)
    assert m.abundance_ == pytest.approx(n / (1 - (1 - p) ** t), rel=1e-9)
    assert m.abundance_ == pytest.approx(K / (t * p), rel=1e-9)
    assert m.coef_.loc["(Intercept)", "coef"] == pytest.approx(math.log(p / (1 - p)), abs=1e-7)


def test_mt_on_two_occasions_is_lincoln_petersen():
    seber = load_seber2()
    n1, n2 = seber.per_occasion()
    both = int(seber.counts[(seber.histories == 1).all(axis=1)].sum())
    m = HugginsModel("Mt").fit(seber)
    assert m.abundance_ == pytest.approx(lincoln_petersen(n1, n2, both).abundance, rel=1e-9)


RCAPTURE = rcapture.closedp()
ROWS = [(d, m) for d in ("hare", "seber2") for m in ("M0", "Mt", "Mb")]


@pytest.mark.parametrize(("data", "model"), ROWS)
def test_without_covariates_equals_rcapture_abundance_and_stderr(data, model):
    """Rcapture's Poisson log-linear N = n + exp(b0) is n / p*(p_hat) with the same p_hat.

    The Poisson likelihood of the observed cells is Poisson(n) times the multinomial
    of the histories given capture, which is Huggins' conditional likelihood; so the
    estimates coincide, and so do the variances (the HT term plus the delta term is
    Rcapture's exp(b0) + exp(2 b0) Var(b0)). The AICs differ by a constant that does
    not depend on the model: 2 (n log n - n - sum log y_w!) - 2 (Rcapture also counts
    the intercept b0).
    """
    histories = load_hare() if data == "hare" else load_seber2()
    ref = RCAPTURE[(RCAPTURE.dataset == data) & (RCAPTURE.model == model)].iloc[0]
    m = HugginsModel(model).fit(histories)
    assert m.status_ == "ok"
    assert m.abundance_ == pytest.approx(ref.abundance, rel=1e-6)
    assert m.stderr_ == pytest.approx(ref.stderr, rel=1e-5)
    n = histories.n_captured
    const = 2 * (n * math.log(n) - n - gammaln(histories.counts + 1.0).sum()) - 2
    assert m.aic_ - const == pytest.approx(ref.AIC, abs=1e-4)


# ------------------------------------------------------- the vectorised likelihood


def _naive_loglik(Y, X, theta, model, w):
    """Term by term, one individual and one occasion at a time."""
    n, t = Y.shape
    K = {"M0": 1, "Mt": t, "Mb": 2}[model]
    total, pstars = 0.0, []
    for i in range(n):
        xb = float(X[i] @ theta[K:])
        ll, miss, seen = 0.0, 1.0, False
        for j in range(t):
            a = theta[0] if model in ("M0", "Mb") else theta[j]
            first = 1 / (1 + math.exp(-(a + xb)))
            p = 1 / (1 + math.exp(-(a + theta[1] + xb))) if model == "Mb" and seen else first
            ll += math.log(p) if Y[i, j] else math.log(1 - p)
            miss *= 1 - first
            seen = seen or bool(Y[i, j])
        pstars.append(1 - miss)
        total += w[i] * (ll - math.log(1 - miss))
    return total, np.array(pstars)


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(7)
    Y = (rng.random((40, 4)) < 0.4).astype(int)
    Y[Y.sum(axis=1) == 0, 0] = 1
    X = np.column_stack([rng.normal(size=40), rng.integers(0, 2, 40)])
    w = rng.integers(1, 4, 40).astype(float)
    return Y, X, w


@pytest.mark.parametrize("model", ["M0", "Mt", "Mb"])
def test_loglik_and_pstar_equal_a_term_by_term_computation(small, model):
    Y, X, w = small
    rng = np.random.default_rng(1)
    k = {"M0": 1, "Mt": 4, "Mb": 2}[model] + 2
    theta = rng.normal(scale=0.5, size=k)
    ll, pstar = huggins_loglik(Y, X, theta, model, w)
    ref_ll, ref_pstar = _naive_loglik(Y, X, theta, model, w)
    assert ll == pytest.approx(ref_ll, rel=1e-12)
    np.testing.assert_allclose(pstar, ref_pstar, rtol=1e-12)


@pytest.mark.parametrize("model", ["M0", "Mt", "Mb"])
def test_score_and_hessian_match_finite_differences(small, model):
    Y, X, w = small
    lik = HugginsLikelihood(Y, X, model, w)
    theta = np.random.default_rng(2).normal(scale=0.5, size=lik.n_params)
    _, _, score, info, _ = lik.derivatives(theta)
    h = 1e-5
    eye = np.eye(lik.n_params)
    num_score = np.array([(lik.loglik(theta + h * e)[0] - lik.loglik(theta - h * e)[0]) / (2 * h)
                          for e in eye])
    np.testing.assert_allclose(score, num_score, rtol=1e-6, atol=1e-6)
    num_hess = np.array([(lik.derivatives(theta + h * e)[2] - lik.derivatives(theta - h * e)[2])
                         / (2 * h) for e in eye])
    np.testing.assert_allclose(-info, num_hess, rtol=1e-5, atol=1e-5)


def test_expected_information_of_mb_is_the_average_observed_one():
    """E over histories given capture of the observed information = the expected one (Mb)."""
    t, a, b = 4, -0.4, 0.7
    # every history with at least one capture, weighted by its probability given capture
    Y = np.array([[int(c) for c in np.binary_repr(code, t)] for code in range(1, 2**t)])
    X = np.zeros((len(Y), 0))
    theta = np.array([a, b])
    probs = np.exp([huggins_loglik(Y[i:i + 1], X[i:i + 1], theta, "Mb")[0]
                    for i in range(len(Y))])
    assert probs.sum() == pytest.approx(1.0, rel=1e-12)
    observed = HugginsLikelihood(Y, X, "Mb", probs).derivatives(theta)[3]
    expected = HugginsLikelihood(Y, X, "Mb", probs).derivatives(theta, expected=True)[3]
    one = HugginsLikelihood(Y[:1], X[:1], "Mb").derivatives(theta, expected=True)[3]
    np.testing.assert_allclose(observed, expected, rtol=1e-10)
    np.testing.assert_allclose(one, expected, rtol=1e-10)


# ------------------------------------------------------------------ simulations


def _simulate_arrays(rng, N, t, beta, behaviour=0.0):
    """Captures of the individuals caught at least once, with their x and group (u/v)."""
    x = rng.normal(size=N)
    v = rng.random(N) < 0.5
    eta = beta[0] + beta[1] * x + beta[2] * v
    Y = np.zeros((N, t), dtype=np.uint8)
    seen = np.zeros(N, dtype=bool)
    for j in range(t):
        p = 1 / (1 + np.exp(-(eta + behaviour * seen)))
        Y[:, j] = rng.random(N) < p
        seen |= Y[:, j].astype(bool)
    caught = Y.any(axis=1)
    return Y[caught], x[caught], v[caught]


def _simulate(rng, N, t, beta, behaviour=0.0) -> pd.DataFrame:
    Y, x, v = _simulate_arrays(rng, N, t, beta, behaviour)
    frame = pd.DataFrame(Y.astype(int), columns=[f"w{j + 1}" for j in range(t)])
    frame["x"], frame["group"] = x, np.where(v, "v", "u")
    return frame


def _histories(Y, x, v) -> CovariateHistories:
    """Simulated rows as CovariateHistories, without the reading checks (speed)."""
    values = pd.DataFrame({"x": x, "group": np.where(v, "v", "u")})
    return CovariateHistories(Y, np.ones(len(Y)), np.column_stack([x, v.astype(float)]),
                              tuple(f"w{j + 1}" for j in range(Y.shape[1])), ("x", "group"),
                              ("x", "group[v]"), values, np.arange(1, len(Y) + 1))


SIMULATIONS = [("M0", 5, -1.0, 0.0, 300), ("Mt", 5, -1.0, 0.0, 150), ("Mb", 6, -0.5, -0.8, 200)]


@pytest.mark.parametrize(("model", "t", "intercept", "behaviour", "replicates"), SIMULATIONS)
def test_simulated_truth_is_recovered_within_the_interval(model, t, intercept, behaviour,
                                                          replicates):
    """Known N = 250; the 95% interval covers it in about 95% of the replicates."""
    rng = np.random.default_rng({"M0": 11, "Mt": 12, "Mb": 13}[model])
    N, covered, estimates = 250, 0, []
    for _ in range(replicates):
        data = _histories(*_simulate_arrays(rng, N, t, (intercept, 0.8, -0.5), behaviour))
        m = HugginsModel(model, covariates=["x", "group"]).fit(data)
        assert m.status_ == "ok"
        lo, hi = m.confidence_interval_
        covered += lo <= N <= hi
        estimates.append(m.abundance_)
    coverage = covered / replicates
    # the binomial SE of a 95% coverage over 150-300 replicates is 1.3-1.8 points
    assert 0.90 <= coverage <= 0.99, coverage
    # Mb's estimate is skewed to the right in small samples: its median is the sharp check
    assert abs(np.median(estimates) / N - 1) < 0.02
    assert abs(np.mean(estimates) / N - 1) < 0.04


def test_ignoring_the_covariate_underestimates_and_the_covariate_fixes_it():
    """Heterogeneity driven by x: M0 without x is biased low, with x it is not."""
    rng = np.random.default_rng(5)
    without, with_x = [], []
    for _ in range(40):
        Y, x, v = _simulate_arrays(rng, 400, 4, (-1.5, 1.5, 0.0))
        data = _histories(Y, x, v)
        without.append(HugginsModel("M0").fit(CovariateHistories.from_arrays(Y)).abundance_)
        with_x.append(HugginsModel("M0", covariates=["x", "group"]).fit(data).abundance_)
    assert np.mean(without) / 400 < 0.92
    assert abs(np.mean(with_x) / 400 - 1) < 0.03


# ------------------------------------------------------------------ edge cases


def _frame(Y, **cov):
    frame = pd.DataFrame(np.asarray(Y, dtype=int),
                         columns=[f"c{j + 1}" for j in range(np.shape(Y)[1])])
    for k, v in cov.items():
        frame[k] = v
    return frame


def test_no_recapture_gives_no_number():
    rng = np.random.default_rng(3)
    Y = np.eye(5, dtype=int)[rng.integers(0, 5, 30)]
    for model in ("M0", "Mt"):
        m = HugginsModel(model, covariates=["x"]).fit(_frame(Y, x=rng.normal(size=30)))
        assert m.status_.startswith("unbounded")
        row = m.to_row()
        assert row["abundance"] is None and row["stderr"] is None and row["ci_low"] is None


def test_everyone_always_caught_is_degenerate():
    m = HugginsModel("Mt", covariates=["x"]).fit(_frame(np.ones((20, 4)), x=np.arange(20.0)))
    assert m.status_.startswith("degenerate")
    assert m.to_row()["abundance"] is None


def test_occasion_without_capture_is_a_boundary_and_equals_dropping_it():
    rng = np.random.default_rng(4)
    frame = _simulate(rng, 200, 5, (-0.5, 0.5, 0.0))
    frame["w3"] = 0
    m = HugginsModel("Mt", covariates=["x"]).fit(frame.drop(columns="group"))
    assert m.status_ == "boundary: (Intercept):w3 -> -inf"
    assert math.isnan(m.coef_.loc["(Intercept):w3", "stderr"])
    ref = HugginsModel("Mt", covariates=["x"]).fit(frame.drop(columns=["group", "w3"]))
    assert m.abundance_ == pytest.approx(ref.abundance_, rel=1e-7)
    assert m.stderr_ == pytest.approx(ref.stderr_, rel=1e-5)
    assert m.coef_.loc["x", "stderr"] == pytest.approx(ref.coef_.loc["x", "stderr"], rel=1e-5)


def test_covariate_level_always_caught_is_a_boundary():
    rng = np.random.default_rng(6)
    frame = _simulate(rng, 200, 5, (-0.5, 0.5, 0.0))
    occ = [c for c in frame.columns if c.startswith("w")]
    frame.loc[frame["group"] == "v", occ] = 1
    m = HugginsModel("M0", covariates=["x", "group"]).fit(frame)
    assert m.status_ == "boundary: group[v] -> +inf"
    n_v = int((frame["group"] == "v").sum())
    # the v individuals are certain to be caught: each counts once
    assert m.pstar_[frame["group"].to_numpy() == "v"] == pytest.approx(1.0, abs=1e-8)
    assert m.abundance_ > len(frame) > n_v
    assert math.isfinite(m.stderr_)


def test_not_converged_shows_no_number(monkeypatch):
    import crowdcensus.capture.closed.huggins_likelihood as likelihood

    monkeypatch.setattr(likelihood, "MAX_ITER", 1)
    frame = pd.read_csv(rcapture.DATA / "deermice.csv")
    m = HugginsModel("Mb", covariates=["sex", "weight"]).fit(frame)
    assert m.status_ == "not converged after 1 iterations"
    row = m.to_row()
    assert [row[k] for k in ("abundance", "stderr", "ci_low", "ci_high", "loglik", "aic")] \
        == [None] * 6


# ----------------------------------------------------------------- input checks


def test_categorical_covariate_is_one_hot_encoded_with_first_level_dropped():
    frame = _frame([[1, 0], [1, 1], [0, 1], [1, 1]], site=["b", "a", "c", "a"], x=[1, 2, 3, 4])
    d = CovariateHistories.from_frame(frame, ["site", "x"])
    assert d.design_names == ("site[b]", "site[c]", "x")
    np.testing.assert_array_equal(d.design[:, :2], [[1, 0], [0, 0], [0, 1], [0, 0]])


def test_missing_covariate_values_are_named_by_row():
    x = [1.0, np.nan, 3.0, np.nan, 5.0, 6.0, np.nan, np.nan, np.nan, np.nan, np.nan]
    frame = _frame(np.ones((11, 2)), x=x)
    with pytest.raises(InputError, match=r"covariate 'x' is missing on rows 2, 4, 7, 8, 9 "
                                         r"and 2 more"):
        CovariateHistories.from_frame(frame, ["x"])


@pytest.mark.parametrize("values", [pd.to_datetime(["2024-01-01"] * 3),
                                    [[1], [2], [3]], [1 + 2j, 3j, 1j]])
def test_column_neither_numeric_nor_categorical_is_refused(values):
    frame = _frame([[1, 0], [1, 1], [0, 1]], when=pd.Series(list(values)))
    with pytest.raises(InputError, match="covariate 'when' is neither numeric nor categorical"):
        CovariateHistories.from_frame(frame, ["when"])


def test_constant_and_collinear_covariates_are_refused():
    Y = [[1, 0], [1, 1], [0, 1], [1, 1]]
    with pytest.raises(InputError, match="covariate 'x' is constant"):
        HugginsModel("M0", covariates=["x"]).fit(_frame(Y, x=[2.0] * 4))
    with pytest.raises(InputError, match="'z' is a linear combination"):
        HugginsModel("M0", covariates=["x", "z"]).fit(_frame(Y, x=[1, 2, 3, 4], z=[2, 4, 6, 8]))


def test_unknown_model_and_column():
    frame = _frame([[1, 0], [1, 1]], x=[1, 2])
    with pytest.raises(InputError, match="must be M0, Mt or Mb"):
        HugginsModel("Mh Chao", covariates=["x"]).fit(frame)
    with pytest.raises(InputError, match="missing covariate column 'y'"):
        HugginsModel("M0", covariates=["y"]).fit(frame)


# ----------------------------------------------------------------- the estimator


def test_estimator_shape():
    frame = pd.read_csv(rcapture.DATA / "deermice.csv")
    m = HugginsModel("Mt", covariates="sex,weight", level=0.9)
    assert not hasattr(m, "abundance_")
    assert m.fit(frame) is m
    lo, hi = m.confidence_interval_
    assert m.n_captured_ < lo < m.abundance_ < hi
    wide = HugginsModel("Mt", covariates="sex,weight", level=0.99).fit(frame)
    assert wide.confidence_interval_[0] < lo and wide.confidence_interval_[1] > hi
    assert list(m.summary.index) == ["Mt"]
    assert list(m.summary.columns[:4]) == ["abundance", "stderr", "ci_low", "ci_high"]
    assert m.summary.loc["Mt", "abundance"] == m.abundance_
    assert list(m.coef_.columns) == ["coef", "stderr"]
    assert m.to_row()["covariates"] == ["sex", "weight"]
    assert m.to_dict()["models"] == [m.to_row()] and m.to_dict()["n_captured"] == 38
    assert m.aic_ == pytest.approx(-2 * m.loglik_ + 2 * 8)
    assert m.abundance_ == pytest.approx(float(np.sum(1 / m.pstar_)))


def test_plot_returns_axes_without_touching_the_backend():
    import matplotlib

    backend = matplotlib.get_backend()
    frame = pd.read_csv(rcapture.DATA / "deermice.csv")
    ax = HugginsModel("M0", covariates=["sex", "weight"]).fit(frame).plot()
    assert ax.get_xlabel() == "weight"
    assert len(ax.collections[0].get_offsets()) == len(frame)
    assert matplotlib.get_backend() == backend


def test_table_of_models_and_best():
    frame = pd.read_csv(rcapture.DATA / "deermice.csv")
    table = fit_huggins_models(frame, covariates=["sex", "weight"])
    assert [m.name_ for m in table.models] == ["M0", "Mt", "Mb"]
    assert table.best().name_ == "Mb"         # AIC 296.6 against 308.0 and 307.8
    assert set(table.to_dict()) == {"schema_version", "n_captured", "models"}


def test_high_but_finite_capture_probabilities_give_n_and_are_not_degenerate():
    """p = 0.9 on 10 occasions: p* = 1 - 1e-10, N = n is a real estimate, not a boundary."""
    rng = np.random.default_rng(8)
    Y, x, v = _simulate_arrays(rng, 300, 10, (2.2, 0.2, 0.0))
    m = HugginsModel("M0", covariates=["x"]).fit(
        CovariateHistories.from_arrays(Y, pd.DataFrame({"x": x})))
    assert m.status_ == "ok"
    assert m.abundance_ == pytest.approx(len(Y), rel=1e-6)
    assert 2.0 < m.coef_.loc["(Intercept)", "coef"] < 2.4


def test_merging_identical_rows_changes_nothing():
    """Large data with a categorical covariate are fitted on merged rows; same figures."""
    from crowdcensus.capture.closed.huggins import fit_huggins

    rng = np.random.default_rng(9)
    Y, x, v = _simulate_arrays(rng, 3000, 4, (-1.0, 0.0, 0.7), 0.4)
    design = v[:, None].astype(float)
    merged = fit_huggins(Y, design, "Mb")
    # the same rows made distinct by a negligible jitter: fitted one by one
    jitter = design + np.arange(len(Y))[:, None] * 1e-12
    plain = fit_huggins(Y, jitter, "Mb")
    assert len(np.unique(np.column_stack([Y, design]), axis=0)) < 50
    assert merged.abundance == pytest.approx(plain.abundance, rel=1e-7)
    assert merged.stderr == pytest.approx(plain.stderr, rel=1e-6)
    assert merged.loglik == pytest.approx(plain.loglik, rel=1e-9)
    np.testing.assert_allclose(merged.pstar, plain.pstar, rtol=1e-7)
