"""Bundled example data sets (loaded through functions whose docstrings cite the source)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def path(name: str) -> Path:
    """Filesystem path of a bundled data file."""
    return Path(str(files("crowdcensus.datasets").joinpath(name)))
