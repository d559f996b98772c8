"""crowdcensus: how many people do micro-work, and how sure can we be.

The public Python API is importable from the package root; each name is
imported on first use, so ``import crowdcensus`` stays cheap:

- :class:`ClosedPopulationModel`, :class:`HugginsModel` (individual covariates),
  :class:`MultipleSystemsModel`, :class:`OpenPopulationModel` -- the
  capture-recapture estimators, all of one
  shape (``fit`` returns the model; ``abundance_``, ``stderr_``,
  ``confidence_interval_``, ``summary``, ``to_dict()``, ``plot()``);
- :func:`read_histories` -- capture data from a CSV or Parquet file;
- :func:`load_study` and :func:`run_study` -- a study file and its pipeline.

The package is organised by area (see ``docs/DESIGN.md``): :mod:`crowdcensus.capture`
(histories and estimators), :mod:`crowdcensus.sources`, :mod:`crowdcensus.methods`,
:mod:`crowdcensus.report`, :mod:`crowdcensus.simulate`, :mod:`crowdcensus.collect`
and :mod:`crowdcensus.cli`.

>>> import crowdcensus
>>> from crowdcensus.capture import load_hare
>>> m = crowdcensus.ClosedPopulationModel("Mh Chao (LB)").fit(load_hare())
>>> round(m.abundance_, 1), m.n_captured_
(79.8, 68)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

_EXPORTS = {
    "ClosedPopulationModel": "crowdcensus.capture.closed.model",
    "HugginsModel": "crowdcensus.capture.closed.huggins",
    "MultipleSystemsModel": "crowdcensus.capture.mse.model",
    "OpenPopulationModel": "crowdcensus.capture.open.model",
    "read_histories": "crowdcensus.capture.readers",
    "load_study": "crowdcensus.study",
    "run_study": "crowdcensus.pipeline",
}

if TYPE_CHECKING:
    from crowdcensus.capture.closed.huggins import HugginsModel
    from crowdcensus.capture.closed.model import ClosedPopulationModel
    from crowdcensus.capture.mse.model import MultipleSystemsModel
    from crowdcensus.capture.open.model import OpenPopulationModel
    from crowdcensus.capture.readers import read_histories
    from crowdcensus.pipeline import run_study
    from crowdcensus.study import load_study


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'crowdcensus' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = [
    "ClosedPopulationModel",
    "HugginsModel",
    "MultipleSystemsModel",
    "OpenPopulationModel",
    "__version__",
    "load_study",
    "read_histories",
    "run_study",
]
