"""``crowdcensus estimate closed FILE``: the closed-population model table."""

from __future__ import annotations

import json
import math
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from crowdcensus.commands.apps import OutputFormat, estimate_app
from crowdcensus.errors import InputError

if TYPE_CHECKING:
    from crowdcensus.capture.closed.model import ClosedModelTable
    from crowdcensus.capture.histories import CaptureFrequencies, CaptureHistories


class Interval(StrEnum):
    """``--ci``: how the abundance's interval is computed."""

    profile = "profile"


def load_capture_data(
    file: Path,
    freq: str | None,
    nbcap: bool,
    t: str | None,
    events: bool,
    id_column: str,
    occasion_column: str,
) -> CaptureHistories | CaptureFrequencies:
    """Read any of the three capture-data shapes the CLI accepts (``-``: standard input)."""
    from crowdcensus.capture.readers import parse_t, read_events, read_frequencies, read_histories

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
    from crowdcensus.capture.histories import CaptureHistories

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
        level = table.models[0].level if table.models else 0.95
        head += f"{'CI abund.':>11}{f'{level:.0%} CI':>22}"
    lines.append(head + "  status")
    for m in table.models:
        unb = m.status_ == "unbounded"
        row = (f"{m.name_:<16}{'unbounded' if unb else _fmt(m.abundance_):>12}"
               f"{_fmt(m.stderr_):>10}{_fmt(m.deviance_, 3):>11}{m.df_:>7}"
               f"{_fmt(m.aic_, 3):>11}{_fmt(m.bic_, 3):>11}")
        if with_ci:
            lo, hi = m.confidence_interval_ or (None, None)
            top = "inf" if hi == math.inf else _fmt(hi)
            ci = "\u2014" if lo is None else f"[{_fmt(lo)}, {top}]"
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


def render_bias_corrected(estimates: list) -> str:
    """Plain-text table of the bias-corrected estimates."""
    lines = ["Bias-corrected estimates (Rcapture's closedp.bc, for sparse data):",
             f"{'model':<16}{'abundance':>12}{'stderr':>10}  status"]
    for est in estimates:
        value = "unbounded" if est.abundance == math.inf else _fmt(est.abundance)
        lines.append(f"{est.model:<16}{value:>12}{_fmt(est.stderr):>10}  {est.status}")
    return "\n".join(lines)


@estimate_app.command("closed")
def estimate_closed(
    file: Path = typer.Argument(..., help="CSV or Parquet capture data (- : CSV on "
                                "standard input)."),
    model: list[str] | None = typer.Option(
        None, "--model", "-m", help="Only this model (Rcapture name, e.g. 'Mh Chao (LB)'); "
        "repeat for several."),
    interactions: str | None = typer.Option(
        None, "--interactions", help="Interactions between occasions added to the model(s), "
        "e.g. c1:c2,c3:c4."),
    ci: Interval | None = typer.Option(
        None, "--ci", help="profile: add the profile-likelihood interval of the abundance "
        "(at --level) to each model."),
    level: float = typer.Option(0.95, "--level", help="Confidence level of --ci and of the "
                                "closed forms' intervals."),
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
    fmt: OutputFormat = typer.Option(OutputFormat.text, "--format", help="Output format."),
    plot: Path | None = typer.Option(
        None, "--plot", help="Write observed vs fitted frequencies of the best model "
        "(lowest AIC) to a .png, .svg or .pdf file."),
    descriptive: bool = typer.Option(
        False, "--descriptive", help="Also print fi, ui, vi, ni."),
    bias_corrected: bool = typer.Option(
        False, "--bias-corrected", help="Also give the bias-corrected estimates for sparse "
        "data (Rcapture's closedp.bc)."),
    covariates: str | None = typer.Option(
        None, "--covariates", help="Individual covariate columns, e.g. sex,weight: Huggins' "
        "conditional likelihood (models M0, Mt, Mb); the other 0/1 columns are the occasions."),
) -> None:
    """Fit the closed-population models (Rcapture's closedp) and print the model table."""
    if not 0 < level < 1:
        raise InputError(f"--level must be between 0 and 1 (got {level})")
    if plot is not None:
        from crowdcensus.plotting import check_plot_path

        check_plot_path(plot)
    if covariates is not None:
        from crowdcensus.commands.closed_covariates import check_options, run_huggins

        check_options(nbcap=nbcap, t=t, events=events, interactions=interactions, ci=ci,
                      descriptive=descriptive, **{"bias-corrected": bias_corrected})
        run_huggins(file, covariates, model, freq, level, fmt.value, plot)
        return
    if bias_corrected and interactions:
        raise InputError("--bias-corrected cannot be combined with --interactions "
                         "(Rcapture's closedp.bc has no interactions)")
    data = load_capture_data(file, freq, nbcap, t, events, id_column, occasion_column)
    from crowdcensus.capture.closed.forms import closed_form_estimates
    from crowdcensus.capture.closed.model import fit_closed_models
    from crowdcensus.capture.histories import CaptureHistories

    ci_name = None if ci is None else ci.value
    table = fit_closed_models(data, models=model, interactions=interactions, ci=ci_name,
                              level=level)
    forms = closed_form_estimates(data, level)
    corrected = None
    if bias_corrected:
        from crowdcensus.capture.closed.bias_corrected import bias_corrected_estimates

        corrected = bias_corrected_estimates(data, model)
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(table.to_dict(bias_corrected=corrected), indent=2))
    else:
        typer.echo(render_table(table, data, ci_name == "profile"))
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
        from crowdcensus.plotting import file_figure, save_figure

        fig = file_figure((6, 4))
        table.best().plot(fig.subplots())
        fig.tight_layout()
        save_figure(fig, plot)
