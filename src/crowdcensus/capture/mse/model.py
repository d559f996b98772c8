"""The multiple systems estimator: model selection, fit and interval.

:class:`MultipleSystemsModel` ties together the pieces of
:mod:`crowdcensus.capture.mse.loglinear` (models, checks, fits),
:mod:`crowdcensus.capture.mse.select` (stepwise selection),
:mod:`crowdcensus.capture.mse.bic` (exhaustive BIC and downhill search),
:mod:`crowdcensus.capture.mse.bayesthresh` (Bayesian thresholding) and
:mod:`crowdcensus.capture.mse.bootstrap` (BCa bootstrap that repeats the selection
in every replicate).
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import TYPE_CHECKING

from crowdcensus.capture.base import SCHEMA_VERSION, PopulationEstimator
from crowdcensus.capture.histories import CaptureHistories
from crowdcensus.capture.mse.bayesthresh import (
    DEFAULT_DRAWS,
    DEFAULT_SEED,
    QUANTILES,
    BayesThreshResult,
    bayes_threshold,
)
from crowdcensus.capture.mse.bic import DownhillStep, downhill_search
from crowdcensus.capture.mse.bootstrap import BootstrapResult, bootstrap_bca
from crowdcensus.capture.mse.loglinear import HierarchicalModel, OverlapTable, fit_model
from crowdcensus.capture.mse.select import (
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
from crowdcensus.parallel import default_workers

if TYPE_CHECKING:
    from matplotlib.axes import Axes

METHODS = ("stepwise", "bic", "downhill", "bayesthresh", "fixed", "main")


class MultipleSystemsModel(PopulationEstimator):
    r"""Population size from overlapping lists (multiple systems estimation).

    The counts ``y_c`` of the ``2**L - 1`` observable patterns of ``L`` lists
    follow a hierarchical Poisson log-linear model
    ``log E[y_c] = sum_{k subset of c, k in M} theta_k``; the pattern "on no
    list" has expected count ``exp(theta_0)``, so ``N = n + exp(theta_0)``
    (Fienberg 1972; Bishop, Fienberg & Holland 1975). The model ``M`` is
    chosen by forward stepwise selection of two-list interactions, by
    exhaustive BIC or the downhill BIC search, as the R package
    MultipleSystemsEstimation does (Chan, Silverman & Vincent 2021; Silverman,
    Chan & Vincent 2024), with the existence and identifiability checks of
    :mod:`crowdcensus.capture.mse.loglinear` -- or by Silverman's (2020)
    Bayesian thresholding (:mod:`crowdcensus.capture.mse.bayesthresh`), whose
    estimate is the posterior median of ``n + exp(theta_0)``.

    Parameters
    ----------
    method : {"stepwise", "bic", "downhill", "bayesthresh", "fixed", "main"}
        Forward stepwise selection of two-list interactions; exhaustive BIC
        over hierarchical models; downhill BIC search; Bayesian thresholding;
        a given model; or main effects only.
    model : str, optional
        The model for ``method="fixed"``, in ``[12,3]`` notation.
    pthresh : float
        p-value threshold of the stepwise selection (default 0.02).
    max_order : int, optional
        Highest interaction order: BIC (default as MultipleSystemsEstimation:
        1 for two lists, 2 for three, 3 for four or five, 2 for six), downhill
        (default ``L - 1``), Bayesian thresholding (2 or 3, default 2).
    n_boot : int
        Bootstrap replicates run by :meth:`fit` (0: none). The interval is then
        the BCa interval of a multinomial bootstrap that repeats the model
        selection in every replicate (see :meth:`bootstrap`).
    seed : int, optional
        Seed of the bootstrap (the same seed gives the same replicates whatever
        runs them) and of the posterior sampler (default 1 there).
    level : float
        Level of ``confidence_interval_`` (default 0.95).
    workers : int, optional
        Local processes for the bootstrap and the exhaustive BIC search
        (default: the CPUs available).
    scheduler : str, optional
        Address of a Dask scheduler that runs the bootstrap instead.
    prior : {"proper", "improper"}
        Bayesian thresholding: prior of the interactions, ``N(0, prior_variance)``
        or flat (the intercept and main effects always have flat priors).
    prior_variance, threshold : float
        Bayesian thresholding: prior variance (1) and the threshold on
        ``|posterior mean| / posterior sd`` (2).
    n_draws : int
        Bayesian thresholding: posterior draws per fit (20,000).

    Attributes
    ----------
    abundance_ : float
        ``n + exp(theta_0)`` under the selected model (``popest`` in the R
        package; ``popest_`` is kept as a deprecated alias).
    stderr_ : float
        Standard error given the selected model: ``sqrt(f0 + f0**2 var(theta_0))``
        with ``f0 = exp(theta_0)`` (Poisson delta method minus the binomial part,
        as for the closed models); it ignores the model selection, which only
        the bootstrap carries. Bayesian thresholding: the posterior standard
        deviation.
    confidence_interval_ : tuple of float
        The BCa bootstrap interval at ``level`` after a bootstrap; before it,
        Chao's log-normal interval from ``stderr_`` (given the selected model).
        Bayesian thresholding: the central posterior interval at ``level``.
    n_captured_ : int
        Individuals on at least one list.
    model_ : str
        The selected model in ``[12,3]`` notation.
    fit_ : MSEFit
        The selected model fitted (deviance, AIC, BIC, terms at ``-inf``...).
    steps_ : list of StepRecord
        The stepwise path (``method="stepwise"``).
    ranking_ : list of RankedModel
        Every usable model by BIC (``method="bic"``).
    path_ : list of DownhillStep
        The downhill path (``method="downhill"``).
    bayes_ : BayesThreshResult or None
        Retained interactions, threshold statistics and posterior draws
        (``method="bayesthresh"``; ``fit_`` is then ``None``).
    bootstrap_ : BootstrapResult or None
        Replicates, jackknife and BCa constants after a bootstrap.

    References
    ----------
    Chan, L., Silverman, B. W. and Vincent, K. (2021). Multiple systems
    estimation for sparse capture data: inferential challenges when there are
    nonoverlapping lists. *JASA* 116(535), 1297-1306.

    Fienberg, S. E. (1972). The multiple recapture census for closed
    populations and incomplete 2^k contingency tables. *Biometrika* 59, 591-603.

    Silverman, B. W. (2020). Multiple-systems analysis for the quantification of
    modern slavery: classical and Bayesian approaches. *JRSS A* 183, 691-736.

    Examples
    --------
    >>> from crowdcensus.capture import CaptureHistories
    >>> lists = CaptureHistories.from_matrix(
    ...     [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1], [1, 1, 1]],
    ...     counts=[120, 95, 80, 30, 25, 20, 8], occasions=["police", "ngo", "health"])
    >>> m = MultipleSystemsModel("main").fit(lists)
    >>> m.model_, round(m.abundance_, 1), round(m.stderr_, 1)
    ('[1,2,3]', 743.7, 56.8)
    >>> m.to_dict()["popest"] == m.abundance_
    True
    """

    def __init__(
        self,
        method: str = "stepwise",
        model: str | None = None,
        pthresh: float = DEFAULT_PTHRESH,
        max_order: int | None = None,
        *,
        n_boot: int = 0,
        seed: int | None = None,
        level: float = 0.95,
        workers: int | None = None,
        scheduler: str | None = None,
        prior: str = "proper",
        prior_variance: float = 1.0,
        threshold: float = 2.0,
        n_draws: int = DEFAULT_DRAWS,
    ) -> None:
        self.method = method
        self.model = model
        self.pthresh = pthresh
        self.max_order = max_order
        self.n_boot = n_boot
        self.seed = seed
        self.level = level
        self.workers = workers
        self.scheduler = scheduler
        self.prior = prior
        self.prior_variance = prior_variance
        self.threshold = threshold
        self.n_draws = n_draws

    def _fit(self, histories: CaptureHistories) -> None:
        if self.method not in METHODS:
            raise InputError(f"unknown method {self.method!r} (use {', '.join(METHODS)})")
        if self.method == "fixed" and not self.model:
            raise InputError("--method fixed needs a model, e.g. --model \"[12,3]\"")
        if self.method != "fixed" and self.model:
            raise InputError("--model is only used with --method fixed")
        if self.n_boot < 0:
            raise InputError("--bootstrap must be 0 or a positive number of replicates")
        if self.n_boot:   # before the fit, not after it
            from crowdcensus.capture.mse.bootstrap import check_replicates

            check_replicates(self.n_boot)
        if self.n_boot and self.method == "bayesthresh":
            raise InputError("--bootstrap does not apply to --method bayesthresh, whose "
                             "interval comes from the posterior")
        table = OverlapTable.from_histories(histories)
        self.table_ = table
        self.steps_: list[StepRecord] = []
        self.ranking_: list[RankedModel] = []
        self.path_: list[DownhillStep] = []
        self.bayes_: BayesThreshResult | None = None
        self.bootstrap_: BootstrapResult | None = None
        self.n_captured_ = int(table.n_observed)
        if self.method == "bayesthresh":
            self._fit_bayes(table)
            return
        if self.method == "stepwise":
            self.fit_, self.steps_ = stepwise(table, self.pthresh)
        elif self.method == "bic":
            workers = default_workers() if self.workers is None else self.workers
            self.fit_, self.ranking_ = bic_search(table, self.max_order, workers=workers)
        elif self.method == "downhill":
            self.fit_, self.path_ = downhill_search(table, self.max_order)
        elif self.method == "fixed":
            self.fit_ = fit_model(table, HierarchicalModel.parse(self.model, table.n_lists))
        else:
            self.fit_ = fit_model(table, HierarchicalModel.main_effects(table.n_lists))
        f0 = self.fit_.dark_figure
        self.abundance_ = self.fit_.popest
        self.stderr_ = math.sqrt(f0 + f0 * f0 * self.fit_.intercept_se ** 2)
        self.model_ = str(self.fit_.model)
        if self.n_boot:
            self.bootstrap(self.n_boot, seed=self.seed, workers=self.workers,
                           scheduler=self.scheduler)

    def _fit_bayes(self, table: OverlapTable) -> None:
        res = bayes_threshold(
            table, self.prior, self.prior_variance, self.threshold,
            2 if self.max_order is None else self.max_order,
            DEFAULT_SEED if self.seed is None else self.seed, self.n_draws)
        self.bayes_ = res
        self.fit_ = None
        self.abundance_ = res.median
        self.stderr_ = res.sd
        self.model_ = res.model
        q = res.quantiles(self._tails())
        self.confidence_interval_ = (q[self._tails()[0]], q[self._tails()[1]])

    def _tails(self) -> tuple[float, float]:
        """Cumulative levels of the two ends of the interval at ``level``."""
        tail = round((1 - self.level) / 2, 12)
        return tail, round(1 - tail, 12)

    @property
    def popest_(self) -> float:
        """Deprecated alias of :attr:`abundance_`."""
        warnings.warn("popest_ is deprecated, use abundance_", DeprecationWarning, stacklevel=2)
        self._check_fitted()
        return self.abundance_

    def bootstrap(
        self,
        n_boot: int,
        seed: int | None = None,
        workers: int | None = None,
        scheduler: str | None = None,
    ) -> BootstrapResult:
        """BCa interval from a multinomial bootstrap repeating the model selection.

        Each replicate resamples the ``n`` observed individuals (multinomial on
        the observed cell proportions) and reruns the same method (with a
        fixed model, just refits it). With BIC selection, the replicates choose
        among the best models of the original data only (all of them up to three
        lists, the best 20 for four, 100 beyond), as MultipleSystemsEstimation
        does to keep the bootstrap feasible. Sets ``bootstrap_`` and
        ``confidence_interval_`` (at ``level``) and returns the result.
        """
        self._check_fitted()
        if self.method == "bayesthresh":
            raise InputError("--bootstrap does not apply to --method bayesthresh, whose "
                             "interval comes from the posterior")
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
            statistic, table.counts, n_boot, seed=seed, levels=self._tails(),
            workers=workers, scheduler=scheduler, estimate=self.abundance_,
        )
        ci = self.bootstrap_.ci
        self.confidence_interval_ = (ci[min(ci)], ci[max(ci)])
        return self.bootstrap_

    # ------------------------------------------------------------------ outputs
    def _label(self) -> str:
        return self.model_

    def _statistics(self) -> dict:
        f = self.fit_
        if f is None:
            r = self.bayes_
            return {"method": self.method, "n_observed": self.n_captured_,
                    "retained": " ".join(r.retained + r.retained_triples),
                    "posterior_mean": r.mean, "ess": r.ess, "rhat": r.rhat}
        return {"method": self.method, "n_observed": self.n_captured_,
                "dark_figure": f.dark_figure, "deviance": f.deviance, "aic": f.aic,
                "bic": f.bic}

    def plot(self, ax: Axes | None = None, top: int = 15) -> Axes:
        """The ``top`` models by BIC with their estimates, the stepwise or downhill
        path, or (Bayesian thresholding) the threshold statistics."""
        from crowdcensus.capture.mse.plots import draw_selection, draw_thresholds
        from crowdcensus.plotting import axes_or_new

        self._check_fitted()
        if self.bayes_ is not None:
            return draw_thresholds(self, axes_or_new(ax, (6.5, 4.5)))
        return draw_selection(self, axes_or_new(ax, (6.5, 4.5)), top)

    def plot_posterior(self, ax: Axes | None = None) -> Axes:
        """Bayesian thresholding: the posterior of the population with its interval."""
        from crowdcensus.capture.mse.plots import draw_posterior
        from crowdcensus.plotting import axes_or_new

        self._check_fitted()
        return draw_posterior(self, axes_or_new(ax, (6.5, 4.5)))

    def plot_bootstrap(self, ax: Axes | None = None) -> Axes:
        """Histogram of the bootstrap replicates with the estimate and the BCa interval."""
        from crowdcensus.capture.mse.plots import draw_bootstrap
        from crowdcensus.plotting import axes_or_new

        self._check_fitted()
        return draw_bootstrap(self, axes_or_new(ax, (6.5, 4.5)))

    def to_dict(self) -> dict:
        """What ``crowdcensus estimate mse --format json`` prints."""
        self._check_fitted()
        if self.bayes_ is not None:
            return self._bayes_dict()
        f = self.fit_
        out: dict = {
            "schema_version": SCHEMA_VERSION,
            "popest": f.popest,
            "stderr": self.stderr_,
            "model": str(f.model),
            "method": self.method,
            "lists": list(self.table_.lists),
            "n_observed": int(self.table_.n_observed),
            # the name the closed and open outputs use for the same count
            "n_captured": int(self.table_.n_observed),
            "dark_figure": f.dark_figure,
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
            "schema_version": SCHEMA_VERSION,
            "popest": r.median,
            "stderr": r.sd,
            "quantiles": {f"{p:g}": v for p, v in r.quantiles(QUANTILES).items()},
            "retained": r.retained,
            "retained_triples": r.retained_triples,
            "eligible_triples": r.eligible_triples,
            "minus_infinity": r.minus_infinity,
            "model": r.model,
            "method": "bayesthresh",
            "lists": list(r.lists),
            "n_observed": int(r.n_observed),
            "n_captured": int(r.n_observed),  # the other estimate commands' name
            "prior": r.prior,
            "prior_variance": r.prior_variance if r.prior == "proper" else None,
            "threshold": r.threshold,
            "max_order": r.max_order,
            "threshold_statistics": r.threshold_statistics,
            "triple_threshold_statistics": r.triple_threshold_statistics,
            "level": self.level,
            "ci": {f"{p:g}": v for p, v in zip(self._tails(), (lo, hi), strict=True)},
            "posterior": {"mean": r.mean, "sd": r.sd, "draws": int(r.total.size),
                          "effective_sample_size": r.ess, "rhat": r.rhat,
                          "seed": DEFAULT_SEED if self.seed is None else self.seed},
            "notes": r.notes,
        }

    def to_text(self, top: int = 10) -> str:
        """A readable report."""
        self._check_fitted()
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
            f"size {r.ess:.0f}, R-hat {r.rhat:.3f} "
            f"(seed {DEFAULT_SEED if self.seed is None else self.seed})",
        ]
        lines += [f"note: {n}" for n in r.notes]
        return "\n".join(lines)
