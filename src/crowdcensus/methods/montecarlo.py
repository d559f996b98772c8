"""Every method on its own: point estimates, a Monte Carlo over the inputs' ranges.

Each method's own figures (the 2018 arithmetic for the declared figures and
the web audience; capture--recapture by band of answers for the experiment)
use every input at its central value. Their intervals come from a Monte Carlo
over every input's range (triangular or uniform draws, seeded with
:func:`numpy.random.default_rng`, so the same seed gives the same report),
plus, for the experiment, the capture--recapture uncertainty and a bootstrap
of respondents. The methods are then combined by the joint model
(:mod:`crowdcensus.synthesis`); the old inverse-variance combination is kept
as a named baseline (:mod:`crowdcensus.synthesis.baseline`).
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
from crowdcensus.tiers import BANDS, nested_from_bands

METHODS = ("declared", "audience", "experiment")
METHOD_LABELS = {
    "declared": "Declared registrations",
    "audience": "Web audience",
    "experiment": "Task-posting experiment",
    "combined": "Joint model",
    "inverse_variance": "Inverse-variance combination (baseline)",
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
        platform = study.platforms[int(path[10:path.index("]")])]
        name = platform.name
        if path.endswith(".declared"):
            if platform.declared_active_days is not None:
                return (f"Declared accounts active in the last "
                        f"{platform.declared_active_days:g} days: {name}")
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
        scaled = (f"; x {capture.scale:.3f} for the respondents who failed the attention "
                  "check" if capture.scale != 1 else "")
        for band, fit in capture.strata.items():
            path = BAND_CAPTURE_PATH + band
            estimate, (lo, hi), sampler = capture.band(band, study.settings.level)
            params.append(Parameter(
                path, _label(study, path), estimate, lo, hi, "log-normal (model-averaged)",
                "derived", f"AIC-weighted closed models in the band ({fit.selected} has the "
                f"lowest AIC{scaled})", sampler=sampler))
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
            if exp.reach is not None:
                reach = reach_matrix(values, self.respondents.categories,
                                     exp.reach.posting_weeks, size)
            else:  # no reach model: respondents count alike (multi-homing unweighted)
                reach = np.ones((size, len(self.respondents.categories)))
            if any(k.startswith(BAND_CAPTURE_PATH) for k in values):
                band_n = {b: np.broadcast_to(np.asarray(values.get(BAND_CAPTURE_PATH + b, 0.0),
                                                        float), (size,)) for b in BANDS}
                n_active = sum(band_n.values())
                tiers = nested_from_bands(band_n)
                bands = {b: band_n[b] / n_active for b in BANDS}
            elif CAPTURE_PATH in values:
                n_active = np.broadcast_to(np.asarray(values[CAPTURE_PATH], float), (size,))
                tiers, bands = experiment_tiers(n_active, counts, reach,
                                                self.respondents.categories)
            else:  # no closed model read the histories: the respondents give multi-homing
                tiers = None
            if tiers is not None:
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


def _interval(point: float, draws: np.ndarray, level: float) -> Interval:
    """Point estimate and the central ``level`` of the finite draws."""
    a = (1 - level) / 2
    draws = np.asarray(draws, dtype=float)
    draws = draws[np.isfinite(draws)]
    if draws.size == 0:
        return Interval(float(point), float("nan"), float("nan"))
    lo, hi = np.quantile(draws, [a, 1 - a])
    return Interval(float(point), float(lo), float(hi))


def _progress(enabled: bool) -> Progress:
    return Progress(TextColumn("[bold]Monte Carlo"), BarColumn(),
                    TextColumn("{task.completed}/{task.total} draws"), TimeRemainingColumn(),
                    console=Console(stderr=True), disable=not enabled, transient=False)


@dataclass
class MethodRun:
    """Every method's estimates: central values, Monte Carlo draws and intervals."""

    parameters: list[Parameter]
    point: Evaluation
    sampled: dict[str, np.ndarray]
    methods: dict[str, dict[str, np.ndarray]]          # Monte Carlo draws per method and tier
    intervals: dict[str, dict[str, Interval]]
    intermediates: dict[str, Interval]
    intermediate_draws: dict[str, np.ndarray]
    chunks: list[Evaluation]
    model: TriangulationModel
    warnings: list[str] = field(default_factory=list)


def run_methods(
    study: Study,
    responses: Responses | None = None,
    capture: ModelAverage | StratifiedCapture | None = None,
    seed: int | None = None,
    draws: int | None = None,
    progress: bool = False,
    rng: np.random.Generator | None = None,
) -> MethodRun:
    """Every method at the central values, and its Monte Carlo over the inputs' ranges.

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
    root = np.random.default_rng(seed) if rng is None else rng
    param_rng, boot_rng = root.spawn(2)
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
    inter_iv = {k: _interval(float(point.intermediates[k][0]), v, level)
                for k, v in mc_inter.items()}
    return MethodRun(params, point, sampled, mc_methods, methods_iv, inter_iv, mc_inter,
                     chunks, model, warnings)


def shares_table(responses: Responses, bands: dict[str, np.ndarray],
                 chunks: list[Evaluation], level: float) -> pd.DataFrame:
    """The experiment's band shares: respondents, unweighted and weighted shares."""
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


