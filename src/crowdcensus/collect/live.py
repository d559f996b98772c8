"""The estimators behind the live census -- the one place the service calls them.

Every call to crowdcensus's capture--recapture code from the collection
service goes through this module, and imports it lazily (inside the
functions): the web service starts without loading the estimators, and a
change in where they live touches only this file. The functions take the
capture histories exactly as the export gives them (one 0/1 column per wave
and a ``freq`` column) and return what ``crowdcensus estimate closed`` and
``crowdcensus estimate open`` print with ``--format json``, so the live
census and the command line agree by construction -- which the tests check.
"""

from __future__ import annotations

import math

import pandas as pd


def _histories(frame: pd.DataFrame):
    from crowdcensus.capture.histories import CaptureHistories

    return CaptureHistories.from_frame(frame, freq="freq")


def closed_estimates(frame: pd.DataFrame, level: float = 0.95) -> dict:
    """The closed-population model table and the model it selects, with its interval.

    Returns
    -------
    dict
        ``table``: what ``crowdcensus estimate closed FILE --format json``
        prints (every model defined for the data); ``selected``: the usable
        model with the lowest AIC (``ClosedModelTable.best``) refitted with its
        profile-likelihood interval, as
        ``estimate closed FILE --model NAME --ci profile --format json``
        prints its one model (None when no model is usable); ``skipped``:
        models not fitted and why.
    """
    from crowdcensus.capture.closed import fit_closed_models
    from crowdcensus.errors import CrowdcensusError

    histories = _histories(frame)
    table = fit_closed_models(histories, level=level)
    out = {"table": table.to_dict(), "selected": None, "skipped": dict(table.skipped)}
    try:
        best = table.best("aic")
    except CrowdcensusError:
        return out
    chosen = fit_closed_models(histories, models=[best.name_], ci="profile", level=level)
    out["selected"] = chosen.to_dict()["models"][0]
    return out


def open_estimates(frame: pd.DataFrame, level: float = 0.95) -> dict:
    """What ``crowdcensus estimate open FILE --format json`` prints for these histories."""
    from crowdcensus.capture.open import OpenPopulationModel

    return OpenPopulationModel(level=level).fit(_histories(frame)).to_dict()


def open_plot(frame: pd.DataFrame) -> bytes:
    """PNG of the open-population fit (abundance, arrivals, survival), as ``--plot``."""
    from crowdcensus.capture.open import OpenPopulationModel
    from crowdcensus.capture.open.plots import draw_abundance, draw_survival
    from crowdcensus.plotting import figure_png, file_figure

    model = OpenPopulationModel().fit(_histories(frame))
    fig = file_figure((7, 6.5))
    top, bottom = fig.subplots(2, 1, sharex=True)
    draw_abundance(model, top)
    draw_survival(model, bottom)
    fig.tight_layout()
    return figure_png(fig, dpi=100)


def max_open_periods() -> int:
    """The largest number of periods the open-population model takes."""
    from crowdcensus.capture.open.model import MAX_PERIODS

    return int(MAX_PERIODS)


def estimator_errors() -> tuple[type[BaseException], ...]:
    """Exceptions an estimator raises on data it cannot handle (reported, not crashed on)."""
    import numpy as np

    from crowdcensus.errors import CrowdcensusError

    return (CrowdcensusError, np.linalg.LinAlgError, FloatingPointError, OverflowError,
            ValueError)


def finite(x) -> float | None:
    """``x`` as a float, or None when missing or not finite (JSON has no inf/nan)."""
    if x is None:
        return None
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None
