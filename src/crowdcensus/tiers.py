"""Activity tiers, the reach model and reach-weighted tier shares.

The tiers are nested: every *very active* worker (on a platform at least
weekly) is *regular* (at least monthly), and every regular worker is
*occasional* (registered). Their sizes must never be added up; the disjoint
breakdown (:func:`disjoint`) says how many are in each band.

A respondent's reported frequency falls in one of :data:`FREQUENCY_CATEGORIES`
(the questionnaire's answers), each of which belongs to one tier band
(:data:`CATEGORY_BAND`).

Reach model
-----------
A worker whose answer is category ``c`` is on the platform in a given week
with probability :math:`p_c`; over a posting period of :math:`W` weeks the
chance that the worker comes by at least once while the task is visible is

.. math:: r_c = 1 - (1 - p_c)^W .

Respondents are reached in proportion to :math:`r_c`, so the respondents
over-represent frequent workers. Weighting each respondent by :math:`1/r_c`
(a Horvitz--Thompson weight, up to a constant that cancels) gives the share
of each category in the population the experiment draws from:

.. math:: \\hat s_c = \\frac{n_c / r_c}{\\sum_k n_k / r_k},

where :math:`n_c` is the number of respondents in category ``c``.

References
----------
Horvitz, D. G. and Thompson, D. J. (1952). A generalization of sampling
without replacement from a finite universe. *JASA* 47, 663-685.
"""

from __future__ import annotations

import numpy as np

#: The tiers, from the largest (outer circle) to the smallest.
TIERS: tuple[str, ...] = ("occasional", "regular", "very_active")

TIER_LABELS = {
    "occasional": "Occasional (registered)",
    "regular": "Regular (at least monthly)",
    "very_active": "Very active (at least weekly)",
}

#: Disjoint bands, for the breakdown that may be added up.
BANDS: tuple[str, ...] = ("very_active", "regular_only", "occasional_only")

BAND_LABELS = {
    "very_active": "Very active (at least weekly)",
    "regular_only": "Regular but not very active (monthly, not weekly)",
    "occasional_only": "Occasional only (registered, less than monthly)",
}

#: Reported-frequency categories (answers of the questionnaire).
FREQUENCY_CATEGORIES: tuple[str, ...] = (
    "several_weekly",
    "weekly",
    "monthly",
    "less_often",
    "first_time",
)

#: The disjoint band of each category.
CATEGORY_BAND = {
    "several_weekly": "very_active",
    "weekly": "very_active",
    "monthly": "regular_only",
    "less_often": "occasional_only",
    "first_time": "occasional_only",
}

#: Bands that make up each nested tier.
TIER_BANDS = {
    "very_active": ("very_active",),
    "regular": ("very_active", "regular_only"),
    "occasional": ("very_active", "regular_only", "occasional_only"),
}


def reach_probability(p_week: np.ndarray | float, weeks: float) -> np.ndarray:
    """Chance of coming by at least once in ``weeks`` weeks: ``1 - (1 - p_week)**weeks``."""
    p = np.asarray(p_week, dtype=float)
    return 1.0 - (1.0 - p) ** weeks


def weighted_shares(counts: np.ndarray, reach: np.ndarray) -> np.ndarray:
    """Reach-weighted category shares :math:`(n_c/r_c) / \\sum_k n_k/r_k`.

    Parameters
    ----------
    counts : array (..., C)
        Respondents per category (the last axis); leading axes are Monte Carlo draws.
    reach : array (..., C)
        Reach probability of each category, broadcastable to ``counts``.
    """
    w = np.asarray(counts, dtype=float) / np.asarray(reach, dtype=float)
    total = w.sum(axis=-1, keepdims=True)
    return w / total


def band_shares(category_shares: np.ndarray, categories: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Sum category shares (last axis ordered as ``categories``) into the disjoint bands."""
    out = {b: np.zeros(category_shares.shape[:-1]) for b in BANDS}
    for j, cat in enumerate(categories):
        out[CATEGORY_BAND[cat]] = out[CATEGORY_BAND[cat]] + category_shares[..., j]
    return out


def nested_from_bands(bands: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Nested tiers from disjoint bands (sums of :data:`TIER_BANDS`)."""
    return {t: sum(bands[b] for b in TIER_BANDS[t]) for t in TIERS}


def disjoint(nested: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Disjoint bands from nested tiers: very active; regular minus very active;
    occasional minus regular. A negative band means the tiers contradict each other
    (for example a regular figure larger than the occasional one)."""
    return {
        "very_active": np.asarray(nested["very_active"], dtype=float),
        "regular_only": np.asarray(nested["regular"], dtype=float)
        - np.asarray(nested["very_active"], dtype=float),
        "occasional_only": np.asarray(nested["occasional"], dtype=float)
        - np.asarray(nested["regular"], dtype=float),
    }
