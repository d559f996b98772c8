"""The latent activity scale of the joint model: a grid of weekly visit rates.

Every worker has a weekly rate :math:`\\lambda` of visits to micro-work
platforms. The tiers are thresholds on it (very active: :math:`\\lambda \\ge
1`; regular: :math:`\\lambda \\ge 12/52`), and so are the answers of the
questionnaire (several times a week: :math:`\\lambda \\ge 2`; weekly; monthly;
less often). The joint model describes the population's distribution of
:math:`\\lambda` by the mass of each bin of a fixed grid whose edges include
every threshold, so that a tier or a band is a sum of bins and the tiers are
nested by construction.
"""

from __future__ import annotations

import numpy as np

MONTHLY = 12 / 52
WEEKS_PER_MONTH = 52 / 12

#: Bin edges of the weekly visit rate (the last bin is open).
EDGES = np.array([0.0, 0.01, 1 / 52, 0.03, 0.045, 0.065, 0.09, 0.125, 0.17, MONTHLY, 0.3, 0.39,
                  0.5, 0.64, 0.8, 1.0, 1.2, 1.41, 1.68, 2.0, np.inf])

#: Reported-frequency categories as measured by the model, most frequent first
#: (``first_time`` is measured as ``less_often``).
REPORT_CATEGORIES = ("several_weekly", "weekly", "monthly", "less_often")
REPORT_INDEX = {"several_weekly": 0, "weekly": 1, "monthly": 2, "less_often": 3,
                "first_time": 3}
#: The report index of a respondent whose answer is not known (failed the attention
#: check): every rate gives it alike.
REPORT_UNKNOWN = 4
CATEGORY_FLOORS = (2.0, 1.0, MONTHLY, 0.0)


def bin_rates() -> np.ndarray:
    """A representative rate per bin: the geometric middle (the open ends: 0.005 and 3)."""
    lo, hi = EDGES[1:-2], EDGES[2:-1]
    return np.concatenate([[0.005], np.sqrt(lo * hi), [3.0]])


#: Rates at which the experiment's likelihood evaluates the tail of the open bin above 2
#: visits a week (beside its point at 3 visits a week).
TAIL_POINTS = 3
#: Prior median and log-scale spread of :math:`\tau`, the mean of :math:`\log(\lambda/2)`
#: over the open bin's tail.
TAIL_SCALE, TAIL_SCALE_SD = 0.5, 0.7


def tail_exceedances(n: int = TAIL_POINTS) -> np.ndarray:
    """Quantiles of the unit exponential at the middles of ``n`` equal slices of
    probability: the open bin's tail rates are :math:`2 e^{\\tau x}` at these :math:`x`."""
    return -np.log1p(-(np.arange(n) + 0.5) / n)


def tail_rates(tau, exp=np.exp):
    """The open bin's :data:`TAIL_POINTS` tail rates for the tail's mean ``tau`` (``exp``:
    ``jax.numpy.exp`` when ``tau`` is a parameter of the model)."""
    return EDGES[-2] * exp(tau * tail_exceedances())


def bin_points(tail: float = TAIL_SCALE) -> tuple[np.ndarray, np.ndarray]:
    """The rates at which the experiment's likelihood evaluates the bins, and the bin of
    each: :func:`bin_rates` for the closed bins; for the open bin above 2 visits a week,
    its rate of 3, then :data:`TAIL_POINTS` rates that split a tail in which
    :math:`\\log(\\lambda/2)` is exponential with mean ``tail`` into equal shares.

    Where respondents give their hours, the joint model estimates the open bin's share at
    3 visits a week (the rest is the tail) and the tail's mean :math:`\\tau`: one rate for
    all the most active workers made it read their hours as if all visited 3 times a week,
    which biased the hours per visit, and with them where every respondent's hours place
    them (docs/validation-notebook.md, "The open bin: a point and a tail"). Without hours, the
    open bin keeps the single rate 3.
    """
    rates = np.concatenate([bin_rates(), tail_rates(tail)])
    bins = np.concatenate([np.arange(N_BINS), np.full(TAIL_POINTS, N_BINS - 1)])
    return rates, bins


def bin_log_widths() -> np.ndarray:
    """Width of each bin on the log scale (the open ends are given the width of a neighbour)."""
    lo, hi = EDGES[:-1], EDGES[1:]
    w = np.empty(len(lo))
    inner = (lo > 0) & np.isfinite(hi)
    w[inner] = np.log(hi[inner] / lo[inner])
    w[0] = w[1]
    w[-1] = w[-2]
    return w


def bin_category() -> np.ndarray:
    """The true answer category of each bin (index into :data:`REPORT_CATEGORIES`)."""
    lo = EDGES[:-1]
    cat = np.full(len(lo), 3)
    for j in reversed(range(3)):
        cat[lo >= CATEGORY_FLOORS[j] - 1e-12] = j
    return cat


def bin_band() -> np.ndarray:
    """The disjoint band of each bin: 0 very active, 1 regular only, 2 occasional only."""
    lo = EDGES[:-1]
    return np.where(lo >= 1.0 - 1e-12, 0, np.where(lo >= MONTHLY - 1e-12, 1, 2))


N_BINS = len(EDGES) - 1
