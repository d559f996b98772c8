"""The examples in the public API's docstrings run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "crowdcensus",
    "crowdcensus.capture.base",
    "crowdcensus.capture.glm",
    "crowdcensus.capture.readers",
    "crowdcensus.capture.closed.model",
    "crowdcensus.capture.closed.huggins",
    "crowdcensus.capture.mse.model",
    "crowdcensus.capture.open.model",
    "crowdcensus.config",
    "crowdcensus.extras",
    "crowdcensus.parallel",
    "crowdcensus.pipeline",
    "crowdcensus.synthesis.inference",
    "crowdcensus.synthesis.population",
    "crowdcensus.synthesis.priors",
    "crowdcensus.synthesis.sensitivity",
    "crowdcensus.synthesis.summary",
    "crowdcensus.commands.simulate",
    "crowdcensus.simulate.validation_report",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no example"
    assert result.failed == 0
