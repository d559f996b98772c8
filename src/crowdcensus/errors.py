"""Domain exceptions. The CLI turns each into one line on stderr and a non-zero exit."""

from __future__ import annotations


class CrowdcensusError(Exception):
    """Base class for every error crowdcensus reports to a user (exit code 2: bad input)."""

    exit_code = 2


class InputError(CrowdcensusError, ValueError):
    """The input data or options are malformed (bad values, missing columns...)."""


class ModelError(CrowdcensusError):
    """A model cannot be fitted or is not defined for the data at hand (exit code 3)."""

    exit_code = 3


class NotIdentifiableError(ModelError):
    """The data cannot determine the quantity asked for (e.g. no recaptures)."""


class TooLargeError(ModelError):
    """A model needs a table too large for the data's number of occasions."""


class WorkerDiedError(CrowdcensusError):
    """A worker process was killed while it ran a task (exit code 1: not the input's fault)."""

    exit_code = 1


class NotFittedError(AttributeError):
    """An estimator's fitted attribute was read before ``fit`` (a programming error)."""
