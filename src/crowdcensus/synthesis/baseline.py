"""The old combination of the methods, kept as a named baseline: inverse-variance weights.

Before the joint model (:mod:`crowdcensus.synthesis.model`), crowdcensus
combined the methods' estimates of a tier by an inverse-variance weighted mean
on the log scale,

.. math::

   \\log \\hat N = \\sum_k w_k \\log \\hat N_k,\\qquad
   w_k = \\frac{1/v_k}{\\sum_j 1/v_j},

with :math:`v_k` the Monte Carlo variance of :math:`\\log \\hat N_k`, and widened
its interval by a between-method spread (DerSimonian and Laird, 1986): each
method's log estimate carries a bias of its own of variance :math:`\\tau^2`,

.. math::

   Q = \\sum_k \\frac{(\\log \\hat N_k - \\overline{\\log N})^2}{v_k},\\qquad
   \\tau^2 = \\max\\Big(0, \\frac{Q - (K - 1)}
   {\\sum_k v_k^{-1} - \\sum_k v_k^{-2} / \\sum_k v_k^{-1}}\\Big),

every combined draw multiplied by :math:`\\exp(\\epsilon)`,
:math:`\\epsilon \\sim N(0, \\tau^2 \\sum_k w_k^2)`. It treats methods that measure
different things, each with a known bias of a known sign, as unbiased
measurements of one number; ``docs/validation.md`` shows where that fails.
It stays as the ``inverse_variance`` row of ``crowdcensus validate`` and, where
each tier has a single method (the France 2018 example), it *is* the published
arithmetic, reproduced to the unit.

References
----------
DerSimonian, R. and Laird, N. (1986). Meta-analysis in clinical trials.
*Controlled Clinical Trials* 7, 177-188.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crowdcensus.methods.montecarlo import (
    METHOD_LABELS,
    METHODS,
    Evaluation,
    Interval,
    MethodRun,
    Parameter,
    TriangulationModel,
    _interval,
)
from crowdcensus.tiers import BANDS, TIERS, disjoint


def _combine(est: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):  # a draw of 0 workers gives 0
        return np.exp(sum(w * np.log(est[m]) for m, w in weights.items()))


def combination_weights(log_draws: dict[str, np.ndarray]) -> dict[str, float]:
    """Inverse-variance weights of the methods' log estimates (equal if none varies)."""
    var = {m: float(np.var(d)) for m, d in log_draws.items()}
    if any(v <= 0 for v in var.values()):
        fixed = [m for m, v in var.items() if v <= 0]
        return {m: (1 / len(fixed) if m in fixed else 0.0) for m in var}
    inv = {m: 1 / v for m, v in var.items()}
    total = sum(inv.values())
    return {m: w / total for m, w in inv.items()}


def between_method_variance(points: dict[str, float], variances: dict[str, float]) -> float:
    """DerSimonian--Laird estimate of the between-method variance of log estimates."""
    keys = [m for m in points if np.isfinite(points[m]) and variances.get(m, 0) > 0]
    if len(keys) < 2:
        return 0.0
    w = np.array([1 / variances[m] for m in keys])
    y = np.array([points[m] for m in keys])
    ybar = float(np.sum(w * y) / w.sum())
    q = float(np.sum(w * (y - ybar) ** 2))
    c = float(w.sum() - np.sum(w**2) / w.sum())
    return max(0.0, (q - (len(keys) - 1)) / c) if c > 0 else 0.0


@dataclass
class Baseline:
    """The inverse-variance combination of every tier, its weights and its draws."""

    weights: dict[str, dict[str, float]]
    combined: dict[str, Interval]
    disjoint: dict[str, Interval]
    draws: dict[str, np.ndarray]
    sensitivity: pd.DataFrame
    warnings: list[str] = field(default_factory=list)


def combine_methods(run: MethodRun, level: float, rng: np.random.Generator,
                    read_by_joint: Collection[str] = ()) -> Baseline:
    """Combine the methods' estimates of each tier by inverse-variance weights (see above).
    ``read_by_joint``: tiers that no method estimates on its own but the joint model reads
    (the experiment's, where no closed model read its histories); the warning says so."""
    point, mc = run.point, run.methods
    warnings: list[str] = []
    weights: dict[str, dict[str, float]] = {}
    combined_point: dict[str, float] = {}
    combined_draws: dict[str, np.ndarray] = {}
    n_draws = len(next(iter(run.sampled.values()))) if run.sampled else 0
    for t in TIERS:
        have = [m for m in METHODS if m in point.methods and t in point.methods[m]]
        if not have:
            warnings.append(f"no method estimates the {t} tier" + (
                " on its own (the joint model reads it from the experiment's histories)"
                if t in read_by_joint else ""))
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            logs = {m: np.log(mc[m][t]) for m in have}
            log_points = {m: float(np.log(point.methods[m][t][0])) for m in have}
        finite = {m: v[np.isfinite(v)] for m, v in logs.items()}
        # a method that finds no worker in the tier has no logarithm to weigh
        for m in [m for m in have if not finite[m].size or not np.isfinite(log_points[m])]:
            warnings.append(f"{METHOD_LABELS[m].lower()} finds no worker in the "
                            f"{t.replace('_', ' ')} tier: "
                            "left out of the inverse-variance combination")
            have.remove(m)
        if not have:
            continue
        finite = {m: finite[m] for m in have}
        log_points = {m: log_points[m] for m in have}
        w = combination_weights(finite)
        tau2 = between_method_variance(log_points, {m: float(np.var(v))
                                                    for m, v in finite.items()})
        weights[t] = w
        combined_point[t] = float(_combine({m: point.methods[m][t] for m in have}, w)[0])
        combined_draws[t] = _combine({m: mc[m][t] for m in have}, w)
        if tau2 > 0:
            spread = np.sqrt(tau2 * sum(x * x for x in w.values()))
            combined_draws[t] = combined_draws[t] * np.exp(
                spread * rng.standard_normal(n_draws))
    combined = {t: _interval(combined_point[t], combined_draws[t], level)
                for t in combined_point}
    disjoint_iv: dict[str, Interval] = {}
    if all(t in combined for t in TIERS):
        dp = disjoint({t: np.array(combined_point[t]) for t in TIERS})
        dd = disjoint(combined_draws)
        disjoint_iv = {b: _interval(float(dp[b]), dd[b], level) for b in BANDS}
    sens = sensitivity(run.model, run.parameters, weights)
    return Baseline(weights, combined, disjoint_iv, combined_draws, sens, warnings)


def disagreements(methods_iv: dict[str, dict[str, Interval]],
                  known: dict[str, str] | None = None) -> list[str]:
    """A note for every tier on which two methods' intervals do not overlap.

    The methods measure different things with biases of known sign, so their
    intervals need not overlap; the joint model says which assumption the
    data contradict (its bias estimates and predictive checks). Intervals that
    overlap give no note. ``known`` gives, per method, an assumption of its own that the
    study says fails (said in the note where that method is one of the two).
    """
    known = known or {}
    out = []
    for t in TIERS:
        have = [(m, methods_iv[m][t]) for m in METHODS if t in methods_iv.get(m, {})]
        for i, (m1, a) in enumerate(have):
            for m2, b in have[i + 1:]:
                if a.high < b.low or b.high < a.low:
                    lo, hi = (a, b) if a.high < b.low else (b, a)
                    out.append(f"the {t.replace('_', ' ')} tier: the intervals of "
                               f"{METHOD_LABELS[m1].lower()} and {METHOD_LABELS[m2].lower()} do "
                               f"not overlap on their own ({lo.low:,.0f}-{lo.high:,.0f} vs "
                               f"{hi.low:,.0f}-{hi.high:,.0f}): at least one method's own "
                               "assumptions fail; see the joint model's bias estimates"
                               + "".join(f" ({known[m]})" for m in (m1, m2) if m in known))
    return out


def sensitivity(model: TriangulationModel, params: list[Parameter],
                weights: dict[str, dict[str, float]]) -> pd.DataFrame:
    """One-at-a-time sensitivity: each tier with one input at each end of its range.

    Returns one row per (tier, input): the input's low and high values, the
    combined tier at each, and the swing ``|at_high - at_low|``; sorted by tier
    and decreasing swing. Inputs without a range, and inputs that do not enter
    a tier, are left out.
    """
    central = {p.path: np.array([p.value]) for p in params}
    base = model.evaluate(central, 1)
    rows = []
    for p in params:
        if p.low == p.high:
            continue
        at = {}
        for end, v in (("low", p.low), ("high", p.high)):
            ev = model.evaluate({**central, p.path: np.array([v])}, 1)
            at[end] = ev
        for t, w in weights.items():
            def tier_value(ev: Evaluation, t: str = t, w: dict = w) -> float:
                return float(_combine({m: ev.methods[m][t] for m in w}, w)[0])
            lo_v, hi_v = tier_value(at["low"]), tier_value(at["high"])
            rows.append({"tier": t, "parameter": p.path, "label": p.label,
                         "input_low": p.low, "input_central": p.value, "input_high": p.high,
                         "tier_central": tier_value(base), "tier_at_low": lo_v,
                         "tier_at_high": hi_v, "swing": abs(hi_v - lo_v)})
    cols = ["tier", "parameter", "label", "input_low", "input_central", "input_high",
            "tier_central", "tier_at_low", "tier_at_high", "swing"]
    df = pd.DataFrame(rows, columns=cols)
    df = df[df["swing"] > 1e-9 * df["tier_central"].abs()]  # inputs that do not enter a tier
    order = {t: i for i, t in enumerate(TIERS)}
    df["_o"] = df["tier"].map(order)
    df = df.sort_values(["_o", "swing"], ascending=[True, False], kind="stable")
    return df.drop(columns="_o").reset_index(drop=True)
