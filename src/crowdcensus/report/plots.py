"""The report's plots, returned as PNG bytes (bare matplotlib Figures: no backend chosen)."""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter, MaxNLocator

from crowdcensus.methods.montecarlo import METHOD_LABELS, METHODS
from crowdcensus.plotting import figure_png
from crowdcensus.synthesis.results import Results
from crowdcensus.tiers import BAND_LABELS, BANDS, TIER_LABELS, TIERS

COLOURS = {"occasional": "#9ecae1", "regular": "#4292c6", "very_active": "#08519c",
           "regular_only": "#4292c6", "occasional_only": "#9ecae1",
           "declared": "#e6550d", "audience": "#31a354", "experiment": "#756bb1",
           "combined": "#252525", "inverse_variance": "#969696"}
THOUSANDS = FuncFormatter(lambda x, _pos: f"{x:,.0f}")


def _png(fig: Figure) -> bytes:
    return figure_png(fig, dpi=110)


def tiers_plot(results: Results) -> bytes:
    """Nested tiers with their intervals (left) and the disjoint breakdown (right)."""
    fig = Figure(figsize=(10, 3.4))
    ax, ax2 = fig.subplots(1, 2, width_ratios=[3, 2])
    tiers = [t for t in TIERS if t in results.combined]
    if not tiers:
        ax.text(0.5, 0.5, "no combined figure: the joint model did not converge",
                ha="center", va="center", transform=ax.transAxes)
        ax.axis("off")
        ax2.axis("off")
        return _png(fig)
    for i, t in enumerate(tiers):
        iv = results.combined[t]
        ax.barh(i, iv.estimate, color=COLOURS[t], height=0.6)
        ax.errorbar(iv.estimate, i, xerr=[[iv.estimate - iv.low], [iv.high - iv.estimate]],
                    color="black", capsize=4, lw=1.2)
        ax.text(iv.high, i, f"  {iv.estimate:,.0f}", va="center", fontsize=9)
    ax.set_yticks(range(len(tiers)), [TIER_LABELS[t] for t in tiers], fontsize=9)
    ax.xaxis.set_major_formatter(THOUSANDS)
    ax.xaxis.set_major_locator(MaxNLocator(4))
    ax.set_xlim(0, max(results.combined[t].high for t in tiers) * 1.3)
    ax.set_title(f"Nested tiers (each includes the next), {results.level:.0%} intervals",
                 fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    if results.disjoint:
        left = 0.0
        for b in BANDS:
            v = max(results.disjoint[b].estimate, 0.0)
            ax2.barh(0, v, left=left, color=COLOURS[b], edgecolor="white", height=0.5)
            left += v
        ax2.set_yticks([])
        ax2.xaxis.set_major_formatter(THOUSANDS)
        ax2.xaxis.set_major_locator(MaxNLocator(4))
        handles = [Rectangle((0, 0), 1, 1, color=COLOURS[b]) for b in BANDS]
        ax2.legend(handles, [f"{BAND_LABELS[b]}: {results.disjoint[b].estimate:,.0f}"
                             for b in BANDS], loc="upper center", bbox_to_anchor=(0.5, -0.18),
                   fontsize=8, frameon=False)
        ax2.set_title("Disjoint breakdown (these add up)", fontsize=10)
        ax2.spines[["top", "right", "left"]].set_visible(False)
    else:
        ax2.axis("off")
    fig.tight_layout()
    return _png(fig)


def methods_plot(results: Results) -> bytes:
    """Each method's estimate of each tier with its interval, and the combined one."""
    rows = []
    for t in TIERS:
        for m in (*METHODS, "inverse_variance", "combined"):
            if m == "combined":
                iv = results.combined.get(t)
            elif m == "inverse_variance":
                iv = results.baseline.get(t) if len(results.weights.get(t, {})) > 1 else None
            else:
                iv = results.methods.get(m, {}).get(t)
            if iv is not None:
                rows.append((t, m, iv))
    fig = Figure(figsize=(9, 0.45 * len(rows) + 1.2))
    ax = fig.subplots()
    labels = []
    for i, (t, m, iv) in enumerate(rows):
        y = len(rows) - 1 - i
        marker = {"combined": "D", "inverse_variance": "s"}.get(m, "o")
        ax.errorbar(iv.estimate, y, xerr=[[iv.estimate - iv.low], [iv.high - iv.estimate]],
                    fmt=marker, color=COLOURS[m], capsize=3, ms=6)
        labels.append((y, f"{TIER_LABELS[t].split(' (')[0]} - {METHOD_LABELS[m]}"))
    ax.set_yticks([y for y, _ in labels], [s for _, s in labels], fontsize=8)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(THOUSANDS)
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda x, _p: ""))
    ax.set_xlabel("people (log scale)")
    ax.set_title("Methods side by side, per tier", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return _png(fig)


def tornado_plot(results: Results, top: int = 8) -> bytes:
    """For each tier, how far each input moves it across the input's range."""
    sens = results.sensitivity
    tiers = [t for t in TIERS if t in set(sens["tier"])]
    heights = [min(top, int((sens["tier"] == t).sum())) for t in tiers]
    fig = Figure(figsize=(9, 0.42 * sum(heights) + 1.1 * len(tiers)))
    axes = fig.subplots(len(tiers), 1, height_ratios=heights or [1], squeeze=False)
    for ax, t in zip(axes[:, 0], tiers, strict=True):
        rows = sens[sens["tier"] == t].head(top).iloc[::-1]
        centre = float(rows["tier_central"].iloc[0])
        for y, (_, r) in enumerate(rows.iterrows()):
            for end, colour in (("tier_at_low", "#6baed6"), ("tier_at_high", "#fd8d3c")):
                ax.barh(y, r[end] - centre, left=centre, color=colour, height=0.6)
        ax.axvline(centre, color="black", lw=1)
        ax.set_yticks(range(len(rows)), [_short(s) for s in rows["label"]], fontsize=8)
        ax.xaxis.set_major_formatter(THOUSANDS)
        ax.set_title(f"{TIER_LABELS[t]}: central {centre:,.0f}", fontsize=9)
        ax.spines[["top", "right"]].set_visible(False)
    handles = [Rectangle((0, 0), 1, 1, color=c) for c in ("#6baed6", "#fd8d3c")]
    fig.legend(handles, ["input at the low end of its range", "input at the high end"],
               fontsize=8, loc="lower center", ncol=2, frameon=False)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return _png(fig)


def _short(text: str, width: int = 55) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"
