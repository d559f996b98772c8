"""crowdcensus: how many people do micro-work, and how sure can we be.

The package is organised by area (see ``docs/DESIGN.md``):

- :mod:`crowdcensus.capture` -- capture histories and capture-recapture estimators;
- :mod:`crowdcensus.cli` -- the ``crowdcensus`` command.
"""

from __future__ import annotations

__version__ = "0.1.0"
