"""Capture histories and capture-recapture estimators."""

from crowdcensus.capture.histories import CaptureFrequencies, CaptureHistories
from crowdcensus.capture.readers import read_events, read_frequencies, read_histories

__all__ = [
    "CaptureFrequencies",
    "CaptureHistories",
    "read_events",
    "read_frequencies",
    "read_histories",
]
