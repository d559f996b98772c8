"""Readers for the inputs of a study: experiment responses and the platform figures."""

from crowdcensus.sources.figures import PlatformFigures, platform_figures
from crowdcensus.sources.responses import Responses, read_responses

__all__ = ["PlatformFigures", "Responses", "platform_figures", "read_responses"]
