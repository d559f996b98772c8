"""Closed populations: Rcapture's model family, profile intervals and closed forms.

Modules: :mod:`.model` (:class:`ClosedPopulationModel`, :func:`fit_closed_models`),
:mod:`.design` (the models as grouped Poisson designs), :mod:`.loglinear` (fit,
Chao's eta rule, abundance and SE), :mod:`.timeeffects` (Mt/Mth on sufficient
statistics for many occasions), :mod:`.profile` (profile-likelihood intervals),
:mod:`.forms` (Petersen, Chapman, Chao's lower bound, Zelterman),
:mod:`.bias_corrected` (Rcapture's ``closedp.bc``), :mod:`.recession` (does the
abundance exist? directions of recession), :mod:`.comparison` (the usable, distinct
models of a table, for selection and averaging), :mod:`.huggins`
(:class:`HugginsModel`: M0, Mt, Mb with individual covariates by Huggins' conditional
likelihood) and :mod:`.huggins_likelihood` (that likelihood, vectorised, for larger models).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crowdcensus.capture.closed.model import (
    ClosedModelTable,
    ClosedPopulationModel,
    available_models,
    fit_closed_models,
)

__all__ = ["ClosedModelTable", "ClosedPopulationModel", "HugginsModel", "available_models",
           "fit_closed_models", "fit_huggins_models"]

if TYPE_CHECKING:  # pragma: no cover
    from crowdcensus.capture.closed.huggins import HugginsModel, fit_huggins_models


def __getattr__(name: str):
    # Huggins' models need pandas (covariates); `estimate closed` without covariates
    # should not pay for importing it
    if name in ("HugginsModel", "fit_huggins_models"):
        from crowdcensus.capture.closed import huggins

        return getattr(huggins, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
