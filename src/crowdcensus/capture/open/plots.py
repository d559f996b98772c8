"""Figures for open populations, drawn on a given Axes (no pyplot state)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from crowdcensus.plotting import check_plot_path, file_figure, save_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from crowdcensus.capture.open.model import OpenPopulationModel


def draw_abundance(model: OpenPopulationModel, ax: Axes) -> Axes:
    """Abundance per period (±1.96 SE) with the arrivals between periods as bars."""
    per = model.periods_
    t = len(per)
    x = np.arange(1, t + 1)
    n, n_se = per["abundance"].to_numpy(), per["abundance_se"].to_numpy()
    ok = np.isfinite(n)
    ax.errorbar(x[ok], n[ok], yerr=1.96 * n_se[ok], marker="o", capsize=3,
                label="abundance N (±1.96 SE)")
    mid = np.arange(1, t) + 0.5
    b = per["arrivals"].to_numpy()[: t - 1]
    okb = np.isfinite(b)
    ax.bar(mid[okb], b[okb], width=0.4, alpha=0.5, color="C2", label="new arrivals B")
    ax.set_ylabel("people")
    ax.set_xticks(x, [str(o) for o in per["name"]], rotation=30, fontsize=8)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def draw_survival(model: OpenPopulationModel, ax: Axes) -> Axes:
    """Survival from each period to the next (±1.96 SE) and the geometric mean."""
    per = model.periods_
    t = len(per)
    x = np.arange(1, t + 1)
    mid = np.arange(1, t) + 0.5
    phi = per["survival"].to_numpy()[: t - 1]
    phi_se = per["survival_se"].to_numpy()[: t - 1]
    okp = np.isfinite(phi)
    ax.errorbar(mid[okp], phi[okp], yerr=1.96 * phi_se[okp], marker="s", capsize=3,
                color="C1", linestyle="none")
    hl = model.half_life_
    if hl.get("estimate"):
        ax.axhline(hl["phi_bar"], color="0.5", linestyle="--",
                   label=f"geometric mean {hl['phi_bar']:.3f}; half-life "
                         f"{hl['estimate']:.1f} periods")
        ax.legend(fontsize=8)
    ax.set_ylabel("survival to next period")
    ax.set_ylim(0, 1.1)
    ax.set_xticks(x, [str(o) for o in per["name"]], rotation=30, fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def plot_open(model: OpenPopulationModel, path: str | Path) -> Path:
    """Write abundance with arrivals (top) and survival probabilities (bottom)."""
    p = check_plot_path(path)
    fig = file_figure((7, 6.5))
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    draw_abundance(model, ax1)
    draw_survival(model, ax2)
    fig.tight_layout()
    return save_figure(fig, p)
