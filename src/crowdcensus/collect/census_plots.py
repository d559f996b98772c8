"""The live census's figures, drawn on the server as PNG (no JavaScript on the admin page).

* ``responses``: responses per wave, split into new workers and recaptures;
* ``frequencies``: the reported frequency of micro-work, wave by wave (shares);
* ``running``: per platform, the estimate of the population reached after
  each wave, with its profile-likelihood interval;
* ``open-PLATFORM``: abundance, arrivals and survival of the open-population
  model, when it was fitted.
"""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps

from crowdcensus.collect import live
from crowdcensus.collect.questionnaire import FREQUENCIES
from crowdcensus.plotting import figure_png, file_figure

DPI = 100


def _axes():
    fig = file_figure((7, 3.4))  # a bare Figure: no backend, no pyplot state
    return fig, fig.subplots()


def _png(fig) -> bytes:
    fig.tight_layout()
    return figure_png(fig, dpi=DPI)


def _responses(payload: dict) -> bytes:
    waves = payload["waves"]
    fig, ax = _axes()
    x = np.arange(len(waves))
    new = [w["new"] for w in waves]
    again = [w["recaptured"] for w in waves]
    platforms = list(dict.fromkeys(w["platform"] for w in waves))
    colours = {p: f"C{i}" for i, p in enumerate(platforms)}
    ax.bar(x, new, color=[colours[w["platform"]] for w in waves], label="new workers")
    ax.bar(x, again, bottom=new, color=[colours[w["platform"]] for w in waves], alpha=0.45,
           hatch="//", label="seen in an earlier wave")
    ax.set_xticks(x, [f"{w['label']}\n{w['platform']}" for w in waves], fontsize=8)
    ax.set_ylabel("responses")
    ax.set_title("Responses per wave")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def _frequencies(payload: dict) -> bytes:
    waves = payload["waves"]
    fig, ax = _axes()
    x = np.arange(len(waves))
    bottom = np.zeros(len(waves))
    totals = np.array([max(1, w["n_responses"]) for w in waves], dtype=float)
    for i, (code, label) in enumerate(FREQUENCIES.items()):
        share = np.array([w["frequencies"][code] for w in waves]) / totals
        ax.bar(x, share, bottom=bottom, color=colormaps["viridis"](i / (len(FREQUENCIES) - 1)),
               label=label["en"])
        bottom += share
    ax.set_xticks(x, [w["label"] for w in waves], fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of responses")
    ax.set_title("How often respondents do micro-work")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5))
    return _png(fig)


def _running(payload: dict) -> bytes | None:
    series = {p: c["running"] for p, c in payload["platforms"].items()
              if any(r["abundance"] is not None for r in c["running"])}
    if not series:
        return None
    fig, ax = _axes()
    for i, (platform, points) in enumerate(series.items()):
        ok = [r for r in points if r["abundance"] is not None]
        x = np.array([r["waves"] for r in ok]) + 0.06 * i
        y = np.array([r["abundance"] for r in ok])
        lo = np.array([r["ci_low"] if r["ci_low"] is not None else r["abundance"] for r in ok])
        hi = np.array([r["ci_high"] if r["ci_high"] is not None else r["abundance"]
                       for r in ok])
        ax.errorbar(x, y, yerr=[y - lo, hi - y], marker="o", capsize=3, color=f"C{i}",
                    label=f"{platform} ({ok[-1]['model']})")
    level = int(round(100 * payload.get("level", 0.95)))
    ax.set_xlabel("waves so far")
    ax.set_ylabel("people reached")
    ax.set_title(f"Running estimate per platform ({level}% profile interval)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)


def census_plots(payload: dict, frames: dict[str, dict]) -> dict[str, bytes]:
    """Every figure of a census, as PNG bytes by name."""
    plots: dict[str, bytes] = {}
    if not payload["waves"]:
        return plots
    plots["responses"] = _responses(payload)
    plots["frequencies"] = _frequencies(payload)
    running = _running(payload)
    if running is not None:
        plots["running"] = running
    for platform, parts in frames.items():
        if "open" in parts:
            try:
                plots[f"open-{platform}"] = live.open_plot(parts["open"])
            except live.estimator_errors():
                pass
    return plots
