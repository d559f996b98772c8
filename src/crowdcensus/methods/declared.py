"""Method 1: registered workers declared by the platforms, de-duplicated.

.. math:: \\hat N_{occasional} = \\frac{\\sum_i D_i}{m}

where :math:`D_i` is the number of workers in the country that platform
:math:`i` declares as registered and :math:`m` the multi-homing coefficient
(mean number of platforms a worker is registered on). Dividing by :math:`m`
turns registrations into people, if every person's registrations are counted
in the :math:`D_i` and :math:`m` is the mean over the same people.

References
----------
Le Ludec, C., Tubaro, P. and Casilli, A. A. (2019). *Combien de personnes
micro-travaillent en France ? Estimer l'ampleur d'une nouvelle forme de
travail.* i3 Working Papers 19-SES-02 (DiPLab).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from crowdcensus.sources.figures import PlatformFigures


def declared_registrations(
    values: Mapping[str, np.ndarray], figures: PlatformFigures
) -> np.ndarray:
    """:math:`\\sum_i D_i`, the registrations summed over platforms."""
    return sum(np.asarray(values[path], dtype=float) for _, path in figures.declared)


def declared_occasional(
    values: Mapping[str, np.ndarray], figures: PlatformFigures, multihoming: np.ndarray
) -> np.ndarray:
    """Occasional (registered) workers: :math:`\\sum_i D_i / m`."""
    return declared_registrations(values, figures) / np.asarray(multihoming, dtype=float)
