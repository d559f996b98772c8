"""Figures for multiple systems estimation (PNG, SVG or PDF)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from crowdcensus.capture.mse.model import MultipleSystemsModel  # noqa: E402
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
    """Model ranking (BIC), or the stepwise path, and the bootstrap distribution."""
    p = check_plot_path(path)
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
            from crowdcensus.capture.mse.loglinear import HierarchicalModel, fit_model

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
