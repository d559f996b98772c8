"""Closed models on generated tables, t = 2 to 100, against Rcapture.

R calls and data: ``reference/rcapture.py`` (``closedp.0`` on 60 frequency tables with
t = 2..100, ``closedp.t`` on 13 history tables with t = 3..14) and
``reference/generate_tables.py``.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.special import comb

from crowdcensus.capture.closed import fit_closed_models
from crowdcensus.capture.readers import read_frequencies, read_histories
from tests.capture.reference import rcapture

FREQ = rcapture.closedp0_generated()
HIST = rcapture.closedpt_generated()
#: Rcapture's glm stopped before the maximum (its own warning).
R_FAILED = "did not converge"


@cache
def freq_table(name: str):
    t = int(FREQ[FREQ.dataset == name].t.iloc[0])
    data = read_frequencies(rcapture.generated("freq", name), t)
    return data, fit_closed_models(data)


@cache
def hist_table(name: str):
    data = read_histories(rcapture.generated("hist", name))
    return data, fit_closed_models(data)


def m0_equations(f: np.ndarray, t: int) -> tuple[float, float]:
    """M0 from its two likelihood equations, without any GLM.

    With ``f_k ~ Poisson(a C(t,k) x^k)``: ``a ((1+x)^t - 1) = sum f_k`` and
    ``a t x (1+x)^(t-1) = sum k f_k``; ``N = n + a``. The standard error is
    ``sqrt(a + a^2 Var(log a))`` with ``Var(log a)`` from the 2x2 information of
    ``(log a, log x)``: ``[[S0, S1], [S1, S2]]``, ``S_j = sum k^j mu_k``.
    """
    k = np.arange(1, t + 1, dtype=float)
    n, s1 = f.sum(), (k * f).sum()

    def ratio(logx: float) -> float:  # t x (1+x)^(t-1) / ((1+x)^t - 1), overflow-free
        x = math.exp(logx)
        return t * x / (1 + x) / -math.expm1(-t * math.log1p(x)) - s1 / n

    x = math.exp(brentq(ratio, -30.0, 30.0, xtol=1e-14))
    a = n / math.expm1(t * math.log1p(x))
    mu = a * comb(t, k) * x**k
    info = np.array([[mu.sum(), (k * mu).sum()], [(k * mu).sum(), (k * k * mu).sum()]])
    var_b0 = np.linalg.inv(info)[0, 0]
    return n + a, math.sqrt(a + a * a * var_b0)


@pytest.mark.parametrize("name", sorted(FREQ.dataset.unique()))
def test_closedp0_large_t_against_R(name):
    """closedp.0, t = 2..100: abundance within 1e-6, standard error within 5e-4 (R's glm
    stops at a relative deviance change of 1e-8, so its SEs carry ~1e-5 errors), deviance
    within 1e-6; df and AIC exact but for Chao's model, where Rcapture keeps the etas of
    capture counts nobody reached at arbitrary positive values (fitted at glm's floor)
    and counts them: our df is never smaller, our AIC equal when the df are."""
    data, table = freq_table(name)
    rows = FREQ[FREQ.dataset == name]
    assert [m.name_ for m in table.models] == list(rows.model)
    for r in rows.itertuples():
        m = table[r.model]
        assert m.usable, (r.model, m.status_)
        if R_FAILED in r.warnings:
            # R did not reach the maximum: ours is at least as likely
            assert m.deviance_ <= r.deviance + 1e-9, r.model
            continue
        assert m.abundance_ == pytest.approx(r.abundance, rel=1e-6), r.model
        assert m.stderr_ == pytest.approx(r.stderr, rel=5e-4), r.model
        assert m.deviance_ == pytest.approx(r.deviance, rel=1e-6, abs=1e-6), r.model
        if r.model == "Mh Chao (LB)":
            assert m.df_ >= r.df
            if m.df_ == r.df:
                assert m.aic_ == pytest.approx(r.AIC, rel=1e-6)
        else:
            assert m.df_ == r.df, r.model
            assert m.aic_ == pytest.approx(r.AIC, rel=1e-6), r.model
            assert m.bic_ == pytest.approx(r.BIC, rel=1e-6), r.model


@pytest.mark.parametrize("name", sorted(FREQ.dataset.unique()))
def test_m0_equals_its_likelihood_equations(name):
    """M0 at every t, including t >= 60 where R's glm does not converge."""
    data, table = freq_table(name)
    N, se = m0_equations(data.f.astype(float), int(data.t))
    assert table["M0"].abundance_ == pytest.approx(N, rel=1e-8)
    assert table["M0"].stderr_ == pytest.approx(se, rel=1e-6)


def test_chao_converges_where_it_used_to_print_71():
    """The case of issue 10 (t = 50): Mh Chao converges, with Rcapture's figures."""
    n_chao = 0
    for name in FREQ.dataset.unique():
        data, table = freq_table(name)
        if data.t < 40:
            continue
        m = table["Mh Chao (LB)"]
        r = FREQ[(FREQ.dataset == name) & (FREQ.model == m.name_)].iloc[0]
        assert m.fit_.converged
        assert m.abundance_ > m.n_captured_ + 1
        assert m.abundance_ == pytest.approx(r.abundance, rel=1e-6)
        n_chao += 1
    assert n_chao == 21


@pytest.mark.parametrize("name", sorted(HIST.dataset.unique()))
def test_closedpt_generated_against_R(name):
    """closedp.t on t = 3..14 (Mt/Mth by the sufficient-statistics engine from t = 10):
    abundance within 1e-6, standard error within 5e-4, deviance, AIC and BIC within
    1e-6, df exact. Where R prints an abundance beyond a million times n, ours is
    unbounded. Where R warns "fitted rates numerically 0", ours is degenerate (sparse5,
    one recapture: R's abundance sits near the limit n) or "zero rates" (norecap6, nobody
    recaptured: Mb and Mbh at the limit c = 0, R's figures); nowhere else.
    """
    data, table = hist_table(name)
    rows = HIST[HIST.dataset == name]
    assert [m.name_ for m in table.models] == list(rows.model)
    n = data.n_captured
    for r in rows.itertuples():
        m = table[r.model]
        if r.abundance > 1e6 * n:  # (R's df for a diverging Chao fit keeps stray etas)
            assert m.status_ == "unbounded", r.model
            continue
        assert m.df_ == r.df, r.model
        if "fitted rates numerically 0" in r.warnings and m.status_.startswith("degenerate"):
            assert m.abundance_ == n and math.isnan(m.stderr_)
            assert n <= r.abundance < 1.1 * n
            assert m.deviance_ == pytest.approx(r.deviance, abs=1e-6)
            continue
        if "fitted rates numerically 0" in r.warnings:
            # at infinity, the abundance determined (Mb with nobody recaptured): R's figures
            assert m.status_.startswith("zero rates"), r.model
        else:
            assert m.status_ == "ok" or m.status_.startswith("boundary"), r.model
        assert m.abundance_ == pytest.approx(r.abundance, rel=1e-6), r.model
        assert m.stderr_ == pytest.approx(r.stderr, rel=5e-4), r.model
        assert m.deviance_ == pytest.approx(r.deviance, rel=1e-6, abs=1e-6), r.model
        assert m.aic_ == pytest.approx(r.AIC, rel=1e-6), r.model
        assert m.bic_ == pytest.approx(r.BIC, rel=1e-6), r.model


def test_an_empty_occasion_changes_nothing():
    """An occasion on which nobody was caught drives its capture rate to 0 (a direction of
    recession that leaves the unseen count alone): Mt and Mth give the abundance, standard
    error and deviance of the same data without that occasion; the status says "zero
    rates" (Rcapture's warning) and the fit takes no part in comparisons."""
    from crowdcensus.capture.closed import ClosedPopulationModel
    from crowdcensus.capture.histories import CaptureHistories

    rng = np.random.default_rng(3)
    for t in (6, 12):  # full table, then the sufficient-statistics engine
        H = (rng.random((400, t)) < rng.beta(2, 8, 400)[:, None]).astype(int)
        H[:, 2] = 0
        H = H[H.sum(axis=1) > 0]
        full = CaptureHistories.from_matrix(H)
        without = CaptureHistories.from_matrix(np.delete(H, 2, axis=1))
        for model in ("Mt", "Mth Chao (LB)", "Mth Darroch"):
            a = ClosedPopulationModel(model).fit(full)
            b = ClosedPopulationModel(model).fit(without)
            assert a.status_.startswith("zero rates"), (t, model, a.status_)
            assert b.usable and not a.usable
            assert a.abundance_ == pytest.approx(b.abundance_, rel=1e-8)
            assert a.stderr_ == pytest.approx(b.stderr_, rel=1e-6)
            assert a.deviance_ == pytest.approx(b.deviance_, rel=1e-8)
