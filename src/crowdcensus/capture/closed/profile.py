"""Profile-likelihood intervals for the abundance (Rcapture's ``closedpCI``).

For a candidate population size ``N`` (continuous, ``N >= n``), the never-caught
cell gets the count ``n0 = N - n`` and the log-linear model is refitted on the
completed table. With an intercept the fitted total is ``N``, so the fitted cell
probabilities are ``mu / N`` and the multinomial log-likelihood profiled over
the model's other parameters is (Cormack 1992)::

    l(N) = log N! - log n0! + sum_cells y log(mu) - sum_cells mu - N log N + N

up to a constant. The estimate maximises ``l``; the interval holds the ``N``
with ``2 (l_max - l(N)) <= chi2_1(level)``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import brentq, minimize_scalar
from scipy.special import gammaln
from scipy.stats import chi2

from crowdcensus.capture.closed.design import (
    Design,
    design_for_frequencies,
    design_for_histories,
    split_name,
)
from crowdcensus.capture.closed.loglinear import fit_design
from crowdcensus.capture.histories import CaptureFrequencies

if TYPE_CHECKING:
    from crowdcensus.capture.closed.model import ClosedPopulationModel


def _augment(design: Design, n0: float) -> Design:
    return Design(
        X=np.vstack([design.X, design.zero_row]),
        y=np.append(design.y, n0),
        offset=np.append(design.offset, 0.0),
        cell_offset=np.append(design.cell_offset, 0.0),
        names=design.names,
        n_cells=design.n_cells + 1,
        n_captured=design.n_captured,
        saturated_ylogy=design.saturated_ylogy,
        lgamma_sum=design.lgamma_sum,
        constrained=design.constrained,
        zero_row=None,  # the unseen cell is a cell of this table
    )


def profile_interval(
    model: ClosedPopulationModel, data, interactions, level: float = 0.95
) -> tuple[float | None, tuple[float, float] | None, str]:
    """``(multinomial estimate, (low, high), status)`` for a fitted model."""
    name = split_name(model.name_)
    full_name = name[0] + (f" {name[1]}" if name[1] else "")
    if name[0] in ("Mb", "Mbh"):
        return None, None, "profile interval not available for behavioural models"
    if model.status_ == "unbounded":
        return None, (float(model.n_captured_), math.inf), "unbounded"
    if not model.usable:
        return None, None, f"no interval: {model.status_}"
    fit = model.fit_
    n = model.n_captured_
    from crowdcensus.capture.closed.timeeffects import TimeEffectsDesign

    if isinstance(fit.design, TimeEffectsDesign):
        te = fit.design

        def kernel(n0: float) -> float:
            return te.fit(y0=n0).kernel
    else:
        if isinstance(data, CaptureFrequencies):
            base = design_for_frequencies(full_name, data)
        else:
            base = design_for_histories(full_name, data, interactions)

        def kernel(n0: float) -> float:
            return fit_design(_augment(base, n0)).kernel

    def loglik(N: float) -> float:
        n0 = N - n
        return float(gammaln(N + 1) - gammaln(n0 + 1) + kernel(n0) - N * math.log(N) + N)

    n_pois = model.abundance_
    hi_search = max(1.5 * n_pois, n + 1.0)
    opt = minimize_scalar(lambda N: -loglik(N), bounds=(n, hi_search), method="bounded",
                          options={"xatol": 1e-6})
    n_hat = float(opt.x)
    lmax = -float(opt.fun)
    drop = chi2.ppf(level, 1) / 2
    status = "ok"

    def g(N: float) -> float:
        return loglik(N) - (lmax - drop)

    low = float(n)
    if g(n) < 0:
        low = brentq(g, n, n_hat, xtol=1e-8)
    else:
        status = "lower bound set to the number captured"
    high = math.inf
    top = max(3 * n_pois, n_hat + 1)
    for _ in range(12):
        if g(top) < 0:
            high = brentq(g, n_hat, top, xtol=1e-8)
            break
        top *= 3
    else:
        status = "upper bound not reached"
    return n_hat, (low, high), status
