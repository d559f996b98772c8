"""The multiple systems estimator: model selection, fit and bootstrap interval.

:class:`MultipleSystemsModel` ties together the pieces of
:mod:`crowdcensus.capture.mse` (models, checks, fits),
:mod:`crowdcensus.capture.mse_select` (stepwise and BIC selection) and
:mod:`crowdcensus.capture.bootstrap` (BCa bootstrap that repeats the selection
in every replicate).
"""

from __future__ import annotations

import functools

from crowdcensus.capture.bootstrap import BootstrapResult, bootstrap_bca
from crowdcensus.capture.histories import CaptureHistories
from crowdcensus.capture.mse import HierarchicalModel, OverlapTable, fit_model
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

METHODS = ("stepwise", "bic", "fixed", "main")


class MultipleSystemsModel:
    """Population size from overlapping lists (multiple systems estimation).

    Parameters
    ----------
    method : {"stepwise", "bic", "fixed", "main"}
        Forward stepwise selection of two-list interactions, exhaustive BIC
        over hierarchical models, a given model, or main effects only.
    model : str, optional
        The model for ``method="fixed"``, in ``[12,3]`` notation.
    pthresh : float
        p-value threshold of the stepwise selection (default 0.02).
    max_order : int, optional
        Highest interaction order in the BIC search (default ``L - 1`` up to
        five lists, 2 beyond).

    Fitted attributes
    -----------------
    fit_ : MSEFit -- the selected model fitted; popest_ ; model_ (str)
    steps_ : list of StepRecord (stepwise) ; ranking_ : list of RankedModel (bic)
    bootstrap_ : BootstrapResult or None (after :meth:`bootstrap`)
    """

    def __init__(
        self,
        method: str = "stepwise",
        model: str | None = None,
        pthresh: float = DEFAULT_PTHRESH,
        max_order: int | None = None,
    ) -> None:
        self.method = method
        self.model = model
        self.pthresh = pthresh
        self.max_order = max_order

    def fit(self, histories: CaptureHistories) -> MultipleSystemsModel:
        if self.method not in METHODS:
            raise InputError(f"unknown method {self.method!r} (use {', '.join(METHODS)})")
        if self.method == "fixed" and not self.model:
            raise InputError("--method fixed needs a model, e.g. --model \"[12,3]\"")
        if self.method != "fixed" and self.model:
            raise InputError("--model is only used with --method fixed")
        table = OverlapTable.from_histories(histories)
        self.table_ = table
        self.steps_: list[StepRecord] = []
        self.ranking_: list[RankedModel] = []
        if self.method == "stepwise":
            self.fit_, self.steps_ = stepwise(table, self.pthresh)
        elif self.method == "bic":
            self.fit_, self.ranking_ = bic_search(table, self.max_order)
        elif self.method == "fixed":
            self.fit_ = fit_model(table, HierarchicalModel.parse(self.model, table.n_lists))
        else:
            self.fit_ = fit_model(table, HierarchicalModel.main_effects(table.n_lists))
        self.bootstrap_: BootstrapResult | None = None
        return self

    @property
    def popest_(self) -> float:
        return self.fit_.popest

    @property
    def model_(self) -> str:
        return str(self.fit_.model)

    def bootstrap(
        self,
        n_boot: int,
        seed: int | None = None,
        workers: int | None = None,
        scheduler: str | None = None,
        levels: tuple[float, ...] = (0.025, 0.975),
    ) -> BootstrapResult:
        """BCa interval from a multinomial bootstrap repeating the model selection.

        Each replicate resamples the ``n`` observed individuals (multinomial on
        the observed cell proportions) and reruns the same method (with a
        fixed model, just refits it). With BIC selection, the replicates choose
        among the best models of the original data only (all of them up to three
        lists, the best 20 for four, 100 beyond), as MultipleSystemsEstimation
        does to keep the bootstrap feasible.
        """
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
        f = self.fit_
        out: dict = {
            "popest": f.popest,
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
        b = self.bootstrap_
        if b is not None:
            out["ci"] = {f"{k:g}": v for k, v in b.ci.items()}
            out["bootstrap"] = {
                "replicates": int(b.replicates.size),
                "failed": b.n_failed,
                "acceleration": b.acceleration,
                "bias_correction": b.bias_correction,
            }
        return out

    def to_text(self, top: int = 10) -> str:
        """A readable report."""
        f = self.fit_
        lines = [
            f"Multiple systems estimation ({self.method}) on {self.table_.n_lists} lists: "
            + ", ".join(self.table_.lists),
            f"individuals observed: {int(self.table_.n_observed)}",
            f"selected model:       {f.model}",
            f"population estimate:  {f.popest:.1f}  (unobserved: {f.dark_figure:.1f})",
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
        return "\n".join(lines)
