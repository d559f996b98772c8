"""The validation report: HTML (like the main report), JSON and CSV, with plots."""

from __future__ import annotations

import base64
import hashlib
import json
import math
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from crowdcensus.errors import InputError
from crowdcensus.methods.montecarlo import METHOD_LABELS
from crowdcensus.report.html import FAVICON, _count
from crowdcensus.report.outputs import package_version
from crowdcensus.report.plots import COLOURS, _png
from crowdcensus.simulate.validation import METHODS, Validation, take_up_readings
from crowdcensus.tiers import TIER_LABELS, TIERS


def error_plot(val: Validation, scenario: str) -> bytes:
    """Relative error of every method on every tier, one box per (tier, method)."""
    rep = val.replicates
    rep = rep[(rep["scenario"] == scenario) & (rep["error"] == "")]
    boxes, labels, colours = [], [], []
    for t in TIERS:
        for m in METHODS:
            g = rep[(rep["tier"] == t) & (rep["method"] == m)]
            if g.empty:
                continue
            boxes.append(100 * (g["estimate"] - g["truth"]) / g["truth"])
            labels.append(f"{TIER_LABELS[t].split(' (')[0]} - {METHOD_LABELS[m]}")
            colours.append(COLOURS[m])
    fig = Figure(figsize=(9, 0.42 * max(len(boxes), 1) + 1.3))
    ax = fig.subplots()
    if boxes:
        horizontal = ({"orientation": "horizontal"}
                      if tuple(int(x) for x in matplotlib.__version__.split(".")[:2]) >= (3, 10)
                      else {"vert": False})
        parts = ax.boxplot(boxes[::-1], patch_artist=True, widths=0.6,
                           flierprops={"markersize": 3}, **horizontal)
        for patch, c in zip(parts["boxes"], colours[::-1], strict=True):
            patch.set_facecolor(c)
            patch.set_alpha(0.7)
        ax.set_yticks(range(1, len(labels) + 1), labels[::-1], fontsize=8)
    ax.axvline(0, color="black", lw=1)
    for x in (-15, 15):
        ax.axvline(x, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("error relative to the truth (%); dashed lines at +-15%")
    ax.set_title(f"Scenario {scenario}: estimate vs truth over {val.n_replicates} replicates",
                 fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return _png(fig)


def coverage_plot(val: Validation) -> bytes:
    """Coverage of the 95% intervals per scenario, tier and method, with the 93% target."""
    s = val.summary
    s = s[s["method"] != "failed"]
    scen = list(dict.fromkeys(s["scenario"]))
    fig = Figure(figsize=(3.2 * max(len(scen), 1), 3.6))
    axes = fig.subplots(1, max(len(scen), 1), sharey=True, squeeze=False)
    for ax, sc in zip(axes[0], scen, strict=False):
        g = s[s["scenario"] == sc]
        x = 0
        ticks = []
        for t in TIERS:
            for m in METHODS:
                row = g[(g["tier"] == t) & (g["method"] == m)]
                if row.empty:
                    continue
                c = float(row["coverage"].iloc[0])
                se = float(row["coverage_se"].iloc[0])
                ax.bar(x, 100 * c, color=COLOURS[m], width=0.8)
                ax.errorbar(x, 100 * c, yerr=196 * se, color="black", capsize=2, lw=0.8)
                x += 1
            ticks.append((x - 0.5, t))
            x += 0.7
        ax.axhline(95, color="black", lw=0.8)
        ax.axhline(93, color="grey", lw=0.8, ls="--")
        ax.set_xticks([])
        ax.set_title(sc, fontsize=10)
        ax.spines[["top", "right"]].set_visible(False)
    axes[0][0].set_ylabel("coverage of the 95% intervals (%)")
    axes[0][0].set_ylim(0, 105)
    handles = [Rectangle((0, 0), 1, 1, color=COLOURS[m]) for m in METHODS]
    fig.legend(handles, [METHOD_LABELS[m] for m in METHODS], loc="lower center", ncol=4,
               fontsize=8, frameon=False)
    fig.suptitle("Bars per tier: occasional, regular, very active (left to right); "
                 "solid line 95%, dashed 93%", fontsize=9)
    fig.tight_layout(rect=(0, 0.07, 1, 0.95))
    return _png(fig)


def targets(val: Validation) -> list[dict]:
    """Issue 9's targets for the combined (joint-model) tiers, each with whether it is met.

    Coverage: >= 80% of the replicates when there are fewer than 200, >= 90% with 200
    or more; very active and regular: mean absolute relative error <= 12% and mean
    interval width <= 0.6 x the truth; occasional: width <= 1.2 x; every combined tier's
    RMSE <= 1.1 x the best single method's.
    """
    s = val.summary[val.summary["method"] != "failed"]
    comb = s[s["method"] == "combined"]
    out = []
    if comb.empty:
        return out
    need = 0.90 if val.n_replicates >= 200 else 0.80
    worst = comb.loc[comb["coverage"].idxmin()]
    out.append({"target": f"combined tiers cover the truth in >= {need:.0%} of the replicates",
                "met": bool(comb["coverage"].min() >= need),
                "detail": f"lowest: {worst['scenario']}/{worst['tier']} "
                f"{100 * worst['coverage']:.1f}%"})
    # relative figures are undefined (NaN) where a tier's truth is 0
    relative = comb.dropna(subset=["mean_abs_relative_error", "relative_width"])
    narrow = relative[relative["tier"].isin(["very_active", "regular"])]
    if len(narrow):
        w = narrow.loc[narrow["mean_abs_relative_error"].idxmax()]
        out.append({"target": "very active and regular: mean absolute relative error <= 12%",
                    "met": bool((narrow["mean_abs_relative_error"] <= 0.12).all()),
                    "detail": f"largest: {w['scenario']}/{w['tier']} "
                    f"{100 * w['mean_abs_relative_error']:.1f}%"})
        w = narrow.loc[narrow["relative_width"].idxmax()]
        out.append({"target": "very active and regular: interval width <= 0.6 x the estimate",
                    "met": bool((narrow["relative_width"] <= 0.6).all()),
                    "detail": f"widest: {w['scenario']}/{w['tier']} {w['relative_width']:.2f}"})
    occ = relative[relative["tier"] == "occasional"]
    if len(occ):
        w = occ.loc[occ["relative_width"].idxmax()]
        out.append({"target": "occasional: interval width <= 1.2 x the estimate",
                    "met": bool((occ["relative_width"] <= 1.2).all()),
                    "detail": f"widest: {w['scenario']} {w['relative_width']:.2f}"})
    behind = []
    for (sc, t), g in s.groupby(["scenario", "tier"], sort=False):
        single = g[g["method"].isin(["declared", "audience", "experiment"])]
        c = g[g["method"] == "combined"]
        if single.empty or c.empty:
            continue
        best = single.loc[single["rmse"].idxmin()]
        if float(c["rmse"].iloc[0]) > 1.1 * float(best["rmse"]):
            behind.append(f"{sc}/{t} (combined {float(c['rmse'].iloc[0]):,.0f} vs "
                          f"{best['method']} {float(best['rmse']):,.0f})")
    out.append({"target": "no combined tier's RMSE above 1.1 x the best single method's",
                "met": not behind, "detail": "; ".join(behind) if behind else "met everywhere"})
    return out


def _env() -> Environment:
    env = Environment(loader=PackageLoader("crowdcensus.simulate", "templates"),
                      autoescape=select_autoescape(["html"]))
    env.filters.update(count=_count,
                       pct=lambda x: "-" if x is None or not math.isfinite(x)
                       else f"{100 * x:.1f}%",
                       spct=lambda x: "-" if x is None or not math.isfinite(x)
                       else f"{100 * x:+.1f}%")
    return env


#: Longest stem (in bytes) of a plot's file name: file systems allow 255, and a scenario's
#: name carries every field ``--vary`` gave it.
MAX_PLOT_STEM = 120


def plot_file(name: str) -> str:
    """The file name of plot ``name``: ``plot-NAME.png``, cut where it is long, with a
    digest of the whole name so that names cut alike stay apart.

    >>> plot_file("coverage")
    'plot-coverage.png'
    >>> long = plot_file("errors-" + "x[assumptions.arrival_share_low=0.05]" * 10)
    >>> len(long.encode()), long[-15:]
    (135, '-32fb794720.png')
    """
    stem = f"plot-{name}"
    if len(stem.encode()) <= MAX_PLOT_STEM:
        return f"{stem}.png"
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    cut = stem.encode()[:MAX_PLOT_STEM].decode("utf-8", errors="ignore")
    return f"{cut}-{digest}.png"


def write_validation_report(val: Validation, out: str | Path, command: str = "") -> Path:
    """Write validation.html, summary.csv, replicates.csv, validation.json and plots."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    plots = {"coverage": coverage_plot(val)}
    for sc in val.scenarios:
        plots[f"errors-{sc.scenario.name}"] = error_plot(val, sc.scenario.name)
    for name, png in plots.items():
        (out / plot_file(name)).write_bytes(png)
    val.summary.to_csv(out / "summary.csv", index=False)
    val.replicates.to_csv(out / "replicates.csv", index=False)
    tg = targets(val)
    readings = take_up_readings(val.replicates)
    doc = {"crowdcensus": package_version(), "command": command, "seed": val.seed,
           "replicates": val.n_replicates,
           "scenarios": [sc.model_dump(mode="json") for sc in val.scenarios],
           "summary": json.loads(val.summary.to_json(orient="records")),
           "targets": tg,
           "take_up_readings": readings.to_dict(orient="records"),
           "failed_replicates": int(val.replicates.loc[val.replicates["error"] != "",
                                                       "replicate"].nunique())}
    (out / "validation.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")
    images = {k: "data:image/png;base64," + base64.b64encode(v).decode()
              for k, v in plots.items()}
    summary = val.summary.replace({np.nan: None})
    tables = {sc.scenario.name: summary[summary["scenario"] == sc.scenario.name]
              .to_dict(orient="records") for sc in val.scenarios}
    errors = (val.replicates[val.replicates["error"] != ""]
              .drop_duplicates(["scenario", "replicate"]).head(20).to_dict(orient="records"))
    html = _env().get_template("validation.html").render(
        v=val, tables=tables, images=images, favicon=FAVICON, version=package_version(),
        command=command, targets=tg, tier_labels=TIER_LABELS, method_labels=METHOD_LABELS,
        errors=errors, pd=pd,
        readings={r["scenario"]: r for r in readings.to_dict(orient="records")})
    path = out / "validation.html"
    path.write_text(html, encoding="utf-8")
    return path
