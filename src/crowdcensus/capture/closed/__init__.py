"""Closed populations: Rcapture's model family, profile intervals and closed forms.

Modules: :mod:`.model` (:class:`ClosedPopulationModel`, :func:`fit_closed_models`),
:mod:`.design` (the models as grouped Poisson designs), :mod:`.loglinear` (fit,
Chao's eta rule, abundance and SE), :mod:`.timeeffects` (Mt/Mth on sufficient
statistics for many occasions), :mod:`.profile` (profile-likelihood intervals),
:mod:`.forms` (Petersen, Chapman, Chao's lower bound, Zelterman).
"""

from __future__ import annotations

from crowdcensus.capture.closed.model import (
    ClosedModelTable,
    ClosedPopulationModel,
    available_models,
    fit_closed_models,
)

__all__ = ["ClosedModelTable", "ClosedPopulationModel", "available_models", "fit_closed_models"]
