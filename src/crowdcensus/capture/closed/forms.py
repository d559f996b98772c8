"""Closed-form abundance estimators: Lincoln--Petersen, Chapman, Chao's lower bound, Zelterman.

Each returns a :class:`ClosedFormEstimate`. When the data cannot bound the
population (no recapture, no individual caught twice...), the estimate is
``inf`` and ``status`` says why -- never a huge finite number.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from crowdcensus.capture.base import lognormal_interval
from crowdcensus.capture.histories import CaptureFrequencies, CaptureHistories
from crowdcensus.errors import InputError


@dataclass(frozen=True)
class ClosedFormEstimate:
    """An abundance estimate with its standard error and interval."""

    estimator: str
    abundance: float
    stderr: float
    ci_low: float
    ci_high: float
    status: str = "ok"

    def to_dict(self) -> dict:
        d = asdict(self)
        for key in ("abundance", "stderr", "ci_low", "ci_high"):
            if not math.isfinite(d[key]):
                d[key] = None
        return d


def _log_interval(n: float, N: float, se: float, level: float) -> tuple[float, float]:
    """Chao (1987) interval: :func:`crowdcensus.capture.base.lognormal_interval`."""
    return lognormal_interval(n, N, se, level)


def _unbounded(name: str, n: float, why: str) -> ClosedFormEstimate:
    return ClosedFormEstimate(name, math.inf, math.inf, float(n), math.inf, f"unbounded: {why}")


def _check_mcr(marked: int, caught: int, recaptured: int) -> None:
    for label, v in (("marked", marked), ("caught", caught), ("recaptured", recaptured)):
        if v < 0 or v != int(v):
            raise InputError(f"{label} must be a whole number >= 0 (got {v})")
    if recaptured > min(marked, caught):
        raise InputError("recaptured cannot exceed the number marked or the number caught")


def lincoln_petersen(
    marked: int, caught: int, recaptured: int, level: float = 0.95
) -> ClosedFormEstimate:
    """Lincoln--Petersen: ``N = M C / R``.

    Variance ``M C (M - R)(C - R) / R**3`` (Seber 1982, eq. 3.2).
    """
    _check_mcr(marked, caught, recaptured)
    n = marked + caught - recaptured
    if recaptured == 0:
        return _unbounded("Lincoln-Petersen", n, "no recaptures")
    M, C, R = float(marked), float(caught), float(recaptured)
    N = M * C / R
    se = math.sqrt(M * C * (M - R) * (C - R) / R**3)
    return ClosedFormEstimate("Lincoln-Petersen", N, se, *_log_interval(n, N, se, level))


def chapman(marked: int, caught: int, recaptured: int, level: float = 0.95) -> ClosedFormEstimate:
    """Chapman's bias-corrected Petersen: ``N = (M+1)(C+1)/(R+1) - 1``.

    Variance ``(M+1)(C+1)(M-R)(C-R) / ((R+1)**2 (R+2))`` (Seber 1982, eq. 3.7).
    Finite even with ``R = 0``, but then only a lower bound of the order of
    ``M C``: the status says so.
    """
    _check_mcr(marked, caught, recaptured)
    n = marked + caught - recaptured
    M, C, R = float(marked), float(caught), float(recaptured)
    N = (M + 1) * (C + 1) / (R + 1) - 1
    se = math.sqrt((M + 1) * (C + 1) * (M - R) * (C - R) / ((R + 1) ** 2 * (R + 2)))
    status = "ok" if recaptured > 0 else "no recaptures: the estimate is not reliable"
    return ClosedFormEstimate("Chapman", N, se, *_log_interval(n, N, se, level), status)


def _f1_f2(data: CaptureHistories | CaptureFrequencies) -> tuple[int, float, float]:
    if isinstance(data, CaptureHistories):
        f = data.capture_frequencies()
    else:
        f = data.f
    f1 = float(f[0])
    f2 = float(f[1]) if len(f) > 1 else 0.0
    return data.n_captured, f1, f2


def chao_lower_bound(
    data: CaptureHistories | CaptureFrequencies, level: float = 0.95
) -> ClosedFormEstimate:
    """Chao (1987) lower bound ``N = n + f1**2 / (2 f2)``.

    With ``f2 = 0`` the bias-corrected form ``n + f1 (f1 - 1) / 2`` is used.
    Variance (Chao 1987) ``f2 (r**4/4 + r**3 + r**2/2)`` with ``r = f1/f2``.
    """
    n, f1, f2 = _f1_f2(data)
    if f1 == n and f2 == 0:
        return _unbounded("Chao lower bound", n, "every individual was caught exactly once")
    if f2 > 0:
        r = f1 / f2
        N = n + f1**2 / (2 * f2)
        var = f2 * (r**4 / 4 + r**3 + r**2 / 2)
    else:
        N = n + f1 * (f1 - 1) / 2
        var = f1 * (f1 - 1) / 2 + f1 * (2 * f1 - 1) ** 2 / 4 - f1**4 / (4 * N) if N > 0 else 0.0
    se = math.sqrt(max(var, 0.0))
    return ClosedFormEstimate("Chao lower bound", N, se, *_log_interval(n, N, se, level))


def zelterman(
    data: CaptureHistories | CaptureFrequencies, level: float = 0.95
) -> ClosedFormEstimate:
    """Zelterman (1988): ``N = n / (1 - exp(-lambda))`` with ``lambda = 2 f2 / f1``.

    Variance from Böhning (2008): the binomial part
    ``n e^-l / (1 - e^-l)**2`` plus the delta-method part
    ``n**2 e^-2l / (1 - e^-l)**4 * l**2 (1/f1 + 1/f2)``.
    """
    n, f1, f2 = _f1_f2(data)
    if f2 == 0 or f1 == 0:
        why = "no individual caught twice" if f2 == 0 else "no individual caught once"
        return _unbounded("Zelterman", n, why) if f2 == 0 else ClosedFormEstimate(
            "Zelterman", float(n), 0.0, float(n), float(n), f"degenerate: {why}")
    lam = 2 * f2 / f1
    q = math.exp(-lam)
    N = n / (1 - q)
    var = n * q / (1 - q) ** 2 + n**2 * q**2 / (1 - q) ** 4 * lam**2 * (1 / f1 + 1 / f2)
    se = math.sqrt(var)
    return ClosedFormEstimate("Zelterman", N, se, *_log_interval(n, N, se, level))


def two_sample_counts(data: CaptureHistories, first: int = 0, second: int = 1) -> tuple[int, ...]:
    """``(M, C, R)`` from two occasions of a history table: marked, caught, recaptured."""
    h, w = data.histories, data.counts
    M = int(w[h[:, first] == 1].sum())
    C = int(w[h[:, second] == 1].sum())
    R = int(w[(h[:, first] == 1) & (h[:, second] == 1)].sum())
    return M, C, R


def closed_form_estimates(
    data: CaptureHistories | CaptureFrequencies, level: float = 0.95
) -> list[ClosedFormEstimate]:
    """The closed forms that apply: Petersen and Chapman for two occasions; Chao, Zelterman."""
    out = []
    if isinstance(data, CaptureHistories) and data.t == 2:
        M, C, R = two_sample_counts(data)
        out += [lincoln_petersen(M, C, R, level), chapman(M, C, R, level)]
    out += [chao_lower_bound(data, level), zelterman(data, level)]
    return out
