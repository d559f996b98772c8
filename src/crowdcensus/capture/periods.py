"""Per-period capture histories from an event log.

An open-population study needs, for each worker, whether they were seen in
each period (week, month, wave...). A collection-service export -- or any log
with one row per response, a worker column (already a keyed hash: raw
platform IDs never reach this code) and a timestamp or wave column -- becomes
:class:`~crowdcensus.capture.histories.CaptureHistories` here. Periods with
nobody seen are kept, so the periods stay equally spaced.
"""

from __future__ import annotations

import pandas as pd

from crowdcensus.capture.histories import CaptureHistories, occasion_order
from crowdcensus.errors import InputError
from crowdcensus.tables import read_times

#: Calendar period names accepted besides fixed lengths such as ``"14D"``.
CALENDAR_PERIODS = {"day": "D", "week": "W", "month": "M", "quarter": "Q", "year": "Y"}


def histories_from_events(
    events: pd.DataFrame,
    worker: str,
    time: str | None = None,
    wave: str | None = None,
    period: str = "month",
    origin: str | pd.Timestamp | None = None,
) -> CaptureHistories:
    """Build per-period histories from an event log.

    Parameters
    ----------
    events : DataFrame
        One row per response (repeated rows in a period count once).
    worker : str
        Column identifying the worker (a hashed identifier).
    time : str, optional
        Timestamp column; rows are grouped into periods of length ``period``.
    wave : str, optional
        Column already giving the period (wave number or label); used as is:
        numbers fill the gaps between the smallest and largest, labels are taken
        in their natural order (``w2`` before ``w10``: :func:`occasion_order`).
    period : str
        With ``time``: ``day``, ``week``, ``month``, ``quarter``, ``year`` (calendar
        periods) or a fixed length such as ``"14D"``, ``"30D"``, ``"12h"``.
    origin : str or Timestamp, optional
        Start of the first fixed-length period (default: the first event).

    Returns
    -------
    CaptureHistories
        One occasion per period, named by the period (``2024-03``, ``2024-03-01``...).
    """
    if (time is None) == (wave is None):
        raise InputError("give either a timestamp column (--time) or a wave column (--wave)")
    col = time if time is not None else wave
    for c in (worker, col):
        if c not in events.columns:
            raise InputError(f"missing column '{c}' in the event log (columns: "
                             f"{', '.join(map(str, events.columns))})")
    ev = events[[worker, col]].dropna()
    if len(ev) == 0:
        raise InputError("no data: the event log has no complete rows")
    if wave is not None:
        values = ev[wave]
        if pd.api.types.is_numeric_dtype(values):
            if (values != values.round()).any():
                raise InputError(f"wave column '{wave}' must hold whole numbers or labels")
            lo, hi = int(values.min()), int(values.max())
            order = list(range(lo, hi + 1))
            labels = ev[wave].astype(int)
        else:
            labels = values.astype(str).str.strip()
            order = occasion_order(labels.unique())
        frame = pd.DataFrame({"worker": ev[worker].to_numpy(), "period": labels.to_numpy()})
        return CaptureHistories.from_events(frame, "worker", "period", order)
    stamps = read_times(ev[time], name=f"column '{time}'")
    if stamps.isna().any():
        bad = ev[time][stamps.isna()].iloc[0]
        raise InputError(f"column '{time}' has a value that is not a date or time: {bad!r}")
    stamps = stamps.dt.tz_convert(None)
    key = period.strip().lower()
    if key in CALENDAR_PERIODS:
        per = stamps.dt.to_period(CALENDAR_PERIODS[key])
        first, last = per.min(), per.max()
        order = [str(p) for p in pd.period_range(first, last, freq=first.freq)]
        labels = per.astype(str)
    else:
        try:
            length = pd.Timedelta(period)
        except (ValueError, TypeError):
            raise InputError(
                f"period {period!r} is neither day/week/month/quarter/year nor a length "
                "such as 14D or 12h"
            ) from None
        if length <= pd.Timedelta(0):
            raise InputError("the period length must be positive")
        start = stamps.min() if origin is None else pd.Timestamp(origin).tz_localize(None)
        if stamps.min() < start:
            raise InputError("some events are before the origin of the first period")
        index = ((stamps - start) // length).astype(int)
        n = int(index.max()) + 1
        order = [str((start + k * length).date()) if length >= pd.Timedelta("1D")
                 else str(start + k * length) for k in range(n)]
        labels = index.map(lambda k: order[k])
    frame = pd.DataFrame({"worker": ev[worker].to_numpy(), "period": labels.to_numpy()})
    return CaptureHistories.from_events(frame, "worker", "period", order)
