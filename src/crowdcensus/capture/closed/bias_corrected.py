"""Bias-corrected abundance estimators for sparse data (Rcapture's ``closedp.bc``).

With few recaptures the maximum-likelihood estimators of the closed models are
biased upwards, and often unbounded. Rivest & Lévesque (2001) correct them by
adding small amounts ``delta_k`` to the counts of the histories caught ``k``
times, ``k = 1, 2, 3``, and refitting; Rcapture's ``closedp.bc`` implements the
corrections, which are reproduced here (same models, same formulas):

==================  =================================================================
M0                  ``f_1 - 1/2``, ``f_2 + 1`` (frequencies ``f_k`` of ``k`` captures)
Mh (Poisson2,       ``f_1 - (1 + c)/2``, ``f_2 + 1 + c``, ``f_3 + (1 - c)/2`` with
Darroch, Gamma3.5)  ``c = (h(2) - 2 h(1)) / (h(3) - 2 h(2) + h(1))`` for the model's
                    heterogeneity column ``h``
Mth Chao (LB)       every history with 1 capture ``+ (t-2)/(2t)``, with 2 ``+ 2/(t(t-1))``
Mth Poisson2        ``+ (2t-5)/(4t)``, ``+ 3/(t(t-1))``, 3 captures ``+ 3/(2t(t-1)(t-2))``
Mth Darroch         ``+ (t-3)/(2t)``, ``+ 4/(t(t-1))``
Mb                  first captures ``u_j``: ``u_1 + 2``, ``u_2 - 1``, ``u_3 - 1``;
                    ``log E[u_j] = b0 + b1 (j - 1)``, ``N = e^{b0} / (1 - e^{b1})``
Mbh                 as Mb on ``u_2 .. u_t``; ``N = u_1 + e^{b0} / (1 - e^{b1})``
==================  =================================================================

Counts made negative are set to 0. The others have closed forms:

- **Mt** -- ``t = 2``: Chapman's ``(n_1+1)(n_2+1)/(m_2+1) - 1`` with Seber's (1982,
  p. 60) variance ``(n_1+1)(n_2+1)(n_1-m_2)(n_2-m_2) / ((m_2+2)(m_2+1)^2)``;
  ``t > 2``: the root ``N_c`` of ``prod_j (1 - a_j/N) = 1 - b/N`` with
  ``a_j = n_j + (t+2)/(2t)`` and ``b = n + t/2`` (Seber 1982, p. 131, with Rivest &
  Lévesque's corrected counts), ``N = N_c - t/2``, variance
  ``1 / (1/(N_c - b) + (t-1)/N_c - sum_j 1/(N_c - a_j))``.
- **Mh Chao (LB)** -- ``N = n + (t-1) f_1 (f_1-1) / (2t (f_2+1))``, variance
  ``(t-1) f_1 (f_1-1) / (2t (f_2+1)) + (t-1)^2 f_1 (f_1-1) (f_1^2 + 4 f_1 f_2 + 3 f_1
  - 6 f_2 - 6) / (4 t^2 (f_2+1)^2 (f_2+2))``.

The log-linear ones give ``N = n + exp(b0)`` with ``n`` the number actually caught
and the standard error ``sqrt(exp(b0) + exp(2 b0) Var(b0))``. Mth Gamma3.5 has no
correction (as in Rcapture); Mb needs 3 occasions, Mbh 4, Mh and Mth 3.

References
----------
Rivest, L.-P. & Lévesque, T. (2001). Improved log-linear model estimators of
abundance in capture-recapture experiments. *Canadian Journal of Statistics* 29, 555-572.
Seber, G. A. F. (1982). *The Estimation of Animal Abundance*, 2nd ed. Griffin.
Baillargeon, S. & Rivest, L.-P. (2007). Rcapture: loglinear models for capture-recapture
in R. *Journal of Statistical Software* 19(5).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from crowdcensus.capture.closed.design import (
    Design,
    canonical_model_name,
    design_for_frequencies,
    design_for_histories,
    heterogeneity_columns,
    split_name,
)
from crowdcensus.capture.closed.loglinear import fit_design
from crowdcensus.capture.histories import CaptureFrequencies, CaptureHistories
from crowdcensus.errors import InputError

#: Models with a bias correction, in Rcapture's order.
BIAS_CORRECTED_MODELS: tuple[str, ...] = (
    "M0", "Mt", "Mh Chao (LB)", "Mh Poisson2", "Mh Darroch", "Mh Gamma3.5",
    "Mth Chao (LB)", "Mth Poisson2", "Mth Darroch", "Mb", "Mbh",
)
#: The ones defined on frequency-of-capture data.
FREQUENCY_BC_MODELS = ("M0", "Mh Chao (LB)", "Mh Poisson2", "Mh Darroch", "Mh Gamma3.5")


@dataclass(frozen=True)
class BiasCorrectedEstimate:
    """One row of ``crowdcensus estimate closed --bias-corrected``."""

    model: str
    abundance: float
    stderr: float
    status: str = "ok"

    def to_dict(self) -> dict:
        def num(x: float) -> float | None:
            return float(x) if math.isfinite(x) else None

        return {"model": self.model, "abundance": num(self.abundance),
                "stderr": num(self.stderr), "status": self.status}


def _mth_delta(het: str, t: int) -> dict[int, float]:
    if het == "Chao (LB)":
        return {1: (t - 2) / (2 * t), 2: 2 / (t * (t - 1))}
    if het == "Poisson2":
        return {1: (2 * t - 5) / (4 * t), 2: 3 / (t * (t - 1)), 3: 3 / (2 * t * (t - 1) * (t - 2))}
    return {1: (t - 3) / (2 * t), 2: 4 / (t * (t - 1))}  # Darroch


def _frequency_delta(het: str | None, t: int) -> np.ndarray:
    """Additions to ``f_1, f_2, f_3`` for M0 (``het`` None) and the Mh models."""
    if het is None:
        return np.array([-0.5, 1.0, 0.0])
    h = heterogeneity_columns(het, np.array([1.0, 2.0, 3.0]), t)[0][:, 0]
    c = (h[1] - 2 * h[0]) / (h[2] - 2 * h[1] + h[0])
    return np.array([-(1 + c) / 2, 1 + c, (1 - c) / 2])


def _from_fit(name: str, n: int, fit) -> BiasCorrectedEstimate:
    status = fit.status
    if status.startswith("degenerate"):  # the limit, as in the model table
        return BiasCorrectedEstimate(name, float(n), math.nan, status)
    if status == "unbounded":
        return BiasCorrectedEstimate(name, math.inf, math.inf, status)
    if status == "not converged":
        return BiasCorrectedEstimate(name, math.nan, math.nan, status)
    n0 = math.exp(min(float(fit.coef[0]), 700.0))
    var = n0 + n0 * n0 * float(fit.cov[0, 0])
    se = math.sqrt(var) if var >= 0 else math.nan
    if not math.isfinite(se):
        return BiasCorrectedEstimate(name, math.nan, math.nan, "failed: stderr not finite")
    return BiasCorrectedEstimate(name, n + n0, se, status)


def _adjusted(design: Design, add: np.ndarray) -> Design:
    design.y = np.maximum(design.y + add, 0.0)
    return design


def _loglinear(name: str, data: CaptureHistories | CaptureFrequencies) -> BiasCorrectedEstimate:
    base, het = split_name(name)
    n, t = data.n_captured, int(data.t)
    if base in ("M0", "Mh"):
        if isinstance(data, CaptureFrequencies):
            design = design_for_frequencies(name, data)
        else:
            design = design_for_histories(name, data)
        add = np.zeros(len(design.y))
        d = _frequency_delta(het, t)
        add[: min(3, len(add))] = d[: len(add)]
        return _from_fit(name, n, fit_design(_adjusted(design, add)))
    # Mth: every history with k captures gets delta[k]
    delta = _mth_delta(het, t)
    from crowdcensus.capture.closed.model import TIME_EFFECTS_MIN_T

    if t >= TIME_EFFECTS_MIN_T:
        from crowdcensus.capture.closed.timeeffects import TimeEffectsDesign

        return _from_fit(name, n, TimeEffectsDesign(name, data).with_added_counts(delta).fit())
    design = design_for_histories(name, data)
    k = design.X[:, 1 : t + 1].sum(axis=1).round().astype(int)
    add = np.array([delta.get(int(j), 0.0) for j in k])
    return _from_fit(name, n, fit_design(_adjusted(design, add)))


def _removal(name: str, data: CaptureHistories) -> BiasCorrectedEstimate:
    """Mb and Mbh: a log-linear fit of the first captures ``u_j`` on ``j - 1``."""
    u = data.first_captures().astype(float)
    omitted = 0.0
    if name == "Mbh":
        omitted, u = u[0], u[1:]
    y = u.copy()
    y[:3] += np.array([2.0, -1.0, -1.0])[: len(y)]
    y = np.maximum(y, 0.0)
    m = len(y)
    X = np.column_stack([np.ones(m), np.arange(m, dtype=float)])
    design = Design(X, y, np.zeros(m), np.zeros(m), ["(Intercept)", "beta"], m,
                    data.n_captured, 0.0, 0.0)
    fit = fit_design(design)
    if not fit.converged:
        return BiasCorrectedEstimate(name, math.nan, math.nan, "not converged")
    b0, b1 = (float(c) for c in fit.coef)
    if b1 >= 0:
        return BiasCorrectedEstimate(name, math.inf, math.inf, "unbounded")
    N = math.exp(b0) / (1 - math.exp(b1))
    g = N * np.array([1.0, math.exp(b1) / (1 - math.exp(b1))])
    var = float(g @ fit.cov @ g) - N
    se = math.sqrt(var) if var >= 0 else math.nan
    return BiasCorrectedEstimate(name, N + omitted, se, "ok" if math.isfinite(se)
                                 else "failed: stderr not finite")


def _mt(data: CaptureHistories) -> BiasCorrectedEstimate:
    n, t = float(data.n_captured), data.t
    nj = data.per_occasion().astype(float)
    if t == 2:
        m2 = nj[0] + nj[1] - n
        N = (nj[0] + 1) * (nj[1] + 1) / (m2 + 1) - 1
        var = (nj[0] + 1) * (nj[1] + 1) * (nj[0] - m2) * (nj[1] - m2) / ((m2 + 2) * (m2 + 1) ** 2)
        return BiasCorrectedEstimate("Mt", N, math.sqrt(var))
    a = nj + (t + 2) / (2 * t)
    b = n + t / 2

    def eq(N: float) -> float:
        return float(np.prod(1 - a / N) - (1 - b / N))

    lo = max(b, float(a.max())) * (1 + 1e-12)
    hi = 2 * lo
    while eq(hi) > 0:
        hi *= 2
        if hi > 1e15 * lo:
            return BiasCorrectedEstimate("Mt", math.inf, math.inf, "unbounded")
    Nc = brentq(eq, lo, hi, xtol=1e-10 * lo, rtol=1e-14)
    info = 1 / (Nc - b) + (t - 1) / Nc - float(np.sum(1 / (Nc - a)))
    se = math.sqrt(1 / info) if info > 0 else math.nan
    return BiasCorrectedEstimate("Mt", Nc - t / 2, se, "ok" if math.isfinite(se)
                                 else "failed: stderr not finite")


def _chao(data: CaptureHistories | CaptureFrequencies) -> BiasCorrectedEstimate:
    t = float(data.t)
    f = data.capture_frequencies() if isinstance(data, CaptureHistories) else data.f
    f1, f2 = float(f[0]), float(f[1]) if len(f) > 1 else 0.0
    n0 = (t - 1) * f1 * (f1 - 1) / (2 * t * (f2 + 1))
    var = n0 + ((t - 1) ** 2 * f1 * (f1 - 1) * (f1**2 + 4 * f1 * f2 + 3 * f1 - 6 * f2 - 6)
                / (4 * t**2 * (f2 + 1) ** 2 * (f2 + 2)))
    return BiasCorrectedEstimate("Mh Chao (LB)", data.n_captured + n0,
                                 math.sqrt(var) if var >= 0 else math.nan)


def _check(name: str, data) -> str | None:
    """Why ``name`` has no bias correction on ``data`` (``None``: it has one)."""
    base, het = split_name(name)
    t = data.t
    if name not in BIAS_CORRECTED_MODELS:
        return "no bias correction for this model (as in Rcapture)"
    if isinstance(data, CaptureFrequencies) and name not in FREQUENCY_BC_MODELS:
        return "needs capture histories, not frequencies"
    if base == "Mbh" and t < 4:
        return "needs at least 4 occasions"
    if (base in ("Mh", "Mth", "Mb")) and t < 3:
        return "needs at least 3 occasions"
    return None


def bias_corrected_estimate(
    data: CaptureHistories | CaptureFrequencies, model: str
) -> BiasCorrectedEstimate:
    """The bias-corrected estimate of one model (Rcapture's ``closedp.bc(X, m, h)``)."""
    name = canonical_model_name(model)
    if isinstance(data, CaptureFrequencies) and data.t == math.inf:
        raise InputError("the bias correction needs a finite number of occasions (--t T)")
    why = _check(name, data)
    if why is not None:
        return BiasCorrectedEstimate(name, math.nan, math.nan, f"not available: {why}")
    base, het = split_name(name)
    if name == "Mt":
        return _mt(data)
    if name == "Mh Chao (LB)":
        return _chao(data)
    if base in ("Mb", "Mbh"):
        return _removal(name, data)
    return _loglinear(name, data)


def bias_corrected_estimates(
    data: CaptureHistories | CaptureFrequencies, models: Sequence[str] | None = None
) -> list[BiasCorrectedEstimate]:
    """Every bias-corrected estimate defined for the data (or those named)."""
    if models is None:
        names = FREQUENCY_BC_MODELS if isinstance(data, CaptureFrequencies) else tuple(
            m for m in BIAS_CORRECTED_MODELS if _check(m, data) is None)
    else:
        names = [canonical_model_name(m) for m in models]
    return [bias_corrected_estimate(data, m) for m in names]
