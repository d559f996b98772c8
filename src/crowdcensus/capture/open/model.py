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
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.special import gammaln

from crowdcensus.capture.base import (
    SCHEMA_VERSION,
    PopulationEstimator,
    check_level,
    finite_or_none,
    normal_quantile,
)
from crowdcensus.capture.glm import fit_poisson
from crowdcensus.capture.histories import CaptureHistories
from crowdcensus.errors import InputError, ModelError, TooLargeError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

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
    # 1 - p_i, from beta_i itself: as 1 - p it keeps no digit where p_i nears 1 (beta_i
    # of 30: the abundances came out 1% off their limit, the chance of being seen, once)
    miss = [0.5 * one] + [1 / (1 + np.exp(b)) for b in beta] + [0.5 * one]
    u = [one]
    for i in range(1, T):
        prod = one
        for j in range(1, i + 1):
            prod = prod * np.exp(A(T + j - 1)) * miss[T - j]
        u.append(prod * (1 - np.exp(-A(T + i - 1))))
    v = [one]
    for i in range(1, T):
        prod = one
        for j in range(1, i + 1):
            prod = prod * np.exp(A(j)) * miss[j - 1]
        v.append(prod * (1 - np.exp(-A(i))))
    phi = [one] * (T - 1)  # phi[i-1] = phi_i
    for k in range(1, T):
        phi[T - k - 1] = 1 / (1 + u[k] / sum(u[:k]))
    prod_p = one
    for x in miss:
        prod_p = prod_p * x
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


#: A direction of the log-linear parameters along which the Fisher information is below
#: this share of its largest eigenvalue is one the fit runs along towards infinity (a
#: capture probability driven to 0 or 1). Elsewhere the ratio was 9e-5 or more on the
#: tables the tests hold; along such a direction, 1e-15 or less.
FLAT_DIRECTION = 1e-10


def _at_maximum(res, X: np.ndarray, y: np.ndarray) -> bool:
    """Converged, or stopped where the score vanishes. The log-likelihood is concave, so a
    point with no slope is its maximum, though a coefficient may still run on towards
    infinity: each Newton step then moves it by about 1 and gains nothing the arithmetic
    can see, and the fit stops there (as R's ``glm`` stops on a deviance that no longer
    changes)."""
    if res.converged:
        return True
    score = X.T @ (y - res.fitted)
    return bool(np.all(np.isfinite(score))
                and np.max(np.abs(score)) <= 1e-8 * max(1.0, float(y.sum())))


def _limit_covariance(X: np.ndarray, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The inverse Fisher information of the columns of ``X`` at means ``mu``, without the
    flat directions (:data:`FLAT_DIRECTION`), and those directions (columns).

    Along a flat direction the fitted means stop moving, so every quantity that has a limit
    there stops moving too and its delta-method variance takes no part from it: leaving the
    direction out gives the limit, where inverting the whole information loses every digit
    to rounding (variances of 10^13 times derivatives of 10^-14)."""
    # (not scaled to a unit diagonal first: a lone coefficient running off, the chance of
    # a period with no capture, has a tiny diagonal term and would look like any other)
    w, u = np.linalg.eigh((X * mu[:, None]).T @ X)
    keep = w > FLAT_DIRECTION * w.max()
    return (u[:, keep] / w[keep]) @ u[:, keep].T, u[:, ~keep]


def delta_variances(J: np.ndarray, cov: np.ndarray, flat: np.ndarray, values: np.ndarray
                    ) -> np.ndarray:
    """Delta-method variances of quantities with derivatives ``J`` (rows) at ``values``,
    from the covariance ``cov`` of :func:`_limit_covariance` and its flat directions
    ``flat`` (columns). A quantity that still moves along a flat direction (by more than
    1e-6 of itself per unit) has no limit there: it runs to 0 or infinity with the
    coefficient, and its variance is NaN (not estimable), not the finite figure the
    covariance without that direction would give.

    >>> J = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> cov, flat = np.diag([4.0, 0.0]), np.array([[0.0], [1.0]])
    >>> delta_variances(J, cov, flat, np.array([10.0, 10.0])).tolist()
    [4.0, nan]
    """
    var = np.einsum("ij,jk,ik->i", J, cov, J)
    drift = np.max(np.abs(J @ flat), axis=1, initial=0.0)
    var[~(drift <= 1e-6 * (1.0 + np.abs(values)))] = np.nan
    return var


def _fit_stats(name: str, X: np.ndarray, y: np.ndarray) -> tuple[FitSummary, object]:
    res = fit_poisson(X, y)
    if not _at_maximum(res, X, y):
        raise ModelError(f"the {name} did not converge")
    mu = res.fitted
    pos = y > 0
    dev = 2.0 * float(np.sum(y[pos] * np.log(y[pos] / mu[pos])) - np.sum(y - mu))
    loglik = float(np.sum(y[pos] * np.log(mu[pos])) - mu.sum() - gammaln(y + 1).sum())
    return FitSummary(name, dev, int(y.size - res.rank), 2 * res.rank - 2 * loglik), res


class OpenPopulationModel(PopulationEstimator):
    """Jolly-Seber open-population model, log-linear form (Rcapture ``openp``).

    See the module docstring for the model, the derived quantities and their
    standard errors.

    Parameters
    ----------
    zero_negative_gammas : bool
        Set negative ``gamma`` parameters to zero, as ``openp(neg=TRUE)`` (default).
    level : float
        Level of ``confidence_interval_`` and of the half-life interval.

    Attributes
    ----------
    abundance_, stderr_ : float
        The number of units ever present over the periods (Rcapture's
        ``N`` total) and its standard error.
    confidence_interval_ : tuple of float
        Chao's log-normal interval for ``abundance_`` at ``level``.
    periods_ : pandas.DataFrame
        One row per period (index ``period`` = 1..t): ``name``,
        ``capture_prob``, ``capture_prob_se``, ``abundance``, ``abundance_se``
        and, from this period to the next, ``survival``, ``survival_se``,
        ``arrivals``, ``arrivals_se`` (``NaN`` where not estimable, and on the
        last row).
    half_life_ : dict
        :meth:`half_life` at ``level``.
    n_captured_ : int
    fit_ : FitSummary
        Deviance, df and AIC of the fitted model; ``trap_tests_`` those of the
        trap-effect models.
    zeroed_ : list of str
        ``gamma`` parameters set to zero.
    flat_directions_ : int
        Directions of the log-linear parameters that the fit runs along towards
        infinity (a capture probability at 0 or 1), left out of the standard errors.

    Examples
    --------
    Six periods; 1,000 people arrive in each, stay a geometric number of periods
    (survival 0.8 from one period to the next) and are seen with probability 0.5:

    >>> import numpy as np
    >>> from crowdcensus.capture import CaptureHistories
    >>> rng = np.random.default_rng(1)
    >>> present = np.zeros((6000, 6), bool)
    >>> for i, (start, stay) in enumerate(zip(np.repeat(range(6), 1000),
    ...                                       rng.geometric(0.2, 6000))):
    ...     present[i, start:start + stay] = True
    >>> seen = present & (rng.random(present.shape) < 0.5)
    >>> m = OpenPopulationModel().fit(CaptureHistories.from_matrix(seen[seen.any(axis=1)]))
    >>> m.periods_.loc[2:4, "arrivals"].round(-1).tolist()
    [840.0, 1100.0, 930.0]
    >>> hl = m.half_life_                    # truth: log(0.5) / log(0.8) = 3.1 periods
    >>> round(hl["estimate"], 2), round(hl["low"], 2), round(hl["high"], 2)
    (3.03, 2.76, 3.36)
    """

    def __init__(self, zero_negative_gammas: bool = True, level: float = 0.95) -> None:
        self.zero_negative_gammas = zero_negative_gammas
        self.level = level

    def _fit(self, histories: CaptureHistories) -> None:
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
        # the covariance of the estimable coefficients, at the limit where some run on
        # towards infinity; aliased ones (NaN, as R's NA) are held at 0 with no variance
        cov = np.zeros((n_par, n_par))
        held = [j for j, c in zip(active, res.coef) if np.isfinite(c)]
        sub, held_dirs = _limit_covariance(X[:, held], res.fitted)
        cov[np.ix_(held, held)] = sub
        runaway = np.zeros((n_par, held_dirs.shape[1]))   # the flat directions, every column
        runaway[held] = held_dirs
        self.zeroed_ = [names[j] for j in range(n_par) if j not in active]
        self.loglinear_ = pd.DataFrame(
            {"estimate": theta, "stderr": np.sqrt(np.clip(np.diag(cov), 0, None))}, index=names
        )
        self._theta, self._cov, self._t, self._X = theta, cov, t, X
        # where the data leave a parameter undetermined its terms are 0/0 or inf: NaN,
        # reported as not estimable, without numpy's warnings
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            d = _derived(theta, t, X)
            J = _jacobian(theta, t, X)
        var = delta_variances(J, cov, runaway, _flat(d).astype(float))
        self.flat_directions_ = runaway.shape[1]
        sizes = [t, t - 1, t, t - 1, 1]
        splits = np.cumsum(sizes)[:-1]
        vp, vphi, vN, vB, vtot = np.split(var, splits)
        nan = np.nan
        p = d["p"].astype(float).copy()
        p_se = np.sqrt(np.clip(vp, 0, None))
        phi = np.append(d["phi"].astype(float), nan)
        phi_se = np.append(np.sqrt(np.clip(vphi, 0, None)), nan)
        N = d["N"].astype(float).copy()
        N_se = np.sqrt(np.clip(vN - N, 0, None))
        B = np.append(d["B"].astype(float), nan)
        B_se = np.append(np.sqrt(np.clip(vB, 0, None)), nan)
        for arr in (p, p_se, N, N_se):
            arr[[0, t - 1]] = nan
        for arr in (phi, phi_se):
            arr[t - 2] = nan
        for arr in (B, B_se):
            arr[[0, t - 2]] = nan
        self.periods_ = pd.DataFrame(
            {"name": [str(o) for o in histories.occasions], "capture_prob": p,
             "capture_prob_se": p_se, "abundance": N, "abundance_se": N_se,
             "survival": phi, "survival_se": phi_se, "arrivals": B, "arrivals_se": B_se},
            index=pd.RangeIndex(1, t + 1, name="period"),
        )
        total = float(d["total"][0])
        self.abundance_ = total
        self.stderr_ = float(math.sqrt(max(vtot[0] - total, 0.0)))
        n_caught = histories.n_captured
        if not total >= n_caught * (1 - 1e-9):
            # fewer than were caught: where the data leave the terms of the people never
            # caught undetermined, the formula can fall below the people seen (Rcapture
            # prints that figure); it is not an estimate of anything
            self.abundance_ = self.stderr_ = nan
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
        self._survival_jac = J[t : 2 * t - 1]
        self.half_life_ = self.half_life(self.level)

    # ----------------------------------------------------------------- derived
    def half_life(self, level: float | None = None) -> dict[str, float | None]:
        """Half-life in periods from the geometric-mean survival.

        ``phi_bar = exp(mean(log phi_i))`` over the estimable survivals
        ``phi_1..phi_{t-2}``; half-life ``= log(0.5) / log(phi_bar)``. The
        interval (at ``level``, default the model's) maps a delta-method normal
        interval for ``mean(log phi_i)`` through that monotone function (an
        upper end with ``phi_bar >= 1`` gives an unbounded half-life, reported
        as ``None``).
        """
        level = self.level if level is None else check_level(level)
        t = self._t
        phi = self.periods_["survival"].to_numpy()[: t - 2]
        if np.any(phi <= 0):
            return {"phi_bar": float(np.exp(np.mean(np.log(np.clip(phi, 1e-300, None))))),
                    "estimate": 0.0, "low": 0.0, "high": None, "level": level}
        grad = (self._survival_jac[: t - 2] / phi[:, None]).mean(axis=0)
        m = float(np.mean(np.log(phi)))
        se = float(math.sqrt(max(grad @ self._cov @ grad, 0.0)))
        z = normal_quantile(0.5 + level / 2)

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

    # ----------------------------------------------------------------- outputs
    def _label(self) -> str:
        return "Jolly-Seber"

    def _statistics(self) -> dict:
        hl = self.half_life_
        return {"deviance": self.fit_.deviance, "df": self.fit_.df, "aic": self.fit_.aic,
                "periods": self._t, "half_life": hl.get("estimate"),
                "half_life_low": hl.get("low"), "half_life_high": hl.get("high")}

    def plot(self, ax: Axes | None = None) -> Axes:
        """Abundance per period (±1.96 SE) with the arrivals between periods."""
        from crowdcensus.capture.open.plots import draw_abundance
        from crowdcensus.plotting import axes_or_new

        self._check_fitted()
        return draw_abundance(self, axes_or_new(ax, (7, 4)))

    def plot_survival(self, ax: Axes | None = None) -> Axes:
        """Survival from each period to the next, with the geometric mean."""
        from crowdcensus.capture.open.plots import draw_survival
        from crowdcensus.plotting import axes_or_new

        self._check_fitted()
        return draw_survival(self, axes_or_new(ax, (7, 3.5)))

    def to_dict(self) -> dict:
        """What ``crowdcensus estimate open --format json`` prints."""
        self._check_fitted()
        num = finite_or_none
        per = self.periods_
        t = self._t
        periods = [
            {"period": i + 1, "name": per["name"].iat[i],
             "capture_prob": num(per["capture_prob"].iat[i]),
             "capture_prob_se": num(per["capture_prob_se"].iat[i]),
             "abundance": num(per["abundance"].iat[i]),
             "abundance_se": num(per["abundance_se"].iat[i])}
            for i in range(t)
        ]
        intervals = [
            {"from": i + 1, "to": i + 2,
             "survival": num(per["survival"].iat[i]),
             "survival_se": num(per["survival_se"].iat[i]),
             "arrivals": num(per["arrivals"].iat[i]),
             "arrivals_se": num(per["arrivals_se"].iat[i])}
            for i in range(t - 1)
        ]
        return {
            "schema_version": SCHEMA_VERSION,
            "n_captured": int(self.n_captured_),
            "periods": periods,
            "intervals": intervals,
            "total": {"estimate": num(self.abundance_), "stderr": num(self.stderr_)},
            "deviance": self.fit_.deviance,
            "df": self.fit_.df,
            "aic": self.fit_.aic,
            "trap_effect": [
                {"model": f.name, "deviance": f.deviance, "df": f.df, "aic": f.aic}
                for f in self.trap_tests_
            ],
            "zeroed_parameters": list(self.zeroed_),
            "half_life": {k: (num(v) if k != "level" else v)
                          for k, v in self.half_life_.items()},
        }
