"""Method 3: at-least-monthly workers from the platforms' web audience.

.. math:: \\hat N_{regular} = \\frac{\\sum_i V_i \\, s_i}{m}

where :math:`V_i` is the monthly unique visitors from the country that a
traffic panel measures on platform :math:`i`'s worker site, :math:`s_i` the
share of those visitors who are workers (not clients or the curious; 1 when
the study gives none) and :math:`m` the multi-homing coefficient: a person
who visits two platforms in the month is two visitors.

References
----------
Le Ludec, C., Tubaro, P. and Casilli, A. A. (2019), see
:mod:`crowdcensus.methods.declared`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from crowdcensus.sources.figures import PlatformFigures


def worker_visitors(values: Mapping[str, np.ndarray], figures: PlatformFigures) -> np.ndarray:
    """:math:`\\sum_i V_i s_i`, the monthly visitors who are workers, summed over platforms."""
    total = 0.0
    for fig in figures.audience:
        v = np.asarray(values[fig.visitors], dtype=float)
        if fig.worker_share is not None:
            v = v * np.asarray(values[fig.worker_share], dtype=float)
        total = total + v
    return total


def audience_regular(
    values: Mapping[str, np.ndarray], figures: PlatformFigures, multihoming: np.ndarray
) -> np.ndarray:
    """Regular (at least monthly) workers: :math:`\\sum_i V_i s_i / m`."""
    return worker_visitors(values, figures) / np.asarray(multihoming, dtype=float)
