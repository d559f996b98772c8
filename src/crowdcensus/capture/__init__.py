"""Capture histories and capture-recapture estimators."""

from __future__ import annotations

from crowdcensus.capture.histories import CaptureFrequencies, CaptureHistories
from crowdcensus.capture.readers import read_events, read_frequencies, read_histories


def load_hare() -> CaptureHistories:
    """Snowshoe hare live-trapping: 68 hares caught over 6 occasions.

    Source: Cormack (1989), *Biometrics* 45, 395-413, from Otis, Burnham,
    White & Anderson (1978), *Wildlife Monographs* 62; the ``hare`` data of the
    R package Rcapture.
    """
    from crowdcensus.datasets import path

    return read_histories(path("hare.csv"))


def load_seber2() -> CaptureHistories:
    """Two-sample example of Seber (1982, p. 107): 948 marked, 421 caught, 167 recaptured."""
    from crowdcensus.datasets import path

    return read_histories(path("seber2.csv"))


__all__ = [
    "CaptureFrequencies",
    "CaptureHistories",
    "load_hare",
    "load_seber2",
    "read_events",
    "read_frequencies",
    "read_histories",
]
