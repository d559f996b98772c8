"""Triangulation: every method per tier, a combined estimate, Monte Carlo, sensitivity.

Point estimates use every input at its central value. Intervals come from a
Monte Carlo over every input's range (triangular or uniform draws, seeded
with :func:`numpy.random.default_rng`, so the same seed gives the same
report), plus, for the experiment, the capture--recapture uncertainty and a
bootstrap of respondents.

Combining methods
-----------------
For a tier estimated by several methods :math:`k`, the combined estimate is
an inverse-variance weighted mean on the log scale,

.. math::

   \\log \\hat N = \\sum_k w_k \\log \\hat N_k,\\qquad
   w_k = \\frac{1/v_k}{\\sum_j 1/v_j},

with :math:`v_k` the Monte Carlo variance of :math:`\\log \\hat N_k`. The same
weights are applied draw by draw, so the combined interval keeps the
correlation between methods (they share the multi-homing coefficient, for
instance). A tier estimated by a single method keeps that method's figure.

Methods can disagree by more than their stated ranges allow (a method's
assumptions may be wrong). The interval of the combination therefore
carries a between-method spread, as in a random-effects meta-analysis
(DerSimonian and Laird, 1986): each method's log estimate is taken to carry
a bias of its own, of variance :math:`\\tau^2`, estimated from how far the
methods' estimates are apart,

.. math::

   Q = \\sum_k \\frac{(\\log \\hat N_k - \\overline{\\log N})^2}{v_k},\\qquad
   \\tau^2 = \\max\\Big(0, \\frac{Q - (K - 1)}
   {\\sum_k v_k^{-1} - \\sum_k v_k^{-2} / \\sum_k v_k^{-1}}\\Big),

and every combined draw is multiplied by :math:`\\exp(\\epsilon)`,
:math:`\\epsilon \\sim N(0, \\tau^2 \\sum_k w_k^2)`. When the methods agree,
:math:`\\tau^2 = 0` and nothing changes; when they do not, the interval widens
instead of claiming the precision of the method with the narrowest range.
The point estimate keeps the inverse-variance weights: on synthetic countries
(``docs/validation.md``) random-effects weights, which move towards equal
when methods disagree, gave worse point estimates, because the method that
disagrees is usually the biased one.

Sensitivity
-----------
For each ranged input, every tier is recomputed with that input at the low
and at the high end of its range and all others at their central values
(a one-at-a-time, "tornado", analysis). The swing says which assumption moves
each tier most.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from crowdcensus.methods.audience import audience_regular, worker_visitors
from crowdcensus.methods.declared import declared_occasional, declared_registrations
from crowdcensus.methods.experiment import (
    ModelAverage,
    RespondentArrays,
    StratifiedCapture,
    experiment_tiers,
    reach_matrix,
    weighted_multihoming,
)
from crowdcensus.sources.figures import platform_figures
from crowdcensus.sources.responses import Responses
from crowdcensus.study import Study
from crowdcensus.tiers import BANDS, TIERS, disjoint, nested_from_bands

METHODS = ("declared", "audience", "experiment")
METHOD_LABELS = {
    "declared": "Declared registrations",
    "audience": "Web audience",
    "experiment": "Task-posting experiment",
    "combined": "Combined",
}
CAPTURE_PATH = "experiment.capture.n_active"
BAND_CAPTURE_PATH = "experiment.capture.band."
CHUNK = 500


@dataclass(frozen=True)
class Parameter:
    """One ranged input of the study, with where it comes from."""

    path: str
    label: str
    value: float
    low: float
    high: float
    distribution: str
    status: str
    source: str
    note: str = ""
    sampler: Callable[[np.random.Generator, int], np.ndarray] | None = None

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        if self.sampler is not None:
            return self.sampler(rng, size)
        if self.low == self.high:
            return np.full(size, self.value)
        if self.distribution == "uniform":
            return rng.uniform(self.low, self.high, size)
        return rng.triangular(self.low, self.value, self.high, size)


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


def _label(study: Study, path: str) -> str:
    if path == "assumptions.multihoming":
        return "Multi-homing coefficient"
    if path == CAPTURE_PATH:
        return "Workers the postings could reach (capture-recapture)"
    if path.startswith(BAND_CAPTURE_PATH):
        band = path[len(BAND_CAPTURE_PATH):].replace("_", " ")
        return f"Workers the postings could reach, {band} (capture-recapture by band)"
    if path.startswith("platforms["):
        name = study.platforms[int(path[10:path.index("]")])].name
        if path.endswith(".declared"):
            return f"Declared registrations: {name}"
        if path.endswith(".visitors"):
            return f"Monthly unique visitors: {name}"
        return f"Share of visitors who are workers: {name}"
    if path.startswith("experiment.shares."):
        tier = path.rsplit(".", 1)[1].replace("_", " ")
        base = study.experiment.share_base if study.experiment else "declared"
        return f"Share {tier} (of the {base} estimate)"
    if path.startswith("experiment.reach.p_week."):
        return f"Weekly presence, answer '{path.rsplit('.', 1)[1]}'"
    return path


def study_parameters(study: Study, capture: ModelAverage | StratifiedCapture | None = None,
                     ) -> list[Parameter]:
    """Every ranged input of ``study`` (and the capture-recapture estimate, if any)."""
    params = []
    for path, q in study.quantities():
        lo, hi = q.range
        params.append(Parameter(path, _label(study, path), q.value, lo, hi, q.distribution,
                                q.status, q.source or "", q.note or ""))
    if isinstance(capture, StratifiedCapture):
        for band, fit in capture.strata.items():
            path = BAND_CAPTURE_PATH + band
            lo, hi = fit.interval(study.settings.level)
            params.append(Parameter(
                path, _label(study, path), fit.estimate, lo, hi, "log-normal (model-averaged)",
                "derived", f"AIC-weighted closed models in the band ({fit.selected} has the "
                "lowest AIC)", sampler=fit.draw))
    elif capture is not None:
        lo, hi = capture.interval(study.settings.level)
        params.append(Parameter(
            CAPTURE_PATH, _label(study, CAPTURE_PATH), capture.estimate, lo, hi,
            "log-normal (model-averaged)", "derived",
            f"AIC-weighted closed models ({capture.selected} has the lowest AIC)",
            sampler=capture.draw))
    return params


@dataclass
class Evaluation:
    """Method estimates (and intermediate figures) for a batch of input values."""

    methods: dict[str, dict[str, np.ndarray]]
    intermediates: dict[str, np.ndarray]
    bands: dict[str, np.ndarray] | None = None


class TriangulationModel:
    """Computes every method's tier estimates from input values (vectorised over draws)."""

    def __init__(self, study: Study, responses: Responses | None = None) -> None:
        self.study = study
        self.figures = platform_figures(study)
        self.respondents = (RespondentArrays.from_frame(responses.respondents)
                            if responses is not None else None)

    def evaluate(self, values: dict[str, np.ndarray], size: int,
                 rng: np.random.Generator | None = None) -> Evaluation:
        exp = self.study.experiment
        methods: dict[str, dict[str, np.ndarray]] = {}
        inter: dict[str, np.ndarray] = {}
        bands = None
        mh = values.get("assumptions.multihoming")
        if self.respondents is not None:
            counts, k_sum, k_n = self.respondents.summaries(
                rng if exp.bootstrap else None, size)
            reach = reach_matrix(values, self.respondents.categories,
                                 exp.reach.posting_weeks, size)
            if any(k.startswith(BAND_CAPTURE_PATH) for k in values):
                band_n = {b: np.broadcast_to(np.asarray(values.get(BAND_CAPTURE_PATH + b, 0.0),
                                                        float), (size,)) for b in BANDS}
                n_active = sum(band_n.values())
                tiers = nested_from_bands(band_n)
                bands = {b: band_n[b] / n_active for b in BANDS}
            else:
                n_active = np.broadcast_to(np.asarray(values[CAPTURE_PATH], float), (size,))
                tiers, bands = experiment_tiers(n_active, counts, reach,
                                                self.respondents.categories)
            methods["experiment"] = {t: tiers[t] for t in exp.tiers}
            inter["experiment.n_active"] = n_active
            if mh is None:
                mh = weighted_multihoming(k_sum, k_n, reach)
        mh = np.broadcast_to(np.asarray(mh, dtype=float), (size,))
        inter["multihoming"] = mh
        if self.figures.declared:
            inter["declared.registrations"] = declared_registrations(values, self.figures)
            methods["declared"] = {"occasional": declared_occasional(values, self.figures, mh)}
        if self.figures.audience:
            inter["audience.worker_visitors"] = worker_visitors(values, self.figures)
            methods["audience"] = {"regular": audience_regular(values, self.figures, mh)}
        if exp is not None and exp.shares:
            base = (methods["declared"]["occasional"] if exp.share_base == "declared"
                    else methods["audience"]["regular"])
            methods["experiment"] = {t: base * np.asarray(values[f"experiment.shares.{t}"])
                                     for t in exp.shares}
        for m in methods.values():
            for t in m:
                m[t] = np.broadcast_to(np.asarray(m[t], dtype=float), (size,))
        return Evaluation(methods, inter, bands)


@dataclass
class Results:
    """Everything a report shows."""

    study: Study
    parameters: list[Parameter]
    seed: int
    draws: int
    level: float
    methods: dict[str, dict[str, Interval]]
    weights: dict[str, dict[str, float]]
    combined: dict[str, Interval]
    disjoint: dict[str, Interval]
    intermediates: dict[str, Interval]
    sensitivity: pd.DataFrame
    draws_frame: pd.DataFrame
    capture: ModelAverage | StratifiedCapture | None = None
    shares: pd.DataFrame | None = None
    responses: Responses | None = None
    warnings: list[str] = field(default_factory=list)


def _interval(point: float, draws: np.ndarray, level: float) -> Interval:
    """Point estimate and the central ``level`` of the finite draws."""
    a = (1 - level) / 2
    draws = np.asarray(draws, dtype=float)
    draws = draws[np.isfinite(draws)]
    if draws.size == 0:
        return Interval(float(point), float("nan"), float("nan"))
    lo, hi = np.quantile(draws, [a, 1 - a])
    return Interval(float(point), float(lo), float(hi))


def _combine(est: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
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


def _progress(enabled: bool) -> Progress:
    return Progress(TextColumn("[bold]Monte Carlo"), BarColumn(),
                    TextColumn("{task.completed}/{task.total} draws"), TimeRemainingColumn(),
                    console=Console(stderr=True), disable=not enabled, transient=False)


def triangulate(
    study: Study,
    responses: Responses | None = None,
    capture: ModelAverage | StratifiedCapture | None = None,
    seed: int | None = None,
    draws: int | None = None,
    progress: bool = False,
) -> Results:
    """Run the methods at the central values, the Monte Carlo and the sensitivity analysis.

    Parameters
    ----------
    study : Study
        The validated study.
    responses, capture : optional
        The experiment's responses and its capture-recapture fit (both or neither).
    seed, draws : int, optional
        Override the study's ``settings.seed`` and ``settings.draws``.
    progress : bool
        Show a progress bar on stderr.
    """
    seed = study.settings.seed if seed is None else seed
    n_draws = study.settings.draws if draws is None else draws
    level = study.settings.level
    params = study_parameters(study, capture)
    model = TriangulationModel(study, responses)
    central = {p.path: np.array([p.value]) for p in params}
    point = model.evaluate(central, 1)

    root = np.random.default_rng(seed)
    param_rng, boot_rng, between_rng = root.spawn(3)
    sampled = {p.path: p.draw(param_rng, n_draws) for p in params}
    chunks: list[Evaluation] = []
    with _progress(progress) as bar:
        task = bar.add_task("mc", total=n_draws)
        for start in range(0, n_draws, CHUNK):
            stop = min(start + CHUNK, n_draws)
            chunk = {k: v[start:stop] for k, v in sampled.items()}
            chunks.append(model.evaluate(chunk, stop - start, boot_rng))
            bar.update(task, advance=stop - start)
    mc_methods = {m: {t: np.concatenate([c.methods[m][t] for c in chunks])
                      for t in point.methods[m]} for m in point.methods}
    mc_inter = {k: np.concatenate([c.intermediates[k] for c in chunks])
                for k in point.intermediates}

    warnings: list[str] = []
    methods_iv: dict[str, dict[str, Interval]] = {}
    for m, tiers in point.methods.items():
        methods_iv[m] = {}
        for t, arr in tiers.items():
            d = mc_methods[m][t]
            if not np.all(np.isfinite(d)) or np.any(d <= 0):
                warnings.append(f"{METHOD_LABELS[m]}, {t}: some draws are not positive; "
                                "they are left out of the interval")
                d = d[np.isfinite(d) & (d > 0)]
            methods_iv[m][t] = _interval(float(arr[0]), d, level)

    weights: dict[str, dict[str, float]] = {}
    combined_point: dict[str, float] = {}
    combined_draws: dict[str, np.ndarray] = {}
    for t in TIERS:
        have = [m for m in METHODS if m in point.methods and t in point.methods[m]]
        if not have:
            warnings.append(f"no method estimates the {t} tier")
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            logs = {m: np.log(mc_methods[m][t]) for m in have}
        with np.errstate(invalid="ignore", divide="ignore"):
            log_points = {m: float(np.log(point.methods[m][t][0])) for m in have}
        finite = {m: v[np.isfinite(v)] for m, v in logs.items()}
        w = combination_weights(finite)
        tau2 = between_method_variance(log_points, {m: float(np.var(v))
                                                    for m, v in finite.items()})
        weights[t] = w
        combined_point[t] = float(_combine({m: point.methods[m][t] for m in have}, w)[0])
        with np.errstate(invalid="ignore", divide="ignore"):
            combined_draws[t] = _combine({m: mc_methods[m][t] for m in have}, w)
        if tau2 > 0:
            spread = np.sqrt(tau2 * sum(x * x for x in w.values()))
            combined_draws[t] = combined_draws[t] * np.exp(
                spread * between_rng.standard_normal(n_draws))
            warnings.append(
                f"the methods disagree on the {t} tier beyond their stated ranges: the "
                f"combined interval includes a between-method spread (tau = {np.sqrt(tau2):.2f} "
                "on the log scale)")
    warnings.extend(disagreements(methods_iv))
    if responses is not None and (linking := responses.platform_linking_warning()):
        warnings.append(linking)
    combined = {t: _interval(combined_point[t], combined_draws[t], level)
                for t in combined_point}

    disjoint_iv: dict[str, Interval] = {}
    if all(t in combined for t in TIERS):
        dp = disjoint({t: np.array(combined_point[t]) for t in TIERS})
        dd = disjoint(combined_draws)
        disjoint_iv = {b: _interval(float(dp[b]), dd[b], level) for b in BANDS}
        crossed = float(np.mean((dd["regular_only"] < 0) | (dd["occasional_only"] < 0)))
        if crossed > 0:
            warnings.append(f"in {crossed:.1%} of the Monte Carlo draws a smaller tier exceeds "
                            "a larger one (the methods disagree); the disjoint intervals "
                            "include those draws")
        if combined_point["very_active"] > combined_point["regular"] or \
                combined_point["regular"] > combined_point["occasional"]:
            warnings.append("the tiers are not nested (a smaller circle exceeds a larger "
                            "one): the methods contradict each other")
    inter_iv = {k: _interval(float(point.intermediates[k][0]), v, level)
                for k, v in mc_inter.items()}

    sens = sensitivity(model, params, weights)
    frame = pd.DataFrame({"draw": np.arange(n_draws)})
    for t, d in combined_draws.items():
        frame[f"combined.{t}"] = d
    for m, tiers in mc_methods.items():
        for t, d in tiers.items():
            frame[f"{m}.{t}"] = d
    for p in params:
        frame[p.path] = sampled[p.path]
    frame["multihoming"] = mc_inter["multihoming"]

    shares = None
    if point.bands is not None:
        shares = _shares_table(responses, point.bands, chunks, level)
    return Results(study, params, seed, n_draws, level, methods_iv, weights, combined,
                   disjoint_iv, inter_iv, sens, frame, capture, shares, responses, warnings)


def disagreements(methods_iv: dict[str, dict[str, Interval]]) -> list[str]:
    """A warning for every tier on which two methods' intervals do not overlap.

    The combined estimate weights each method by the inverse of its variance, so
    when methods disagree it follows the one with the narrowest range, right or
    wrong; on synthetic countries (``docs/validation.md``) disjoint intervals
    were the sign of a biased method (inflated registrations, web audience).
    """
    out = []
    for t in TIERS:
        have = [(m, methods_iv[m][t]) for m in METHODS if t in methods_iv.get(m, {})]
        for i, (m1, a) in enumerate(have):
            for m2, b in have[i + 1:]:
                if a.high < b.low or b.high < a.low:
                    lo, hi = (a, b) if a.high < b.low else (b, a)
                    out.append(f"the {t.replace('_', ' ')} tier: the intervals of "
                               f"{METHOD_LABELS[m1].lower()} and {METHOD_LABELS[m2].lower()} do "
                               f"not overlap ({lo.low:,.0f}-{lo.high:,.0f} vs "
                               f"{hi.low:,.0f}-{hi.high:,.0f}); at least one method's "
                               "assumptions fail, and the combined interval does not "
                               "account for it")
    return out


def _shares_table(responses: Responses, bands: dict[str, np.ndarray],
                  chunks: list[Evaluation], level: float) -> pd.DataFrame:
    from crowdcensus.tiers import CATEGORY_BAND

    cats = responses.respondents["category"].map(CATEGORY_BAND)
    raw = cats.value_counts(normalize=True)
    rows = []
    for b in BANDS:
        d = np.concatenate([c.bands[b] for c in chunks])
        iv = _interval(float(bands[b][0]), d, level)
        rows.append({"band": b, "respondents": int((cats == b).sum()),
                     "unweighted_share": float(raw.get(b, 0.0)),
                     "weighted_share": iv.estimate, "low": iv.low, "high": iv.high})
    return pd.DataFrame(rows)


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
