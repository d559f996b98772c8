"""``crowdcensus estimate closed FILE``: the closed-population model table."""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer

from crowdcensus.capture.bias_corrected import BiasCorrectedEstimate, bias_corrected_estimates
from crowdcensus.capture.closed import ClosedModelTable, fit_closed_models
from crowdcensus.capture.closed_forms import closed_form_estimates
from crowdcensus.capture.histories import CaptureFrequencies, CaptureHistories
from crowdcensus.capture.readers import parse_t, read_events, read_frequencies, read_histories
from crowdcensus.commands.apps import estimate_app
from crowdcensus.errors import InputError


def load_capture_data(
    file: Path,
    freq: str | None,
    nbcap: bool,
    t: str | None,
    events: bool,
    id_column: str,
    occasion_column: str,
) -> CaptureHistories | CaptureFrequencies:
    """Read any of the three capture-data shapes the CLI accepts."""
    if nbcap and events:
        raise InputError("--nbcap and --events cannot be combined")
    if nbcap:
        return read_frequencies(file, parse_t(t), freq=freq)
    if t is not None:
        raise InputError("--t only applies to frequency-of-capture data (--nbcap)")
    if events:
        return read_events(file, id_column, occasion_column)
    return read_histories(file, freq=freq)


def _fmt(x: float | None, digits: int = 1) -> str:
    if x is None or not math.isfinite(x):
        return "\u2014"  # em dash: no figure
    return f"{x:,.{digits}f}"


def render_table(table: ClosedModelTable, data, with_ci: bool) -> str:
    """Plain-text model table, one line per model."""
    kind = (
        f"{data.t} occasions" if isinstance(data, CaptureHistories)
        else f"frequencies of capture, t = {'inf' if data.t == math.inf else data.t}"
    )
    lines = [f"Number of captured units: {table.n_captured:,} ({kind})"]
    added = table.models[0].interactions_ if table.models else []
    if added:
        lines.append(f"Interactions added to every model: {', '.join(added)}")
    lines.append("")
    head = f"{'model':<16}{'abundance':>12}{'stderr':>10}{'deviance':>11}{'df':>7}" \
           f"{'AIC':>11}{'BIC':>11}"
    if with_ci:
        head += f"{'CI abund.':>11}{'95% CI':>22}"
    lines.append(head + "  status")
    for m in table.models:
        unb = m.status_ == "unbounded"
        row = (f"{m.name_:<16}{'unbounded' if unb else _fmt(m.abundance_):>12}"
               f"{_fmt(m.stderr_):>10}{_fmt(m.deviance_, 3):>11}{m.df_:>7}"
               f"{_fmt(m.aic_, 3):>11}{_fmt(m.bic_, 3):>11}")
        if with_ci:
            lo, hi = m.confidence_interval_ or (None, None)
            ci = "--" if lo is None else f"[{_fmt(lo)}, {_fmt(hi) if hi != math.inf else 'inf'}]"
            row += f"{_fmt(m.ci_abundance_):>11}{ci:>22}"
        lines.append(row + f"  {m.status_}")
    notes = [f"{m.name_}: {m.ci_status_}" for m in table.models
             if with_ci and m.ci_status_ not in (None, "ok")]
    for name, why in table.skipped.items():
        notes.append(f"{name} not fitted: {why}")
    statuses = [m.status_ for m in table.models]
    if "unbounded" in statuses:
        notes.append("unbounded: the data cannot bound the population under that model "
                     "(too few recaptures); no finite estimate is given.")
    if any(s.startswith("degenerate") for s in statuses):
        notes.append("degenerate: the fitted rates of some empty cells went to 0 and took the "
                     "unseen individuals with them (Rcapture: 'fitted rates numerically 0'); "
                     "N = n is a limit, not an estimate, and has no standard error.")
    _, left_out = table.usable()
    for name, why in left_out.items():
        if why.startswith("same fit as"):
            notes.append(f"{name} is the {why}: it counts once "
                         "when models are compared or averaged.")
    if any(s == "not converged" or s.startswith("failed") for s in statuses):
        notes.append("not converged / failed: the fit gave no valid figures; none is shown.")
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)


def render_bias_corrected(estimates: list[BiasCorrectedEstimate]) -> str:
    """Plain-text table of the bias-corrected estimates."""
    lines = ["Bias-corrected estimates (Rcapture's closedp.bc, for sparse data):",
             f"{'model':<16}{'abundance':>12}{'stderr':>10}  status"]
    for est in estimates:
        value = "unbounded" if est.abundance == math.inf else _fmt(est.abundance)
        lines.append(f"{est.model:<16}{value:>12}{_fmt(est.stderr):>10}  {est.status}")
    return "\n".join(lines)


@estimate_app.command("closed")
def estimate_closed(
    file: Path = typer.Argument(..., help="CSV or Parquet capture data."),
    model: list[str] | None = typer.Option(
        None, "--model", "-m", help="Only this model (Rcapture name, e.g. 'Mh Chao (LB)'); "
        "repeat for several."),
    interactions: str | None = typer.Option(
        None, "--interactions", help="Interactions between occasions added to the model(s), "
        "e.g. c1:c2,c3:c4."),
    ci: str | None = typer.Option(
        None, "--ci", help="'profile': 95%% profile-likelihood interval of the abundance."),
    level: float = typer.Option(0.95, "--level", help="Confidence level of --ci."),
    freq: str | None = typer.Option(
        None, "--freq", help="Count column (default: freq, count, n or frequency if present)."),
    nbcap: bool = typer.Option(
        False, "--nbcap", help="Frequency-of-capture data: columns nbcap,freq (needs --t)."),
    t: str | None = typer.Option(
        None, "--t", help="Number of occasions for --nbcap data, or 'inf' (continuous time)."),
    events: bool = typer.Option(
        False, "--events", help="FILE is an event log: one row per individual and occasion."),
    id_column: str = typer.Option("worker", "--id", help="Event log: the individual column."),
    occasion_column: str = typer.Option(
        "wave", "--occasion", help="Event log: the occasion column."),
    fmt: str = typer.Option("text", "--format", help="text or json."),
    plot: Path | None = typer.Option(
        None, "--plot", help="Write a PNG of observed vs fitted frequencies for the "
        "best model (lowest AIC)."),
    descriptive: bool = typer.Option(
        False, "--descriptive", help="Also print fi, ui, vi, ni."),
    bias_corrected: bool = typer.Option(
        False, "--bias-corrected", help="Also give the bias-corrected estimates for sparse "
        "data (Rcapture's closedp.bc)."),
) -> None:
    """Fit the closed-population models (Rcapture's closedp) and print the model table."""
    if fmt not in ("text", "json"):
        raise InputError(f"--format must be text or json (got {fmt!r})")
    if ci not in (None, "profile"):
        raise InputError(f"--ci must be 'profile' (got {ci!r})")
    if not 0 < level < 1:
        raise InputError(f"--level must be between 0 and 1 (got {level})")
    if bias_corrected and interactions:
        raise InputError("--bias-corrected cannot be combined with --interactions "
                         "(Rcapture's closedp.bc has no interactions)")
    data = load_capture_data(file, freq, nbcap, t, events, id_column, occasion_column)
    table = fit_closed_models(data, models=model, interactions=interactions, ci=ci,
                              conf_level=level)
    forms = closed_form_estimates(data, level)
    corrected = bias_corrected_estimates(data, model) if bias_corrected else None
    if fmt == "json":
        out = table.to_dict()
        out["closed_forms"] = [{**est.to_dict(), "level": level} for est in forms]
        if corrected is not None:
            out["bias_corrected"] = [est.to_dict() for est in corrected]
        typer.echo(json.dumps(out, indent=2))
    else:
        typer.echo(render_table(table, data, ci == "profile"))
        if corrected is not None:
            typer.echo("")
            typer.echo(render_bias_corrected(corrected))
        typer.echo("")
        typer.echo("Closed forms:")
        for est in forms:
            bounds = f"[{_fmt(est.ci_low)}, {_fmt(est.ci_high)}]"
            extra = "" if est.status == "ok" else f"  ({est.status})"
            value = "unbounded" if not math.isfinite(est.abundance) else _fmt(est.abundance)
            typer.echo(f"  {est.estimator:<18}{value:>12}  SE {_fmt(est.stderr)}  "
                       f"{int(level * 100)}% CI {bounds}{extra}")
        if descriptive and isinstance(data, CaptureHistories):
            typer.echo("")
            typer.echo(data.descriptive().to_string())
    if plot is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        ax = table.best().plot()
        ax.figure.tight_layout()
        ax.figure.savefig(plot, dpi=110)
        plt.close(ax.figure)
