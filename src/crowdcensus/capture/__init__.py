"""Capture histories and capture-recapture estimators.

The shared core lives here (:mod:`.histories`, :mod:`.readers`, :mod:`.periods`,
:mod:`.glm`, :mod:`.base`); the estimators live in sub-packages: :mod:`.closed`
(closed populations), :mod:`.mse` (multiple systems estimation), :mod:`.open`
(open populations). Every name below is imported on first use, so that importing
one module of the package does not import them all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

_EXPORTS = {
    "CaptureFrequencies": "crowdcensus.capture.histories",
    "CaptureHistories": "crowdcensus.capture.histories",
    "read_events": "crowdcensus.capture.readers",
    "read_frequencies": "crowdcensus.capture.readers",
    "read_histories": "crowdcensus.capture.readers",
    "ClosedPopulationModel": "crowdcensus.capture.closed.model",
    "fit_closed_models": "crowdcensus.capture.closed.model",
    "HugginsModel": "crowdcensus.capture.closed.huggins",
    "fit_huggins_models": "crowdcensus.capture.closed.huggins",
    "MultipleSystemsModel": "crowdcensus.capture.mse.model",
    "OpenPopulationModel": "crowdcensus.capture.open.model",
}

if TYPE_CHECKING:
    from crowdcensus.capture.closed.model import ClosedPopulationModel, fit_closed_models
    from crowdcensus.capture.histories import CaptureFrequencies, CaptureHistories
    from crowdcensus.capture.mse.model import MultipleSystemsModel
    from crowdcensus.capture.open.model import OpenPopulationModel
    from crowdcensus.capture.readers import read_events, read_frequencies, read_histories


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


def load_hare() -> CaptureHistories:
    """Snowshoe hare live-trapping: 68 hares caught over 6 occasions.

    Source: Cormack (1989), *Biometrics* 45, 395-413, from Otis, Burnham,
    White & Anderson (1978), *Wildlife Monographs* 62; the ``hare`` data of the
    R package Rcapture.
    """
    from crowdcensus.capture.readers import read_histories
    from crowdcensus.datasets import path

    return read_histories(path("hare.csv"))


def load_deermice():
    """Deer mice live-trapping: 38 mice over 6 nights, with sex (1 = male) and weight (g).

    Source: Huggins (1991), *Biometrics* 47, 725-732, as the ``deermice`` data of
    the R package VGAM (without its ``age`` column). Returns a DataFrame with the
    occasion columns ``y1 ... y6`` and the covariates ``sex``, ``weight``: the input
    of :class:`crowdcensus.capture.closed.huggins.HugginsModel`.
    """
    from crowdcensus.datasets import path
    from crowdcensus.tables import read_table

    return read_table(path("deermice.csv"))


def load_seber2() -> CaptureHistories:
    """Two-sample example of Seber (1982, p. 107): 948 marked, 421 caught, 167 recaptured."""
    from crowdcensus.capture.readers import read_histories
    from crowdcensus.datasets import path

    return read_histories(path("seber2.csv"))


__all__ = [
    "CaptureFrequencies",
    "CaptureHistories",
    "ClosedPopulationModel",
    "HugginsModel",
    "MultipleSystemsModel",
    "OpenPopulationModel",
    "fit_closed_models",
    "fit_huggins_models",
    "load_deermice",
    "load_hare",
    "load_seber2",
    "read_events",
    "read_frequencies",
    "read_histories",
]
