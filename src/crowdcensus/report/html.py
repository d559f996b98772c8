"""Rendering the HTML report (Jinja2) with the plots embedded as base64 PNG."""

from __future__ import annotations

import base64
import math
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from crowdcensus.errors import InputError
from crowdcensus.methods.montecarlo import METHOD_LABELS
from crowdcensus.report.outputs import package_version, write_outputs
from crowdcensus.report.plots import methods_plot, tiers_plot, tornado_plot
from crowdcensus.synthesis.inference import TARGET_ACCEPT
from crowdcensus.synthesis.model import HETEROGENEITY_NODES, WIDE_HETEROGENEITY
from crowdcensus.synthesis.results import Results
from crowdcensus.synthesis.sensitivity import MIN_ESS_SHARE
from crowdcensus.tiers import BAND_LABELS, BANDS, TIER_LABELS, TIERS

#: A tiny favicon (an SVG data URL) so that browsers do not request /favicon.ico.
FAVICON = (
    "data:image/svg+xml;base64,"
    + base64.b64encode(
        b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
        b'<circle cx="8" cy="8" r="7" fill="#9ecae1"/><circle cx="8" cy="8" r="4.5" '
        b'fill="#4292c6"/><circle cx="8" cy="8" r="2" fill="#08519c"/></svg>'
    ).decode()
)


def _count(x: float) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x:,.0f}"


def _rounded(x: float) -> str:
    """Three significant figures, for interval ends (more would be false precision)."""
    if x is None or not math.isfinite(x):
        return "-"
    if abs(x) < 1000:
        return f"{x:,.0f}"
    digits = int(math.floor(math.log10(abs(x)))) - 2
    return f"{round(x, -digits):,.0f}"


def _checked(x: float, label: str, ends: bool = False) -> str:
    """A predictive check's figure: a mean with two decimals, a count as a count (an
    interval's ends, ``ends``, to three significant figures)."""
    from crowdcensus.synthesis.summary import is_mean_check

    if is_mean_check(label) and x is not None and math.isfinite(x):
        return f"{x:,.2f}"
    return _rounded(x) if ends else _count(x)


def _number(x: float) -> str:
    if x is None or not math.isfinite(x):
        return "\u2014"  # em dash: no figure (a failed or degenerate fit)
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.4g}"


def _fixed(x: float, digits: int = 2) -> str:
    if x is None or not math.isfinite(x):
        return "\u2014"
    return f"{x:.{digits}f}"


def _run_ons(reasons: list[str]) -> str:
    """Why NUTS's chains ran on (``diagnostics["ran_on"]``), in short: each reason without
    its parenthesis, repeats counted, in order.

    >>> _run_ons(["R-hat above 1.05 (worst: x)", "error above 5% (a)", "error above 5% (b)"])
    'R-hat above 1.05, then error above 5% (twice)'
    """
    groups: list[list] = []
    for reason in reasons:
        short = reason.split(" (")[0]
        if groups and groups[-1][0] == short:
            groups[-1][1] += 1
        else:
            groups.append([short, 1])
    times = {1: "", 2: " (twice)"}
    return ", then ".join(f"{r}{times.get(n, f' ({n} times)')}" for r, n in groups)


#: The assumptions shown per tier in the report's table of prior sensitivity.
SENSITIVITY_ROWS = 3


def _signed_pct(x: float) -> str:
    """A relative change with its sign, and none on a change that rounds to 0."""
    if x is None or not math.isfinite(x):
        return "\u2014"
    shown = f"{100 * x:+.1f}%"
    return shown[1:] if shown[1:] == "0.0%" else shown


def _env() -> Environment:
    env = Environment(loader=PackageLoader("crowdcensus.report", "templates"),
                      autoescape=select_autoescape(["html"]))
    env.filters.update(count=_count, checked=_checked, rounded=_rounded, number=_number,
                       fixed=_fixed,
                       pct=lambda x: f"{100 * x:.1f}%", signed_pct=_signed_pct,
                       run_ons=_run_ons)
    env.globals.update(heterogeneity_nodes=HETEROGENEITY_NODES,
                       wide_heterogeneity=WIDE_HETEROGENEITY,
                       sensitivity_rows=SENSITIVITY_ROWS, min_ess_share=MIN_ESS_SHARE,
                       target_accept=TARGET_ACCEPT)
    return env


def render_html(results: Results, plots: dict[str, bytes], command: str = "") -> str:
    """The report as one HTML string (inline CSS, plots as data: URLs)."""
    images = {k: "data:image/png;base64," + base64.b64encode(v).decode()
              for k, v in plots.items()}
    sens = results.sensitivity
    top = {t: sens[sens["tier"] == t].head(5).to_dict(orient="records") for t in TIERS}
    return _env().get_template("report.html").render(
        r=results, s=results.study, images=images, favicon=FAVICON, top=top,
        tiers=[t for t in TIERS if t in results.combined or t in results.baseline],
        bands=BANDS,
        tier_labels=TIER_LABELS, band_labels=BAND_LABELS, method_labels=METHOD_LABELS,
        version=package_version(), command=command,
        source_ids={src.id for src in results.study.sources},
        capture_interval=(results.capture.interval(results.level)
                          if results.capture is not None else None),
    )


def write_report(results: Results, out: str | Path, command: str = "") -> Path:
    """Write report.html, the plots as PNG, results.json and the CSV tables into ``out``.

    Returns the path of report.html.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    plots = {"tiers": tiers_plot(results), "methods": methods_plot(results)}
    if len(results.sensitivity):
        plots["sensitivity"] = tornado_plot(results)
    for name, png in plots.items():
        (out / f"plot-{name}.png").write_bytes(png)
    write_outputs(results, out)
    html = out / "report.html"
    html.write_text(render_html(results, plots, command), encoding="utf-8")
    return html
