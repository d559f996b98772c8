"""Huggins' conditional likelihood: closed populations with individual covariates.

>>> from crowdcensus.capture import load_deermice
>>> from crowdcensus.capture.closed.huggins import HugginsModel, fit_huggins_models
>>> m = HugginsModel("Mb", covariates=["sex", "weight"]).fit(load_deermice())
>>> round(m.abundance_, 2), round(m.stderr_, 2), m.status_
(46.07, 6.51, 'ok')
>>> fit_huggins_models(load_deermice(), covariates="sex,weight").best().name_
'Mb'

Individual ``i`` is caught on occasion ``j`` with probability ``p_ij``,
``logit p_ij = a_j + x_i' beta``:

- ``M0``: one intercept ``a`` for every occasion;
- ``Mt``: one intercept per occasion ``a_1 ... a_t``;
- ``Mb``: intercept ``a`` until the first capture, ``a + b`` after it (``b``,
  named ``recapture``, is the trap response); the covariates act on both, as
  VGAM's ``posbernoulli.b`` with its default ``drop.b = FALSE ~ 1``.

Only the individuals caught at least once are seen, so the likelihood is
conditional on being caught (Huggins 1989):

.. math::

    \\ell(\\theta) = \\sum_i w_i \\Big[\\sum_j y_{ij} \\log p_{ij}
        + (1 - y_{ij}) \\log (1 - p_{ij}) - \\log p^*_i\\Big],
    \\qquad p^*_i = 1 - \\prod_j (1 - p^{(1)}_{ij}),

with ``p^(1)`` the first-capture probability (``= p`` for M0 and Mt) and ``w_i``
the number of individuals sharing row ``i``. The abundance is the
Horvitz--Thompson sum ``N = sum_i w_i / p*_i``; its variance (Huggins 1989,
1991) is

.. math::

    \\widehat{\\mathrm{Var}}(\\hat N) = \\sum_i w_i \\frac{1 - p^*_i}{p^{*2}_i}
        + D' \\, I(\\hat\\theta)^{-1} D,
    \\qquad D = \\frac{\\partial N}{\\partial \\theta},

with ``I`` the expected information (as VGAM; for M0 and Mt it equals the
observed one, the second derivatives not depending on ``y``). The interval is log-normal on
``N - n`` (Chao 1987). The fit is Newton's method on the analytic Hessian with
step halving; covariates are centred and scaled for the iterations, and
coefficients are reported on the original scale.

References
----------
Huggins, R. M. (1989). On the statistical analysis of capture experiments.
*Biometrika* 76, 133-140.
Huggins, R. M. (1991). Some practical aspects of a conditional likelihood
approach to capture experiments. *Biometrics* 47, 725-732.
Yee, T. W., Stoklosa, J. & Huggins, R. M. (2015). The VGAM package for
capture-recapture data using the conditional likelihood. *Journal of
Statistical Software* 65(5).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crowdcensus.capture.base import SCHEMA_VERSION, PopulationEstimator, finite_or_none
from crowdcensus.capture.closed.huggins_likelihood import (
    MODELS,
    HugginsLikelihood,
    canonical_huggins_model,
    huggins_loglik,
    intercept_names,
    maximise,
)
from crowdcensus.capture.covariates import CovariateHistories, parse_covariates
from crowdcensus.capture.histories import CaptureHistories
from crowdcensus.errors import InputError, ModelError

__all__ = ["HugginsModel", "HugginsModelTable", "fit_huggins", "fit_huggins_models",
           "huggins_loglik", "HugginsLikelihood", "MODELS"]

#: How far out (standardised logit scale) a fit must be along a direction of zero
#: information for that direction to count as a parameter at its bound (+-inf).
BOUNDARY = 10.0

@dataclass
class HugginsFit:
    """The numbers of one fitted model (original covariate scale)."""

    model: str
    params: np.ndarray
    covariance: np.ndarray        # NaN rows/columns for parameters at a bound
    names: list[str]
    loglik: float
    pstar: np.ndarray
    abundance: float
    stderr: float
    n_captured: float
    iterations: int
    status: str
    boundary: list[str]

    @property
    def usable(self) -> bool:
        """A finite abundance that can be reported."""
        return self.status == "ok" or self.status.startswith("boundary")


def _standardise(X: np.ndarray, w: np.ndarray, names: Sequence[str]):
    if X.shape[1] == 0:
        return X, np.zeros(0), np.ones(0)
    mean = (w @ X) / w.sum()
    sd = np.sqrt((w @ (X - mean) ** 2) / w.sum())
    const = np.flatnonzero(sd <= 1e-12 * np.maximum(1.0, np.abs(mean)))
    if const.size:
        raise InputError(f"covariate '{names[const[0]]}' is constant among the individuals "
                         "caught: it cannot explain any difference in catchability")
    Xs = (X - mean) / sd
    q, r = np.linalg.qr(np.column_stack([np.ones(len(Xs)), Xs]))
    diag = np.abs(np.diag(r))
    bad = np.flatnonzero(diag < 1e-9 * diag.max())
    if bad.size:
        j = bad[0] - 1
        raise InputError(f"covariate column '{names[j]}' is a linear combination of the "
                         "other covariates (collinear); drop one of them")
    return Xs, mean, sd


def _covariance(info: np.ndarray, theta: np.ndarray, A: np.ndarray, names: list[str]):
    """Inverse information, leaving out the directions in which the fit ran off to infinity.

    A direction of (numerically) zero information along which the estimate is
    far out (``|v' theta| > BOUNDARY``) is a parameter at its bound -- an
    occasion where nobody was caught, a covariate level always caught --: it is
    removed from the inverse (the abundance does not move along it) and the
    parameters it involves get NaN standard errors. A zero-information direction
    with a finite estimate means the model is not identifiable.

    Returns ``(cov_std, cov_orig, boundary, identifiable)``.
    """
    if not np.all(np.isfinite(info)):
        nan = np.full_like(info, np.nan)
        return nan, nan.copy(), [], False
    ev, V = np.linalg.eigh(info)
    tiny = ev <= 1e-9 * max(float(ev.max()), 1e-300)
    null = V[:, tiny]
    proj = null.T @ theta
    identifiable = bool(np.all(np.abs(proj) > BOUNDARY))
    keep = ~tiny
    cov_std = (V[:, keep] / ev[keep]) @ V[:, keep].T
    cov = A @ cov_std @ A.T
    boundary = []
    if tiny.any():
        direction = A @ null                     # the null directions, original scale
        size = np.abs(direction).max(axis=0)
        touched = (np.abs(direction) > 0.05 * size).any(axis=1)
        drift = direction @ proj
        boundary = [f"{names[j]} -> {'+' if drift[j] > 0 else '-'}inf"
                    for j in np.flatnonzero(touched)]
        cov[touched, :] = np.nan
        cov[:, touched] = np.nan
    return cov_std, cov, boundary, identifiable


def _merge_identical_rows(Y: np.ndarray, X: np.ndarray, w: np.ndarray):
    """Rows sharing a history and covariate values as one row with the summed count.

    Worth it for categorical or coarse covariates (the likelihood costs ``O(rows)``);
    the rows are keyed by hashing (``O(n)``) and left alone when few repeat. Returns
    ``(Y, X, w, inverse)``, ``inverse`` mapping the input rows to the merged ones
    (None if not merged).
    """
    n, t = Y.shape
    if n < 1000 or t > 62:
        return Y, X, w, None
    key = (Y.astype(np.int64) @ (np.int64(1) << np.arange(t, dtype=np.int64)))
    radix = 2.0**t
    for j in range(X.shape[1]):
        codes, levels = pd.factorize(X[:, j])
        radix *= len(levels)
        if radix > 2.0**62 or len(levels) > n // 4:
            return Y, X, w, None
        key = key * len(levels) + codes
    inverse, groups = pd.factorize(key)
    if len(groups) > 0.7 * n:
        return Y, X, w, None
    first = np.full(len(groups), -1)
    first[inverse[::-1]] = np.arange(n)[::-1]          # first row of each group
    return Y[first], X[first], np.bincount(inverse, weights=w, minlength=len(groups)), inverse


def fit_huggins(captures, design=None, model: str = "M0", weights=None,
                occasions: Sequence[str] | None = None,
                design_names: Sequence[str] | None = None) -> HugginsFit:
    """Maximise Huggins' conditional likelihood; abundance and its SE by Horvitz--Thompson.

    See the module docstring for the model and the variance. Covariates that are
    constant or collinear raise :class:`~crowdcensus.errors.InputError`; a fit
    that does not converge or whose abundance is degenerate (``N = n``) or
    unbounded (some ``p*`` numerically 0) has ``status`` saying so and NaN
    abundance.
    """
    model = canonical_huggins_model(model)
    Y = np.asarray(captures, dtype=float)
    n, t = Y.shape
    X = np.zeros((n, 0)) if design is None else np.asarray(design, dtype=float).reshape(n, -1)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    occ = list(occasions) if occasions is not None else [f"c{j + 1}" for j in range(t)]
    dnames = list(design_names) if design_names is not None else [f"x{j + 1}" for j in
                                                                  range(X.shape[1])]
    Y, X, w, inverse = _merge_identical_rows(Y, X, w)
    Xs, mean, sd = _standardise(X, w, dnames)
    lik = HugginsLikelihood(Y, Xs, model, w)
    theta, iters, converged = maximise(lik)
    ll, pstar, _, info, dS = lik.derivatives(theta, expected=True)
    names = intercept_names(model, occ) + dnames
    K = lik.C.shape[1]
    # back to the covariates' own scale: theta_orig = A theta_std
    A = np.eye(lik.n_params)
    if X.shape[1]:
        base = np.array([1.0] * K if model != "Mb" else [1.0, 0.0])
        A[:K, K:] = -np.outer(base, mean / sd)
        A[K:, K:] = np.diag(1.0 / sd)
    cov_std, cov, boundary, identifiable = _covariance(info, theta, A, names)
    n_caught = float(w.sum())
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        N = float(np.sum(w / pstar))
        ht = float(np.sum(w * (1.0 - pstar) / pstar**2))
        grad_N = -((w * (1.0 - pstar) / pstar**2) @ dS)
        var = ht + float(grad_N @ cov_std @ grad_N)
    if not converged:
        status = f"not converged after {iters} iterations"
    elif pstar.min() < 1e-7 or not math.isfinite(N):
        status = "unbounded: some individuals' chance of being caught is numerically 0"
    elif N - n_caught <= 1e-6 * n_caught and boundary:
        # capture probabilities driven to 1; (finite ones that make p* ~ 1 are a real N = n)
        status = "degenerate: every individual would have been caught for sure (N = n)"
    elif not identifiable:
        status = "not identifiable: singular information matrix"
    elif boundary:
        status = "boundary: " + ", ".join(boundary)
    else:
        status = "ok"
    usable = status == "ok" or status.startswith("boundary")
    return HugginsFit(
        model=model, params=A @ theta, covariance=cov, names=names, loglik=ll,
        pstar=pstar if inverse is None else pstar[inverse],
        abundance=N if usable else math.nan, stderr=math.sqrt(var) if usable else math.nan,
        n_captured=n_caught, iterations=iters, status=status, boundary=boundary,
    )


def as_covariate_histories(data, covariates: Sequence[str], freq: str | None = None
                           ) -> CovariateHistories:
    """Accept a :class:`CovariateHistories`, a DataFrame or plain :class:`CaptureHistories`."""
    if isinstance(data, CovariateHistories):
        if covariates and list(covariates) != list(data.covariates):
            raise InputError(f"the data carry the covariates {list(data.covariates)}, "
                             f"not {list(covariates)}")
        return data
    if isinstance(data, CaptureHistories):
        if covariates:
            raise InputError("capture histories without covariates were given; pass a "
                             "DataFrame holding the covariate columns")
        return CovariateHistories.from_histories(data)
    if isinstance(data, pd.DataFrame):
        return CovariateHistories.from_frame(data, list(covariates), freq=freq)
    raise InputError(f"cannot fit Huggins' model to a {type(data).__name__}; give a DataFrame, "
                     "CovariateHistories or CaptureHistories")


class HugginsModel(PopulationEstimator):
    """Huggins' conditional-likelihood model M0, Mt or Mb with individual covariates.

    The attributes below exist after :meth:`fit`.

    Parameters
    ----------
    model : {"M0", "Mt", "Mb"}
        Capture probability constant over occasions, one intercept per occasion,
        or a different intercept after the first capture (see the module docstring).
    covariates : sequence of str or str, optional
        Covariate columns (``"sex,weight"`` or ``["sex", "weight"]``); numeric
        columns enter as they are, text or ``category`` columns one-hot encoded
        (first sorted level dropped). None: no covariate.
    level : float
        Level of the log-normal interval on ``N - n``.
    freq : str, optional
        Name of the count column when :meth:`fit` gets a DataFrame (by default a
        column called freq, count, n or frequency is one).

    Attributes
    ----------
    abundance_, stderr_ : float
        Horvitz--Thompson abundance ``sum_i w_i / p*_i`` and its standard error
        (NaN when the fit is not usable: see ``status_``).
    confidence_interval_ : tuple of float
        Log-normal interval ``(n + f0 / C, n + f0 C)``, ``f0 = N - n``,
        ``C = exp(z sqrt(log(1 + SE^2 / f0^2)))``.
    loglik_, aic_ : float
        Conditional log-likelihood and ``-2 loglik + 2 k``.
    n_params_ : int
    coef_ : DataFrame
        Coefficients on the logit scale (columns ``coef``, ``stderr``), named as
        ``(Intercept)``, ``(Intercept):<occasion>`` (Mt), ``recapture`` (Mb),
        then the design columns.
    covariance_ : DataFrame
    pstar_ : ndarray
        ``p*_i``, chance that the individual(s) of each row were caught at least once.
    status_ : str
        ``ok``, ``boundary: ...`` (a parameter at +-inf, e.g. an occasion where
        nobody was caught; the abundance is still given), ``not converged ...``,
        ``unbounded: ...``, ``degenerate: ...`` or ``not identifiable: ...``
        (no abundance).
    """

    def __init__(self, model: str = "M0", covariates: str | Sequence[str] | None = None,
                 level: float = 0.95, freq: str | None = None) -> None:
        self.model = model
        self.covariates = covariates
        self.level = level
        self.freq = freq

    def _fit(self, data) -> None:
        """Fit to a DataFrame, :class:`CovariateHistories` or :class:`CaptureHistories`."""
        name = canonical_huggins_model(self.model)
        d = as_covariate_histories(data, parse_covariates(self.covariates), self.freq)
        fit = fit_huggins(d.captures, d.design, name, d.weights, d.occasions, d.design_names)
        self.data_, self.fit_, self.name_ = d, fit, name
        self.covariates_ = list(d.covariates)
        self.n_captured_ = d.n_captured
        self.abundance_, self.stderr_ = fit.abundance, fit.stderr
        converged = not fit.status.startswith("not converged")
        self.loglik_ = fit.loglik if converged else math.nan
        self.n_params_ = len(fit.params)
        self.aic_ = -2.0 * self.loglik_ + 2.0 * self.n_params_
        self.status_ = fit.status
        self.pstar_ = fit.pstar
        if not fit.usable:          # usable fits get the base class's log-normal interval
            self.confidence_interval_ = (math.nan, math.nan)

    @property
    def coef_(self) -> pd.DataFrame:
        """Coefficients (logit scale) and their standard errors."""
        self._check_fitted()
        se = np.sqrt(np.diag(self.fit_.covariance))
        return pd.DataFrame({"coef": self.fit_.params, "stderr": se},
                            index=pd.Index(self.fit_.names, name="parameter"))

    @property
    def covariance_(self) -> pd.DataFrame:
        self._check_fitted()
        return pd.DataFrame(self.fit_.covariance, index=self.fit_.names,
                            columns=self.fit_.names)

    def _label(self) -> str:
        return self.name_

    def _statistics(self) -> dict:
        return {"loglik": self.loglik_, "aic": self.aic_, "parameters": self.n_params_,
                "covariates": ", ".join(self.covariates_), "status": self.status_}

    def to_row(self) -> dict:
        """The model's row of ``crowdcensus estimate closed --covariates ... --format json``."""
        self._check_fitted()
        lo, hi = self.confidence_interval_
        coef = self.coef_
        return {
            "model": self.name_,
            "abundance": finite_or_none(self.abundance_),
            "stderr": finite_or_none(self.stderr_),
            "ci_low": finite_or_none(lo),
            "ci_high": finite_or_none(hi),
            "loglik": finite_or_none(self.loglik_),
            "aic": finite_or_none(self.aic_),
            "parameters": int(self.n_params_),
            "covariates": list(self.covariates_),
            "coefficients": {k: {"coef": finite_or_none(c), "stderr": finite_or_none(s)}
                             for k, c, s in zip(coef.index, coef["coef"], coef["stderr"])},
            "status": self.status_,
        }

    def to_dict(self) -> dict:
        """What ``crowdcensus estimate closed FILE --covariates ... --model NAME`` prints."""
        self._check_fitted()
        return {"schema_version": SCHEMA_VERSION, "n_captured": int(self.n_captured_),
                "models": [self.to_row()]}

    def plot(self, ax=None, covariate: str | None = None):
        """``p*_i`` against a covariate (the first one by default); returns the Axes."""
        from crowdcensus.plotting import axes_or_new

        self._check_fitted()
        ax = axes_or_new(ax, (6, 4))
        d = self.data_
        col = covariate or _default_plot_covariate(d)
        if col is None:
            x, label, ticks = d.captures.sum(axis=1), "number of captures", None
        elif col not in d.covariates:
            raise InputError(f"'{col}' is not one of the covariates {list(d.covariates)}")
        else:
            values = d.values[col]
            if pd.api.types.is_numeric_dtype(values.dtype):
                x, label, ticks = values.to_numpy(dtype=float), col, None
            else:
                codes, levels = pd.factorize(values.astype(str), sort=True)
                x, label, ticks = codes.astype(float), col, list(levels)
        size = 12 + 6 * np.sqrt(d.weights)
        ax.scatter(x, self.pstar_, s=size, alpha=0.6, color="C0")
        if ticks is not None:
            ax.set_xticks(range(len(ticks)), ticks)
        ax.set_xlabel(label)
        ax.set_ylabel("p*: chance of being caught at least once")
        ax.set_ylim(0, 1.02)
        est = "no estimate" if not math.isfinite(self.abundance_) else \
            f"N = {self.abundance_:,.1f} (SE {self.stderr_:,.1f})"
        ax.set_title(f"Huggins {self.name_}: {est}")
        return ax


def _default_plot_covariate(d: CovariateHistories) -> str | None:
    """The first numeric covariate with more than two values, else the first covariate."""
    for c in d.covariates:
        v = d.values[c]
        if pd.api.types.is_numeric_dtype(v.dtype) and v.nunique() > 2:
            return c
    return d.covariates[0] if d.covariates else None


@dataclass
class HugginsModelTable:
    """Several Huggins models fitted to the same data."""

    models: list[HugginsModel]
    n_captured: int
    covariates: list[str]

    @property
    def summary(self) -> pd.DataFrame:
        return pd.concat([m.summary for m in self.models])

    def best(self) -> HugginsModel:
        """The usable model with the smallest AIC."""
        ok = [m for m in self.models if m.fit_.usable]
        if not ok:
            raise ModelError("no Huggins model gives a usable estimate for these data")
        return min(ok, key=lambda m: m.aic_)

    def to_dict(self) -> dict:
        """What ``crowdcensus estimate closed FILE --covariates ... --format json`` prints."""
        return {"schema_version": SCHEMA_VERSION, "n_captured": int(self.n_captured),
                "models": [m.to_row() for m in self.models]}


def fit_huggins_models(data, models: Sequence[str] | None = None,
                       covariates: str | Sequence[str] | None = None, level: float = 0.95,
                       freq: str | None = None) -> HugginsModelTable:
    """Fit M0, Mt and Mb (or those named) with the same covariates."""
    covs = parse_covariates(covariates)
    d = as_covariate_histories(data, covs, freq)
    names = list(MODELS) if not models else [canonical_huggins_model(m) for m in models]
    fitted = [HugginsModel(m, covs, level).fit(d) for m in dict.fromkeys(names)]
    return HugginsModelTable(fitted, d.n_captured, list(d.covariates))
