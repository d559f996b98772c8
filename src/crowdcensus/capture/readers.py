"""Reading capture data files: histories, frequency-of-capture tables, event logs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from crowdcensus.capture.histories import CaptureFrequencies, CaptureHistories
from crowdcensus.errors import InputError
from crowdcensus.tables import read_columns, read_table


def read_histories(path: str | Path, freq: str | None = None) -> CaptureHistories:
    """Read capture histories from CSV or Parquet (``-``: a CSV on standard input).

    One 0/1 column per occasion and one row per individual, or one row per
    history with a count column (``freq``; a column named freq, count, n or
    frequency in any case is recognised without it). Rows with no capture are
    ignored.

    >>> from crowdcensus.datasets import path
    >>> h = read_histories(path("hare.csv"))
    >>> h.t, h.n_captured
    (6, 68)
    """
    return CaptureHistories.from_columns(read_columns(path), freq=freq)


def read_frequencies(
    path: str | Path, t: float, nbcap: str = "nbcap", freq: str | None = None
) -> CaptureFrequencies:
    """Read frequency-of-capture data (columns ``nbcap, freq``) for ``t`` occasions (or inf)."""
    return CaptureFrequencies.from_frame(read_table(path), t=t, nbcap=nbcap, freq=freq)


def read_events(
    path: str | Path,
    individual: str,
    occasion: str,
    occasions: Sequence | None = None,
) -> CaptureHistories:
    """Read an event log (one row per individual and occasion) and build histories."""
    return CaptureHistories.from_events(read_table(path), individual, occasion, occasions)


def parse_t(value: str | float | int | None) -> float:
    """Parse the ``--t`` option: a whole number >= 2, or ``inf``."""
    if value is None:
        raise InputError("frequency-of-capture data needs the number of occasions: --t T (or inf)")
    if isinstance(value, str):
        v = value.strip().lower()
        if v in {"inf", "infinity", "∞"}:
            return math.inf
        try:
            value = float(v)
        except ValueError:
            raise InputError(f"--t must be a whole number >= 2 or 'inf' (got {value!r})") from None
    if value == math.inf:
        return math.inf
    if value != int(value) or value < 2:
        raise InputError(f"--t must be a whole number >= 2 or 'inf' (got {value})")
    return int(value)
