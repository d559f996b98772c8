"""The multiple systems estimator: model selection, fit and interval.

:class:`MultipleSystemsModel` ties together the pieces of
:mod:`crowdcensus.capture.mse` (models, checks, fits),
:mod:`crowdcensus.capture.mse_select` (stepwise selection),
:mod:`crowdcensus.capture.mse_bic` (exhaustive BIC and downhill search),
:mod:`crowdcensus.capture.mse_bayesthresh` (Bayesian thresholding) and
:mod:`crowdcensus.capture.bootstrap` (BCa bootstrap that repeats the selection
in every replicate).
"""

from __future__ import annotations

import functools
import math

import pandas as pd

from crowdcensus.capture.bootstrap import BootstrapResult, bootstrap_bca
from crowdcensus.capture.histories import CaptureHistories
from crowdcensus.capture.mse import HierarchicalModel, OverlapTable, fit_model
from crowdcensus.capture.mse_bayesthresh import (
    DEFAULT_DRAWS,
    DEFAULT_SEED,
    QUANTILES,
    BayesThreshResult,
    bayes_threshold,
)
from crowdcensus.capture.mse_bic import DownhillStep, downhill_search
from crowdcensus.capture.mse_select import (
    DEFAULT_PTHRESH,
    RankedModel,
    StepRecord,
    bic_search,
    default_max_order,
    default_top_models,
    population_estimate,
    stepwise,
)
from crowdcensus.errors import InputError

METHODS = ("stepwise", "bic", "downhill", "bayesthresh", "fixed", "main")


class MultipleSystemsModel:
    """Population size from overlapping lists (multiple systems estimation).

    Parameters
    ----------
    method : {"stepwise", "bic", "downhill", "bayesthresh", "fixed", "main"}
        Forward stepwise selection of two-list interactions; exhaustive BIC
        over hierarchical models; downhill BIC search; Silverman's Bayesian
        thresholding; a given model; or main effects only.
    model : str, optional
        The model for ``method="fixed"``, in ``[12,3]`` notation.
    pthresh : float
        p-value threshold of the stepwise selection (default 0.02).
    max_order : int, optional
        Highest interaction order: BIC (default 1 for two lists, 2 for three,
        3 for four or five, 2 beyond, as MultipleSystemsEstimation), downhill
        (default ``L - 1``), Bayesian thresholding (2 or 3, default 2).
    prior : {"proper", "improper"}
        Bayesian thresholding: prior of the interactions, ``N(0, prior_variance)``
        or flat.
    prior_variance, threshold : float
        Bayesian thresholding: prior variance (1) and threshold on
        ``|posterior mean| / sd`` (2).
    seed : int, optional
        Seed of the posterior sampler (default 1: the same figures every run).
    level : float
        Level of ``confidence_interval_`` (bootstrap BCa or posterior interval).
    n_draws : int
        Posterior draws (Bayesian thresholding).
    workers : int
        Local processes for the exhaustive BIC fits.

    Attributes (after :meth:`fit`)
    ------------------------------
    abundance_ : float
        Population estimate: the selected model's ``n + exp(theta_0)``, or the
        posterior median (Bayesian thresholding).
    stderr_ : float
        Standard error ``sqrt(n0 + n0^2 var(theta_0))`` of the selected model
        (``n0`` the unobserved estimate), or the posterior standard deviation.
    confidence_interval_ : tuple of float or None
        At ``level``: the BCa interval after :meth:`bootstrap`, the central
        posterior interval with Bayesian thresholding, otherwise ``None``.
    model_ : str
        Selected model in ``[12,3]`` notation.
    fit_ : MSEFit or None (Bayesian thresholding) ; bayes_ : BayesThreshResult or None
    steps_ : list of StepRecord (stepwise) ; ranking_ : list of RankedModel (bic)
    path_ : list of DownhillStep (downhill)
    bootstrap_ : BootstrapResult or None (after :meth:`bootstrap`)
    """

    def __init__(
        self,
        method: str = "stepwise",
        model: str | None = None,
        pthresh: float = DEFAULT_PTHRESH,
        max_order: int | None = None,
        prior: str = "proper",
        prior_variance: float = 1.0,
        threshold: float = 2.0,
        seed: int | None = DEFAULT_SEED,
        level: float = 0.95,
        n_draws: int = DEFAULT_DRAWS,
        workers: int = 1,
    ) -> None:
        self.method = method
        self.model = model
        self.pthresh = pthresh
        self.max_order = max_order
        self.prior = prior
        self.prior_variance = prior_variance
        self.threshold = threshold
        self.seed = seed
        self.level = level
        self.n_draws = n_draws
        self.workers = workers

    def fit(self, histories: CaptureHistories) -> MultipleSystemsModel:
        if self.method not in METHODS:
            raise InputError(f"unknown method {self.method!r} (use {', '.join(METHODS)})")
        if self.method == "fixed" and not self.model:
            raise InputError("--method fixed needs a model, e.g. --model \"[12,3]\"")
        if self.method != "fixed" and self.model:
            raise InputError("--model is only used with --method fixed")
        if not 0 < self.level < 1:
            raise InputError(f"--level must lie strictly between 0 and 1 (got {self.level})")
        table = OverlapTable.from_histories(histories)
        self.table_ = table
        self.steps_: list[StepRecord] = []
        self.ranking_: list[RankedModel] = []
        self.path_: list[DownhillStep] = []
        self.bayes_: BayesThreshResult | None = None
        self.fit_ = None
        if self.method == "stepwise":
            self.fit_, self.steps_ = stepwise(table, self.pthresh)
        elif self.method == "bic":
            self.fit_, self.ranking_ = bic_search(table, self.max_order, workers=self.workers)
        elif self.method == "downhill":
            self.fit_, self.path_ = downhill_search(table, self.max_order)
        elif self.method == "bayesthresh":
            self.bayes_ = bayes_threshold(
                table, self.prior, self.prior_variance, self.threshold,
                2 if self.max_order is None else self.max_order, self.seed, self.n_draws)
        elif self.method == "fixed":
            self.fit_ = fit_model(table, HierarchicalModel.parse(self.model, table.n_lists))
        else:
            self.fit_ = fit_model(table, HierarchicalModel.main_effects(table.n_lists))
        self.bootstrap_: BootstrapResult | None = None
        return self

    # ------------------------------------------------------------- estimator shape
    @property
    def abundance_(self) -> float:
        return self.bayes_.median if self.bayes_ is not None else self.fit_.popest

    @property
    def stderr_(self) -> float:
        if self.bayes_ is not None:
            return self.bayes_.sd
        n0 = self.fit_.dark_figure
        return math.sqrt(n0 + n0 * n0 * self.fit_.intercept_se**2)

    @property
    def confidence_interval_(self) -> tuple[float, float] | None:
        lo, hi = self._tails()
        if self.bayes_ is not None:
            q = self.bayes_.quantiles((lo, hi))
            return q[lo], q[hi]
        b = self.bootstrap_
        if b is not None and lo in b.ci and hi in b.ci:
            return b.ci[lo], b.ci[hi]
        return None

    def _tails(self) -> tuple[float, float]:
        """Cumulative levels of the two ends of the interval at ``level``."""
        return round((1 - self.level) / 2, 12), round((1 + self.level) / 2, 12)

    @property
    def popest_(self) -> float:
        return self.abundance_

    @property
    def model_(self) -> str:
        return self.bayes_.model if self.bayes_ is not None else str(self.fit_.model)

    @property
    def summary(self) -> pd.DataFrame:
        """One-row DataFrame: method, model, abundance, stderr and interval."""
        ci = self.confidence_interval_ or (None, None)
        return pd.DataFrame([{
            "method": self.method, "model": self.model_, "abundance": self.abundance_,
            "stderr": self.stderr_, "level": self.level, "ci_low": ci[0], "ci_high": ci[1],
        }]).set_index("method")

    def bootstrap(
        self,
        n_boot: int,
        seed: int | None = None,
        workers: int | None = None,
        scheduler: str | None = None,
        levels: tuple[float, ...] | None = None,
    ) -> BootstrapResult:
        """BCa interval from a multinomial bootstrap repeating the model selection.

        Each replicate resamples the ``n`` observed individuals (multinomial on
        the observed cell proportions) and reruns the same method (with a
        fixed model, just refits it). With BIC selection, the replicates choose
        among the best models of the original data only (all of them up to three
        lists, the best 20 for four, 100 beyond), as MultipleSystemsEstimation
        does to keep the bootstrap feasible. ``levels`` defaults to the two ends
        of the interval at ``level``.
        """
        if self.method == "bayesthresh":
            raise InputError("--bootstrap does not apply to --method bayesthresh, whose "
                             "interval comes from the posterior")
        if levels is None:
            levels = self._tails()
        table = self.table_
        bic_models = None
        if self.method == "bic":
            top = default_top_models(table.n_lists)
            ranked = self.ranking_ if top is None else self.ranking_[:top]
            bic_models = tuple(r.model for r in ranked)
        statistic = functools.partial(
            population_estimate,
            lists=table.lists,
            method=self.method,
            model=self.model,
            pthresh=self.pthresh,
            max_order=self.max_order,
            bic_models=bic_models,
        )
        self.bootstrap_ = bootstrap_bca(
            statistic, table.counts, n_boot, seed=seed, levels=levels, workers=workers,
            scheduler=scheduler, estimate=self.popest_,
        )
        return self.bootstrap_

    def to_dict(self) -> dict:
        """The JSON structure of ``crowdcensus estimate mse --format json``."""
        if self.bayes_ is not None:
            return self._bayes_dict()
        f = self.fit_
        out: dict = {
            "popest": f.popest,
            "model": str(f.model),
            "method": self.method,
            "lists": list(self.table_.lists),
            "n_observed": int(self.table_.n_observed),
            "dark_figure": f.dark_figure,
            "stderr": self.stderr_,
            "deviance": f.deviance,
            "aic": f.aic,
            "bic": f.bic,
            "minus_infinity": list(f.minus_infinity),
        }
        if self.method == "stepwise":
            out["pthresh"] = self.pthresh
            out["steps"] = [
                {"added": s.term, "p_value": s.p_value, "popest": s.popest} for s in self.steps_
            ]
        if self.method == "bic":
            out["max_order"] = (default_max_order(self.table_.n_lists)
                                if self.max_order is None else self.max_order)
            out["ranking"] = [
                {"model": r.model, "popest": r.popest, "bic": r.bic, "aic": r.aic,
                 "order": r.order}
                for r in self.ranking_
            ]
        if self.method == "downhill":
            out["max_order"] = (self.table_.n_lists - 1 if self.max_order is None
                                else self.max_order)
            out["path"] = [{"model": s.model, "popest": s.popest, "bic": s.bic,
                            "models_fitted": s.considered} for s in self.path_]
        b = self.bootstrap_
        if b is not None:
            out["level"] = self.level
            out["ci"] = {f"{k:g}": v for k, v in b.ci.items()}
            out["bootstrap"] = {
                "replicates": int(b.replicates.size),
                "failed": b.n_failed,
                "acceleration": b.acceleration,
                "bias_correction": b.bias_correction,
            }
        return out

    def _bayes_dict(self) -> dict:
        r = self.bayes_
        lo, hi = self.confidence_interval_
        return {
            "popest": r.median,
            "quantiles": {f"{p:g}": v for p, v in r.quantiles(QUANTILES).items()},
            "retained": r.retained,
            "retained_triples": r.retained_triples,
            "eligible_triples": r.eligible_triples,
            "minus_infinity": r.minus_infinity,
            "model": r.model,
            "method": "bayesthresh",
            "lists": list(r.lists),
            "n_observed": int(r.n_observed),
            "prior": r.prior,
            "prior_variance": r.prior_variance if r.prior == "proper" else None,
            "threshold": r.threshold,
            "max_order": r.max_order,
            "threshold_statistics": r.threshold_statistics,
            "triple_threshold_statistics": r.triple_threshold_statistics,
            "level": self.level,
            "ci": {f"{p:g}": v for p, v in zip(self._tails(), (lo, hi), strict=True)},
            "posterior": {"mean": r.mean, "sd": r.sd, "draws": int(r.total.size),
                          "effective_sample_size": r.ess, "rhat": r.rhat, "seed": self.seed},
            "notes": r.notes,
        }

    def to_text(self, top: int = 10) -> str:
        """A readable report."""
        if self.bayes_ is not None:
            return self._bayes_text()
        f = self.fit_
        lines = [
            f"Multiple systems estimation ({self.method}) on {self.table_.n_lists} lists: "
            + ", ".join(self.table_.lists),
            f"individuals observed: {int(self.table_.n_observed)}",
            f"selected model:       {f.model}",
            f"population estimate:  {f.popest:.1f}  (unobserved: {f.dark_figure:.1f}, "
            f"SE {self.stderr_:.1f})",
        ]
        if f.minus_infinity:
            lines.append("interactions at -inf (lists never overlap): "
                         + ", ".join(f.minus_infinity))
        b = self.bootstrap_
        if b is not None:
            lo, hi = min(b.ci), max(b.ci)
            lines.append(
                f"BCa interval {lo:g}-{hi:g}:  {b.ci[lo]:.1f} - {b.ci[hi]:.1f}  "
                f"({b.replicates.size} replicates, {b.n_failed} failed)"
            )
        lines.append(f"deviance {f.deviance:.3f}, AIC {f.aic:.3f}, BIC {f.bic:.3f}")
        if self.steps_:
            lines.append("")
            lines.append("stepwise: term added, p-value, population estimate")
            for s in self.steps_:
                lines.append(f"  {s.term:>6}  {s.p_value:10.3g}  {s.popest:10.1f}")
        if self.ranking_:
            lines.append("")
            lines.append(f"best models by BIC (of {len(self.ranking_)} usable):")
            lines.append(f"  {'model':<24}{'popest':>10}{'BIC':>10}")
            for r in self.ranking_[:top]:
                lines.append(f"  {r.model:<24}{r.popest:10.1f}{r.bic:10.2f}")
        if self.path_:
            lines.append("")
            lines.append("downhill path: model, population estimate, BIC, models fitted")
            for s in self.path_:
                lines.append(f"  {s.model:<24}{s.popest:10.1f}{s.bic:10.2f}{s.considered:8d}")
        return "\n".join(lines)

    def _bayes_text(self) -> str:
        r = self.bayes_
        prior = (f"N(0, {r.prior_variance:g}) prior" if r.prior == "proper"
                 else "flat prior") + " on the interactions"
        stats = ", ".join(f"{k} {v:.2f}" for k, v in r.threshold_statistics.items())
        lo, hi = self.confidence_interval_
        q = r.quantiles(QUANTILES)
        lines = [
            f"Multiple systems estimation (Bayesian thresholding) on {len(r.lists)} lists: "
            + ", ".join(r.lists),
            f"individuals observed: {int(r.n_observed)}",
            f"{prior}, threshold {r.threshold:g}, interactions up to order {r.max_order}",
            f"threshold statistics |mean|/sd: {stats}",
            "retained interactions: " + (", ".join(r.retained + r.retained_triples) or "none")
            + f"   (model {r.model})",
        ]
        if r.triple_threshold_statistics:
            lines.append("three-list statistics: " + ", ".join(
                f"{k} {v:.2f}" for k, v in r.triple_threshold_statistics.items()))
        if r.minus_infinity:
            lines.append("interactions at -inf (zero margin): " + ", ".join(r.minus_infinity))
        lines += [
            f"population, posterior median: {r.median:.1f}  "
            f"(unobserved: {r.median - r.n_observed:.1f}; posterior sd {r.sd:.1f})",
            "posterior quantiles: " + " | ".join(f"{100 * p:g}% {v:.1f}" for p, v in q.items()),
            f"{100 * self.level:g}% posterior interval: {lo:.1f} - {hi:.1f}",
            f"posterior sample: {r.total.size} draws (Hamiltonian Monte Carlo), effective "
            f"size {r.ess:.0f}, R-hat {r.rhat:.3f} (seed {self.seed})",
        ]
        lines += [f"note: {n}" for n in r.notes]
        return "\n".join(lines)
