"""The shape shared by every population-size estimator.

A concrete estimator (:class:`~crowdcensus.capture.closed.ClosedPopulationModel`,
:class:`~crowdcensus.capture.mse.MultipleSystemsModel`,
:class:`~crowdcensus.capture.open.OpenPopulationModel`) stores its parameters in
``__init__`` and supplies only its mathematics (``_fit``); this base class owns
the steps they share:

- ``fit(data)`` checks ``level``, forgets any previous fit, calls ``_fit`` and
  returns ``self``;
- fitted attributes end in ``_`` and exist only after ``fit``: ``abundance_``,
  ``stderr_``, ``n_captured_`` and ``confidence_interval_`` -- ``(low, high)`` at
  ``level``; an estimator that has no interval of its own gets Chao's (1987)
  log-normal interval (:func:`lognormal_interval`);
- ``summary`` -- a one-row :class:`pandas.DataFrame` (abundance, stderr,
  interval, then the estimator's fit statistics);
- ``to_dict()`` -- exactly what ``crowdcensus estimate ... --format json`` prints,
  with its ``schema_version``;
- ``plot(ax=None)`` -- draws on ``ax`` (or a new figure) and returns the Axes.

Reference
---------
Chao, A. (1987). Estimating the population size for capture-recapture data with
unequal catchability. *Biometrics* 43, 783-791.
"""

from __future__ import annotations

import inspect
import math
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

from crowdcensus.errors import InputError, NotFittedError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

#: Version of the JSON documents printed by ``crowdcensus estimate``; raised when a
#: key changes meaning or disappears (adding keys does not change it).
SCHEMA_VERSION = 1


def check_level(level: float) -> float:
    """``level`` as a float strictly between 0 and 1, else :class:`InputError`."""
    try:
        value = float(level)
    except (TypeError, ValueError):
        raise InputError(f"level must be a number between 0 and 1 (got {level!r})") from None
    if not 0.0 < value < 1.0:
        raise InputError(f"level must lie strictly between 0 and 1 (got {level})")
    return value


def normal_quantile(p: float) -> float:
    """The standard normal quantile ``Phi^{-1}(p)``."""
    return NormalDist().inv_cdf(p)


def lognormal_interval(n: float, N: float, se: float, level: float) -> tuple[float, float]:
    """Chao's (1987) log-transformed interval for a population size.

    With ``f0 = N - n`` the estimated number never seen,
    ``C = exp(z sqrt(log(1 + se**2 / f0**2)))`` and ``z`` the normal quantile of
    ``(1 + level) / 2``, the interval is ``(n + f0 / C, n + f0 C)``: it never
    falls below the ``n`` individuals seen and is skewed to the right as the
    sampling distribution of ``N`` is.

    >>> low, high = lognormal_interval(68, 75.0, 3.0, 0.95)
    >>> round(low, 2), round(high, 2)
    (71.13, 83.65)
    """
    f0 = N - n
    if f0 <= 0:
        return float(n), float(n)
    if not math.isfinite(N) or not math.isfinite(se):
        return float(n), math.inf
    z = normal_quantile(0.5 + level / 2)
    c = math.exp(z * math.sqrt(math.log1p(se**2 / f0**2)))
    return n + f0 / c, n + f0 * c


def finite_or_none(x: float | None) -> float | None:
    """``x`` as a float, or ``None`` when it is missing or not finite (JSON ``null``)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


class PopulationEstimator:
    """Base class of the population-size estimators (see the module docstring).

    Subclasses implement ``_fit(data)`` (setting at least ``abundance_``,
    ``stderr_`` and ``n_captured_``), ``to_dict()`` and ``plot(ax=None)``, and may
    override ``_label()`` (the row name of ``summary``) and ``_statistics()``
    (its other columns).
    """

    level: float

    # ------------------------------------------------------------------ fitting
    def fit(self, data: Any) -> PopulationEstimator:
        """Fit the estimator to ``data`` and return ``self``."""
        self.level = check_level(self.level)
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, name)
        self._fit(data)
        if "confidence_interval_" not in vars(self):
            self.confidence_interval_ = lognormal_interval(
                self.n_captured_, self.abundance_, self.stderr_, self.level
            )
        return self

    def _fit(self, data: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` has run."""
        return "abundance_" in vars(self)

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet: call fit(data) first"
            )

    # ------------------------------------------------------------------ outputs
    def _label(self) -> str:
        return type(self).__name__

    def _statistics(self) -> dict[str, Any]:
        return {}

    @property
    def summary(self) -> pd.DataFrame:
        """One row: ``abundance``, ``stderr``, ``ci_low``, ``ci_high`` (at ``level``), then
        the estimator's fit statistics; ``summary.attrs["level"]`` holds the level."""
        import pandas as pd

        self._check_fitted()
        low, high = self.confidence_interval_ or (math.nan, math.nan)
        row = {"abundance": self.abundance_, "stderr": self.stderr_,
               "ci_low": math.nan if low is None else low,
               "ci_high": math.nan if high is None else high, **self._statistics()}
        frame = pd.DataFrame([row], index=pd.Index([self._label()], name="model"))
        frame.attrs["level"] = self.level
        return frame

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - abstract
        """What ``crowdcensus estimate ... --format json`` prints for this fit."""
        raise NotImplementedError

    def plot(self, ax: Axes | None = None) -> Axes:  # pragma: no cover - abstract
        """Draw the fit on ``ax`` (default: a new figure) and return the Axes."""
        raise NotImplementedError

    # ------------------------------------------------------------------ parameters
    def get_params(self) -> dict[str, Any]:
        """The constructor's parameters and their current values."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {p: getattr(self, p) for p in names if hasattr(self, p)}

    def __repr__(self) -> str:
        if self.is_fitted:
            low, high = self.confidence_interval_ or (math.nan, math.nan)
            return (f"<{type(self).__name__} {self._label()}: N = {self.abundance_:,.2f} "
                    f"(SE {self.stderr_:,.2f}; {self.level:.0%} interval {low:,.1f}-{high:,.1f})>")
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"
