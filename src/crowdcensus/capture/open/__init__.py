"""Open populations: the Jolly-Seber model (arrivals, survival, abundance, half-life).

Modules: :mod:`.model` (:class:`OpenPopulationModel`), :mod:`.plots`.
"""

from __future__ import annotations

from crowdcensus.capture.open.model import OpenPopulationModel

__all__ = ["OpenPopulationModel"]
