"""Figures for multiple systems estimation and open populations (PNG, SVG or PDF)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from crowdcensus.capture.mse_estimate import MultipleSystemsModel  # noqa: E402
from crowdcensus.capture.openpop import OpenPopulationModel  # noqa: E402
from crowdcensus.errors import InputError  # noqa: E402

FORMATS = (".png", ".svg", ".pdf")


def check_plot_path(path: str | Path) -> Path:
    """Refuse, before any work, a plot file with an unknown suffix or a missing folder."""
    p = Path(path)
    if p.suffix.lower() not in FORMATS:
        raise InputError(f"--plot file must end in {', '.join(FORMATS)} (got {p.name!r})")
    if not p.parent.exists():
        raise InputError(f"the folder of --plot does not exist: {p.parent}")
    return p


def plot_mse(est: MultipleSystemsModel, path: str | Path, top: int = 15) -> Path:
    """Model ranking (BIC), or the stepwise path, and the bootstrap distribution;
    with Bayesian thresholding, the threshold statistics and the posterior."""
    p = check_plot_path(path)
    if est.bayes_ is not None:
        return _plot_bayes(est, p)
    boot = est.bootstrap_
    fig, axes = plt.subplots(1, 2 if boot is not None else 1, figsize=(11 if boot else 6.5, 4.5),
                             squeeze=False)
    ax = axes[0, 0]
    if est.ranking_:
        rows = est.ranking_[:top][::-1]
        best = est.ranking_[0].bic
        y = np.arange(len(rows))
        colours = plt.cm.viridis(np.clip([(r.bic - best) / 10 for r in rows], 0, 1))
        ax.scatter([r.popest for r in rows], y, c=colours, s=40, zorder=3)
        ax.set_yticks(y, [f"{r.model}  (ΔBIC {r.bic - best:.1f})" for r in rows], fontsize=8)
        ax.set_xlabel("population estimate")
        ax.set_title(f"Best {len(rows)} models by BIC")
    else:
        labels = ["main effects"] + [f"+{s.term}" for s in est.steps_]
        values = [None] + [s.popest for s in est.steps_]
        if est.steps_:
            from crowdcensus.capture.mse import HierarchicalModel, fit_model

            values[0] = fit_model(est.table_, HierarchicalModel.main_effects(est.table_.n_lists),
                                  check=False).popest
        else:
            labels, values = [est.model_], [est.popest_]
        ax.plot(range(len(values)), values, marker="o")
        ax.set_xticks(range(len(values)), labels, rotation=30, fontsize=8)
        ax.set_ylabel("population estimate")
        ax.set_title(f"{est.method}: selected model {est.model_}")
    ax.grid(alpha=0.3)
    if boot is not None:
        ax2 = axes[0, 1]
        reps = boot.replicates[np.isfinite(boot.replicates)]
        ax2.hist(reps, bins=40, color="0.7")
        ax2.axvline(est.popest_, color="C3", label=f"estimate {est.popest_:.0f}")
        for value in boot.ci.values():
            ax2.axvline(value, color="C0", linestyle="--")
        lo, hi = min(boot.ci), max(boot.ci)
        ax2.set_title(
            f"Bootstrap ({reps.size} replicates); BCa {boot.ci[lo]:.0f}-{boot.ci[hi]:.0f}"
        )
        ax2.set_xlabel("population estimate")
        ax2.legend()
    fig.tight_layout()
    fig.savefig(p)
    plt.close(fig)
    return p


def _plot_bayes(est: MultipleSystemsModel, p: Path) -> Path:
    r = est.bayes_
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
    stats = {**r.threshold_statistics, **r.triple_threshold_statistics}
    names = list(stats)[::-1]
    values = np.array([min(stats[k], 50.0) for k in names])
    kept = set(r.retained) | set(r.retained_triples)
    ax1.barh(range(len(names)), values, color=["C0" if k in kept else "0.7" for k in names])
    ax1.axvline(r.threshold, color="C3", linestyle="--", label=f"threshold {r.threshold:g}")
    ax1.set_yticks(range(len(names)), names, fontsize=8)
    ax1.set_xlabel("|posterior mean| / posterior sd")
    ax1.set_title("Interactions (blue: retained)")
    ax1.legend()
    ends = r.quantiles((0.005, 0.995))
    shown = (r.total >= ends[0.005]) & (r.total <= ends[0.995])
    ax2.hist(r.total[shown], bins=60, color="0.7")
    lo, hi = est.confidence_interval_
    ax2.axvline(r.median, color="C3", label=f"median {r.median:.0f}")
    for value in (lo, hi):
        ax2.axvline(value, color="C0", linestyle="--")
    ax2.set_title(f"Posterior of the population; {100 * est.level:g}% interval "
                  f"{lo:.0f}-{hi:.0f}")
    ax2.set_xlabel("population")
    ax2.set_yticks([])
    ax2.legend()
    fig.tight_layout()
    fig.savefig(p)
    plt.close(fig)
    return p


def plot_open(model: OpenPopulationModel, path: str | Path) -> Path:
    """Abundance per period with arrivals between periods, and survival probabilities."""
    p = check_plot_path(path)
    t = len(model.abundance_)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 6.5), sharex=True)
    x = np.arange(1, t + 1)
    ok = np.isfinite(model.abundance_)
    ax1.errorbar(x[ok], model.abundance_[ok], yerr=1.96 * model.abundance_se_[ok], marker="o",
                 capsize=3, label="abundance N (±1.96 SE)")
    mid = np.arange(1, t) + 0.5
    okb = np.isfinite(model.arrivals_)
    ax1.bar(mid[okb], model.arrivals_[okb], width=0.4, alpha=0.5, color="C2",
            label="new arrivals B")
    ax1.set_ylabel("people")
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3)
    okp = np.isfinite(model.survival_)
    ax2.errorbar(mid[okp], model.survival_[okp], yerr=1.96 * model.survival_se_[okp],
                 marker="s", capsize=3, color="C1", linestyle="none")
    hl = model.half_life()
    if hl.get("estimate"):
        ax2.axhline(hl["phi_bar"], color="0.5", linestyle="--",
                    label=f"geometric mean {hl['phi_bar']:.3f}; half-life "
                          f"{hl['estimate']:.1f} periods")
        ax2.legend(fontsize=8)
    ax2.set_ylabel("survival to next period")
    ax2.set_ylim(0, 1.1)
    ax2.set_xticks(x, [str(o) for o in model.periods_], rotation=30, fontsize=8)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(p)
    plt.close(fig)
    return p
