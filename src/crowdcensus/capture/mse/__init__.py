"""Multiple systems estimation: hierarchical log-linear models over list overlaps.

Modules: :mod:`.loglinear` (models, existence and identifiability checks, fit),
:mod:`.select` (stepwise selection), :mod:`.bic` (exhaustive BIC and downhill
search) on :mod:`.batch` (many models checked and fitted at once),
:mod:`.bayesthresh` (Bayesian thresholding) on :mod:`.posterior` (Hamiltonian
Monte Carlo), :mod:`.model` (:class:`MultipleSystemsModel`), :mod:`.bootstrap`
(BCa bootstrap), :mod:`.plots`.
"""

from __future__ import annotations

from crowdcensus.capture.mse.loglinear import HierarchicalModel, OverlapTable, fit_model
from crowdcensus.capture.mse.model import MultipleSystemsModel

__all__ = ["HierarchicalModel", "MultipleSystemsModel", "OverlapTable", "fit_model"]
