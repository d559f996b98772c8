"""Figures for multiple systems estimation, drawn on a given Axes (no pyplot state)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from crowdcensus.plotting import check_plot_path, file_figure, save_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from crowdcensus.capture.mse.model import MultipleSystemsModel


def draw_selection(est: MultipleSystemsModel, ax: Axes, top: int = 15) -> Axes:
    """The best models by BIC with their estimates, or the stepwise (downhill) path."""
    from matplotlib import colormaps

    if est.ranking_:
        rows = est.ranking_[:top][::-1]
        best = est.ranking_[0].bic
        y = np.arange(len(rows))
        colours = colormaps["viridis"](np.clip([(r.bic - best) / 10 for r in rows], 0, 1))
        ax.scatter([r.popest for r in rows], y, c=colours, s=40, zorder=3)
        ax.set_yticks(y, [f"{r.model}  (ΔBIC {r.bic - best:.1f})" for r in rows], fontsize=8)
        ax.set_xlabel("population estimate")
        ax.set_title(f"Best {len(rows)} models by BIC")
    elif est.path_:
        ax.plot(range(len(est.path_)), [s.popest for s in est.path_], marker="o")
        ax.set_xticks(range(len(est.path_)), [s.model for s in est.path_], rotation=30,
                      fontsize=8)
        ax.set_ylabel("population estimate")
        ax.set_title(f"downhill: {est.path_[-1].considered} models fitted")
    else:
        labels = ["main effects"] + [f"+{s.term}" for s in est.steps_]
        values = [None] + [s.popest for s in est.steps_]
        if est.steps_:
            from crowdcensus.capture.mse.loglinear import HierarchicalModel, fit_model

            values[0] = fit_model(est.table_, HierarchicalModel.main_effects(est.table_.n_lists),
                                  check=False).popest
        else:
            labels, values = [est.model_], [est.abundance_]
        ax.plot(range(len(values)), values, marker="o")
        ax.set_xticks(range(len(values)), labels, rotation=30, fontsize=8)
        ax.set_ylabel("population estimate")
        ax.set_title(f"{est.method}: selected model {est.model_}")
    ax.grid(alpha=0.3)
    return ax


def draw_bootstrap(est: MultipleSystemsModel, ax: Axes) -> Axes:
    """Histogram of the bootstrap replicates with the estimate and the BCa interval."""
    boot = est.bootstrap_
    if boot is None:
        raise ValueError("no bootstrap yet: fit with n_boot > 0 or call bootstrap()")
    reps = boot.replicates[np.isfinite(boot.replicates)]
    ax.hist(reps, bins=40, color="0.7")
    ax.axvline(est.abundance_, color="C3", label=f"estimate {est.abundance_:.0f}")
    for value in boot.ci.values():
        ax.axvline(value, color="C0", linestyle="--")
    lo, hi = min(boot.ci), max(boot.ci)
    ax.set_title(f"Bootstrap ({reps.size} replicates); BCa {boot.ci[lo]:.0f}-{boot.ci[hi]:.0f}")
    ax.set_xlabel("population estimate")
    ax.legend()
    return ax


def draw_thresholds(est: MultipleSystemsModel, ax: Axes) -> Axes:
    """Bayesian thresholding: each interaction's ``|posterior mean| / sd`` and the threshold."""
    r = est.bayes_
    stats = {**r.threshold_statistics, **r.triple_threshold_statistics}
    names = list(stats)[::-1]
    values = np.array([min(stats[k], 50.0) for k in names])
    kept = set(r.retained) | set(r.retained_triples)
    ax.barh(range(len(names)), values, color=["C0" if k in kept else "0.7" for k in names])
    ax.axvline(r.threshold, color="C3", linestyle="--", label=f"threshold {r.threshold:g}")
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlabel("|posterior mean| / posterior sd")
    ax.set_title("Interactions (blue: retained)")
    ax.legend()
    return ax


def draw_posterior(est: MultipleSystemsModel, ax: Axes) -> Axes:
    """Bayesian thresholding: histogram of the population's posterior, median and interval."""
    r = est.bayes_
    if r is None:
        raise ValueError("no posterior: fit with method='bayesthresh'")
    ends = r.quantiles((0.005, 0.995))
    shown = (r.total >= ends[0.005]) & (r.total <= ends[0.995])
    ax.hist(r.total[shown], bins=60, color="0.7")
    lo, hi = est.confidence_interval_
    ax.axvline(r.median, color="C3", label=f"median {r.median:.0f}")
    for value in (lo, hi):
        ax.axvline(value, color="C0", linestyle="--")
    ax.set_title(f"Posterior of the population; {100 * est.level:g}% interval "
                 f"{lo:.0f}-{hi:.0f}")
    ax.set_xlabel("population")
    ax.set_yticks([])
    ax.legend()
    return ax


def plot_mse(est: MultipleSystemsModel, path: str | Path, top: int = 15) -> Path:
    """Write the model ranking (or stepwise path) and, after a bootstrap, its distribution;
    with Bayesian thresholding, the threshold statistics and the posterior."""
    p = check_plot_path(path)
    if est.bayes_ is not None:
        fig = file_figure((11, 4.5))
        ax1, ax2 = fig.subplots(1, 2)
        draw_thresholds(est, ax1)
        draw_posterior(est, ax2)
        fig.tight_layout()
        return save_figure(fig, p)
    boot = est.bootstrap_ is not None
    fig = file_figure((11, 4.5) if boot else (6.5, 4.5))
    axes = fig.subplots(1, 2 if boot else 1, squeeze=False)
    draw_selection(est, axes[0, 0], top)
    if boot:
        draw_bootstrap(est, axes[0, 1])
    fig.tight_layout()
    return save_figure(fig, p)
