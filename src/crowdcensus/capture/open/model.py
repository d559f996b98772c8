"""Open populations: the Jolly-Seber model in log-linear form (Rcapture's ``openp``).

Over ``I`` periods, people arrive, stay for a while and leave; each period a
sample catches some of those present. The counts ``y_w`` of the ``2**I - 1``
observable histories ``w`` follow a Poisson log-linear model (Rivest & Daigle
2004; Baillargeon & Rivest 2007, Rcapture's ``openp`` with unconstrained
capture probabilities):

.. math::

    \\log E[y_w] = \\gamma_0 + \\sum_{j=1}^{I-1} \\gamma_j\\, z_j(w)
      + \\sum_{j=1}^{I-1} \\gamma_{I-1+j}\\, z'_j(w) + \\sum_{i=2}^{I-1} \\beta_i\\, w_i ,

where ``z_j(w) = 1`` when ``w`` has no capture in periods ``1..j`` and
``z'_j(w) = 1`` when it has none in the last ``j`` periods. The ``gamma``'s
carry arrivals and departures, ``beta_i = logit p_i`` the capture probability
of period ``i``. With ``u_0 = v_0 = 1``,

.. math::

    u_i = \\prod_{j=1}^{i} e^{\\gamma_{I-1+j}} (1 - p_{I-j+1})\\,(1 - e^{-\\gamma_{I-1+i}}),\\qquad
    v_i = \\prod_{j=1}^{i} e^{\\gamma_j} (1 - p_j)\\,(1 - e^{-\\gamma_i}),

survival from period ``I-k`` to ``I-k+1`` is
``phi_{I-k} = 1 / (1 + u_k / (u_0 + ... + u_{k-1}))``, abundances are
``N_1 = exp(gamma_0) / (prod_i (1-p_i) prod_i phi_i)`` and
``N_i = N_{i-1} phi_{i-1} (1 + v_{i-1} / (v_0 + ... + v_{i-2}))``, arrivals
``B_i = N_{i+1} - phi_i N_i``, and the total number ever present adds to the
``n`` captured the expected number of uncaught people implied by the
``gamma``'s. ``p_1, p_I, phi_{I-1}, N_1, N_I, B_1, B_{I-1}`` are not
estimable (``None`` in the output, ``--`` in Rcapture).

As in ``openp(neg=TRUE)``, the ``gamma_j`` (``j = 2..I-2`` and
``I+1..2I-2``) whose estimate is negative are set to zero one at a time (the
first in order), refitting each time; a zeroed ``gamma`` makes the matching
survival exactly 1 or the matching arrivals exactly 0.

Standard errors are by the delta method on the inverse Fisher information of
the log-linear parameters (derivatives by complex-step differentiation);
as in Rcapture, the variances of abundances and of the total are reduced by
the estimate itself (``sqrt(max(var - N, 0))``), removing the binomial part.

Two extra fits test for a trap effect (capture in one period changing the
capture probability in the next): a homogeneous effect (one column counting
consecutive captures) and, for ``I >= 5``, one effect per pair of periods
``(i, i+1)``, ``i = 2..I-2``.

References
----------
Rivest, L.-P. and Daigle, G. (2004). Loglinear models for the robust design in
mark-recapture experiments. *Biometrics* 60, 100-107.

Baillargeon, S. and Rivest, L.-P. (2007). Rcapture: loglinear models for
capture-recapture in R. *Journal of Statistical Software* 19(5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import gammaln
from scipy.stats import norm

from crowdcensus.capture.glm import fit_poisson
from crowdcensus.capture.histories import CaptureHistories
from crowdcensus.errors import InputError, ModelError, TooLargeError

#: Most periods handled (the model uses all ``2**I - 1`` histories).
MAX_PERIODS = 20


def all_histories(t: int) -> np.ndarray:
    """Every non-empty 0/1 history over ``t`` periods, row ``c - 1`` for code ``c``."""
    codes = np.arange(1, 2**t, dtype=np.int64)
    return ((codes[:, None] >> np.arange(t)) & 1).astype(float)


def js_design(t: int) -> tuple[np.ndarray, list[str]]:
    """Design of the log-linear Jolly-Seber model: intercept, ``gamma_1..gamma_{2t-2}``,
    ``beta_2..beta_{t-1}`` (see the module docstring)."""
    w = all_histories(t)
    miss = 1.0 - w
    first = np.cumprod(miss, axis=1)[:, : t - 1]  # no capture in periods 1..j
    last = np.cumprod(miss[:, ::-1], axis=1)[:, : t - 1]  # none in the last j periods
    X = np.column_stack([np.ones(w.shape[0]), first, last, w[:, 1 : t - 1]])
    names = (["intercept"] + [f"gamma{j}" for j in range(1, 2 * t - 1)]
             + [f"beta{i}" for i in range(2, t)])
    return X, names


def _derived(theta: np.ndarray, t: int, X: np.ndarray) -> dict[str, np.ndarray]:
    """Demographic parameters from the log-linear parameters (complex-safe)."""
    T = t  # number of periods (I in Rcapture)
    ic = theta[0]
    alpha = theta[1 : 2 * T - 1]  # alpha[j-1] = gamma_j

    def A(j: int):  # gamma_j, 1-based
        return alpha[j - 1]

    beta = theta[2 * T - 1 :]
    one = np.ones(1, dtype=theta.dtype)[0]
    p = [0.5 * one] + [1 / (1 + np.exp(-b)) for b in beta] + [0.5 * one]  # p[i-1] = p_i
    u = [one]
    for i in range(1, T):
        prod = one
        for j in range(1, i + 1):
            prod = prod * np.exp(A(T + j - 1)) * (1 - p[T - j])
        u.append(prod * (1 - np.exp(-A(T + i - 1))))
    v = [one]
    for i in range(1, T):
        prod = one
        for j in range(1, i + 1):
            prod = prod * np.exp(A(j)) * (1 - p[j - 1])
        v.append(prod * (1 - np.exp(-A(i))))
    phi = [one] * (T - 1)  # phi[i-1] = phi_i
    for k in range(1, T):
        phi[T - k - 1] = 1 / (1 + u[k] / sum(u[:k]))
    prod_p = one
    for x in p:
        prod_p = prod_p * (1 - x)
    prod_phi = one
    for x in phi:
        prod_phi = prod_phi * x
    N = [np.exp(ic) / (prod_p * prod_phi)]
    for i in range(2, T + 1):
        N.append(N[-1] * (v[i - 1] / sum(v[: i - 1]) + 1) * phi[i - 2])
    B = [N[i + 1] - N[i] * phi[i] for i in range(T - 1)]
    total = np.sum(np.exp(X @ theta))
    if T == 3:
        total = total + np.exp(ic + A(1) + A(3)) - np.exp(ic + A(1))
    else:
        def s(a: int, b: int):  # sum of gamma_a..gamma_b, empty when b < a
            return sum((A(j) for j in range(a, b + 1)), 0 * one)

        top = np.exp(ic + A(1) + s(T, 2 * T - 3))
        low = np.exp(ic + A(1) + s(T, 2 * T - 4))
        total = total + top * (1 + np.exp(s(2, T - 2) - s(T + 1, 2 * T - 3))) - low
        for i in range(2, T - 2):
            total = (total + top * np.exp(s(2, i) - s(2 * T - 1 - i, 2 * T - 3))
                     - low * np.exp(s(2, i) - s(2 * T - 2 - i, 2 * T - 4)))
    return {
        "p": np.array(p), "phi": np.array(phi), "N": np.array(N), "B": np.array(B),
        "total": np.array([total]),
    }


def _flat(d: dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([d[k] for k in ("p", "phi", "N", "B", "total")])


def _jacobian(theta: np.ndarray, t: int, X: np.ndarray) -> np.ndarray:
    """Complex-step derivatives of every derived quantity (rows) by theta (columns)."""
    h = 1e-30
    cols = []
    for j in range(theta.size):
        z = theta.astype(complex)
        z[j] += 1j * h
        cols.append(_flat(_derived(z, t, X)).imag / h)
    return np.column_stack(cols)


@dataclass(frozen=True)
class FitSummary:
    """Deviance, residual degrees of freedom and AIC of one log-linear fit."""

    name: str
    deviance: float
    df: int
    aic: float


def _fit_stats(name: str, X: np.ndarray, y: np.ndarray) -> tuple[FitSummary, object]:
    res = fit_poisson(X, y)
    if not res.converged:
        raise ModelError(f"the {name} did not converge")
    mu = res.fitted
    pos = y > 0
    dev = 2.0 * float(np.sum(y[pos] * np.log(y[pos] / mu[pos])) - np.sum(y - mu))
    loglik = float(np.sum(y[pos] * np.log(mu[pos])) - mu.sum() - gammaln(y + 1).sum())
    return FitSummary(name, dev, int(y.size - res.rank), 2 * res.rank - 2 * loglik), res


class OpenPopulationModel:
    """Jolly-Seber open-population model, log-linear form (Rcapture ``openp``).

    Parameters
    ----------
    zero_negative_gammas : bool
        Set negative ``gamma`` parameters to zero, as ``openp(neg=TRUE)`` (default).

    Fitted attributes (after :meth:`fit`; ``nan`` where not estimable)
    ------------------------------------------------------------------
    capture_prob_, capture_prob_se_ : ndarray (t,)
    survival_, survival_se_ : ndarray (t-1,)  -- period i to i+1
    abundance_, abundance_se_ : ndarray (t,)
    arrivals_, arrivals_se_ : ndarray (t-1,)  -- new arrivals between i and i+1
    total_, total_se_ : float  -- number of units ever present
    fit_ : FitSummary; trap_tests_ : list of FitSummary
    n_captured_ : int; zeroed_ : list of str (gamma parameters set to zero)
    """

    def __init__(self, zero_negative_gammas: bool = True) -> None:
        self.zero_negative_gammas = zero_negative_gammas

    def fit(self, histories: CaptureHistories) -> OpenPopulationModel:
        t = histories.t
        if t < 3:
            raise InputError("open-population models need at least 3 periods")
        if t > MAX_PERIODS:
            raise TooLargeError(f"{t} periods: the open-population model handles at most "
                                f"{MAX_PERIODS}")
        y = histories.full_table()
        X, names = js_design(t)
        n_par = X.shape[1]
        checked = [j for j in range(1, 2 * t - 1) if 2 <= j <= t - 2 or t + 1 <= j <= 2 * t - 2]
        active = list(range(n_par))
        while True:
            summary, res = _fit_stats("fitted model", X[:, active], y)
            theta = np.zeros(n_par)
            coef = np.nan_to_num(res.coef, nan=0.0)
            theta[active] = coef
            if not self.zero_negative_gammas:
                break
            neg = [j for j in checked if j in active and theta[j] < 0]
            if not neg:
                break
            active.remove(neg[0])
        cov = np.zeros((n_par, n_par))
        sub = np.nan_to_num(res.cov, nan=0.0)
        cov[np.ix_(active, active)] = sub
        self.zeroed_ = [names[j] for j in range(n_par) if j not in active]
        self.loglinear_ = pd.DataFrame(
            {"estimate": theta, "stderr": np.sqrt(np.clip(np.diag(cov), 0, None))}, index=names
        )
        self._theta, self._cov, self._t, self._X = theta, cov, t, X
        d = _derived(theta, t, X)
        J = _jacobian(theta, t, X)
        var = np.einsum("ij,jk,ik->i", J, cov, J)
        sizes = [t, t - 1, t, t - 1, 1]
        splits = np.cumsum(sizes)[:-1]
        vp, vphi, vN, vB, vtot = np.split(var, splits)
        nan = np.nan
        self.capture_prob_ = d["p"].astype(float).copy()
        self.capture_prob_se_ = np.sqrt(np.clip(vp, 0, None))
        self.survival_ = d["phi"].astype(float).copy()
        self.survival_se_ = np.sqrt(np.clip(vphi, 0, None))
        self.abundance_ = d["N"].astype(float).copy()
        self.abundance_se_ = np.sqrt(np.clip(vN - self.abundance_, 0, None))
        self.arrivals_ = d["B"].astype(float).copy()
        self.arrivals_se_ = np.sqrt(np.clip(vB, 0, None))
        self.total_ = float(d["total"][0])
        self.total_se_ = float(math.sqrt(max(vtot[0] - self.total_, 0.0)))
        for arr in (self.capture_prob_, self.capture_prob_se_, self.abundance_,
                    self.abundance_se_):
            arr[[0, t - 1]] = nan
        for arr in (self.survival_, self.survival_se_):
            arr[t - 2] = nan
        for arr in (self.arrivals_, self.arrivals_se_):
            arr[[0, t - 2]] = nan
        self.fit_ = summary
        trap_tests = []
        w = all_histories(t)
        consecutive = w[:, 1:] * w[:, :-1]
        homog = np.column_stack([X[:, active], consecutive.sum(axis=1)])
        trap_tests.append(_fit_stats("model with homogenous trap effect", homog, y)[0])
        if t >= 5:
            hetero = np.column_stack([X[:, active], consecutive[:, 1 : t - 2]])
            trap_tests.append(_fit_stats("model with trap effect", hetero, y)[0])
        self.trap_tests_ = trap_tests
        self.n_captured_ = histories.n_captured
        self.periods_ = tuple(histories.occasions)
        self._survival_jac = J[t : 2 * t - 1]
        return self

    # ----------------------------------------------------------------- derived
    def half_life(self, level: float = 0.95) -> dict[str, float | None]:
        """Half-life in periods from the geometric-mean survival.

        ``phi_bar = exp(mean(log phi_i))`` over the estimable survivals
        ``phi_1..phi_{t-2}``; half-life ``= log(0.5) / log(phi_bar)``. The
        interval maps a delta-method normal interval for ``mean(log phi_i)``
        through that monotone function (an upper end with ``phi_bar >= 1``
        gives an unbounded half-life, reported as ``None``).
        """
        t = self._t
        phi = self.survival_[: t - 2]
        if np.any(phi <= 0):
            return {"phi_bar": float(np.exp(np.mean(np.log(np.clip(phi, 1e-300, None))))),
                    "estimate": 0.0, "low": 0.0, "high": None, "level": level}
        grad = (self._survival_jac[: t - 2] / phi[:, None]).mean(axis=0)
        m = float(np.mean(np.log(phi)))
        se = float(math.sqrt(max(grad @ self._cov @ grad, 0.0)))
        z = float(norm.ppf(0.5 + level / 2))

        def to_half_life(x: float) -> float | None:
            return math.log(0.5) / x if x < 0 else None

        return {
            "phi_bar": math.exp(m),
            "phi_bar_se": math.exp(m) * se,
            "estimate": to_half_life(m),
            "low": to_half_life(m - z * se),
            "high": to_half_life(m + z * se),
            "level": level,
        }

    def to_dict(self, half_life_level: float = 0.95) -> dict:
        """The JSON structure of ``crowdcensus estimate open --format json``."""

        def num(x: float) -> float | None:
            return None if x is None or not np.isfinite(x) else float(x)

        t = self._t
        periods = [
            {"period": i + 1, "name": self.periods_[i],
             "capture_prob": num(self.capture_prob_[i]),
             "capture_prob_se": num(self.capture_prob_se_[i]),
             "abundance": num(self.abundance_[i]), "abundance_se": num(self.abundance_se_[i])}
            for i in range(t)
        ]
        intervals = [
            {"from": i + 1, "to": i + 2,
             "survival": num(self.survival_[i]), "survival_se": num(self.survival_se_[i]),
             "arrivals": num(self.arrivals_[i]), "arrivals_se": num(self.arrivals_se_[i])}
            for i in range(t - 1)
        ]
        return {
            "n_captured": int(self.n_captured_),
            "periods": periods,
            "intervals": intervals,
            "total": {"estimate": num(self.total_), "stderr": num(self.total_se_)},
            "deviance": self.fit_.deviance,
            "df": self.fit_.df,
            "aic": self.fit_.aic,
            "trap_effect": [
                {"model": f.name, "deviance": f.deviance, "df": f.df, "aic": f.aic}
                for f in self.trap_tests_
            ],
            "zeroed_parameters": list(self.zeroed_),
            "half_life": {k: (num(v) if k != "level" else v)
                          for k, v in self.half_life(half_life_level).items()},
        }
