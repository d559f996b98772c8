"""Figures for open populations (PNG, SVG or PDF)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from crowdcensus.capture.mse.plots import check_plot_path  # noqa: E402
from crowdcensus.capture.open.model import OpenPopulationModel  # noqa: E402


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
