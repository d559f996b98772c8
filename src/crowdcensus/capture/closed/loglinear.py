"""Fitting a closed-population design: the Poisson fit, Chao's eta >= 0 rule, and the
abundance with its standard error."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from crowdcensus.capture.closed.design import Design
from crowdcensus.capture.glm import fit_poisson

#: Unseen individuals beyond this multiple of the number caught mean the data do not
#: bound the population (the likelihood keeps increasing towards N = infinity).
UNBOUNDED_RATIO = 1e6
#: Status of a fit whose maximum lies at infinity with no unseen individual left.
DEGENERATE = "degenerate: fitted rates numerically 0, N = n at the limit"
#: Status of a fit whose maximum lies at infinity but leaves the abundance determined.
ZERO_RATES = "zero rates: some fitted rates are numerically 0; N is their limit"
#: Fitted means below this on empty cells prompt the search for a direction of recession.
RECEDING_MEAN = 1e-6
#: An eta below this is negative or 0 to rounding: at its bound, removed (an eta whose
#: maximum is exactly 0 comes out as +-1e-15; keeping it changes nothing but the df).
ETA_ZERO = 1e-10


@dataclass
class LogLinearFit:
    """Everything an estimator reports from one fitted design."""

    coef: np.ndarray
    cov: np.ndarray
    names: list[str]
    converged: bool
    rank: int
    #: ``sum_cells y log(mu) - sum_cells mu`` at the estimate.
    kernel: float
    abundance: float
    variance: float
    fitted: np.ndarray
    design: Design
    removed: list[str] = field(default_factory=list)
    #: Where the likelihood's supremum lies (see :mod:`.recession`): ``"n"`` (no unseen
    #: individual), ``"inf"``, ``"zero"`` (at infinity, the abundance determined), or
    #: ``None`` (a finite maximum).
    direction: str | None = None

    @property
    def n_captured(self) -> int:
        return self.design.n_captured

    @property
    def deviance(self) -> float:
        d = self.design
        return max(2.0 * (d.saturated_ylogy - d.y.sum() - self.kernel), 0.0)

    @property
    def loglik(self) -> float:
        return self.kernel - self.design.lgamma_sum

    @property
    def df(self) -> int:
        return self.design.n_cells - self.rank

    @property
    def aic(self) -> float:
        return -2 * self.loglik + 2 * self.rank

    @property
    def bic(self) -> float:
        return -2 * self.loglik + math.log(self.n_captured) * self.rank

    @property
    def stderr(self) -> float:
        return math.sqrt(self.variance) if self.variance >= 0 else math.nan

    @property
    def unbounded(self) -> bool:
        return self.direction == "inf" or not math.isfinite(self.abundance) or (
            self.abundance - self.n_captured > UNBOUNDED_RATIO * max(self.n_captured, 1)
        )

    @property
    def degenerate(self) -> bool:
        """The fitted rates of some empty cells went to 0 and took the unseen count with
        them: the data do not bound the abundance away from ``n``."""
        return self.direction == "n" and not self.unbounded

    @property
    def status(self) -> str:
        if self.unbounded:
            return "unbounded"
        if self.degenerate:
            return DEGENERATE
        if not self.converged:
            return "not converged"
        if self.direction == "zero":
            return ZERO_RATES
        if self.rank < len(self.names):
            return "rank deficient"
        if self.removed:
            shown = ", ".join(f"{r}=0" for r in sorted(self.removed, key=_eta_order)[:4])
            more = f" and {len(self.removed) - 4} more" if len(self.removed) > 4 else ""
            return f"boundary: {shown}{more}"
        return "ok"


def _eta_order(name: str) -> tuple[int, str]:
    digits = "".join(ch for ch in name if ch.isdigit())
    return (int(digits) if digits else 0, name)


def _kernel(design: Design, fitted: np.ndarray) -> float:
    y = design.y
    pos = y > 0
    per_cell = np.log(fitted[pos]) - design.cell_offset[pos]
    return float(np.sum(y[pos] * per_cell) - fitted.sum())


def fit_design(design: Design) -> LogLinearFit:
    """Fit a design; for Chao models drop the first negative eta and refit until none is.

    Removing an eta sets it to 0, its boundary (Rcapture's ``neg = TRUE``). The etas
    are all in the first fits, as in Rcapture: an eta acting only on capture counts
    nobody reached goes to minus infinity there (those cells are fitted as 0) and is
    removed in its turn. One such eta still positive at the end is set to 0 as well:
    the likelihood can only fall as it grows (it adds expected counts to empty cells),
    so 0 is its constrained maximum -- where Rcapture keeps it at an arbitrary value
    and counts it in the degrees of freedom.
    """
    removed: list[str] = []
    seen = design.y > 0
    start = None
    while True:
        pf = fit_poisson(design.X, design.y, design.offset, start=start)
        neg = [j for j in design.constrained
               if np.isfinite(pf.coef[j]) and pf.coef[j] < ETA_ZERO]
        if neg:
            drop = [neg[0]]
        else:
            drop = [j for j in design.constrained if not np.any(design.X[seen, j])]
            if not drop:
                break
        removed += [design.names[j] for j in drop]
        start = np.delete(pf.coef, drop)
        design = design.drop(drop)
    coef = np.where(np.isfinite(pf.coef), pf.coef, 0.0)
    cov = np.where(np.isfinite(pf.cov), pf.cov, 0.0)
    if design.abundance is not None:
        N, var = design.abundance(coef, cov)
    else:
        n0 = math.exp(min(coef[0], 700.0))
        N = design.n_captured + n0
        var = n0 + n0 * n0 * cov[0, 0]
    return LogLinearFit(
        coef=pf.coef, cov=pf.cov, names=list(design.names), converged=pf.converged,
        rank=pf.rank, kernel=_kernel(design, pf.fitted), abundance=N, variance=var,
        fitted=pf.fitted, design=design, removed=removed, direction=_direction(design, pf),
    )


def _direction(design: Design, pf) -> str | None:
    """Search a direction of recession when an empty cell's fitted mean has nearly vanished."""
    empty = design.y == 0
    if not np.any(pf.fitted[empty] < RECEDING_MEAN):
        return None
    from crowdcensus.capture.closed.recession import abundance_direction

    cols = np.isfinite(pf.coef)  # aliased columns leave the cone's lineality aside
    x0 = None if design.zero_row is None else design.zero_row[cols]
    return abundance_direction(design.X[:, cols], design.y, x0)
