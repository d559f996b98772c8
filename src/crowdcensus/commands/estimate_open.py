"""``crowdcensus estimate open``: Jolly-Seber open-population model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from crowdcensus.commands.apps import OutputFormat, estimate_app
from crowdcensus.errors import InputError

if TYPE_CHECKING:
    from crowdcensus.capture.open.model import OpenPopulationModel


def _fmt(x: float | None, digits: int) -> str:
    return "--" if x is None else f"{x:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Lines of a table: the first column left-aligned, the others right-aligned, each as
    wide as its widest entry (a standard error in the millions keeps its own column)."""
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]
    return [f"{r[0]:<{widths[0] + 1}}" + "".join(f"{x:>{w + 2}}" for x, w in
                                                zip(r[1:], widths[1:])) for r in [header, *rows]]


def open_text(model: OpenPopulationModel, d: dict) -> str:
    """Rcapture-like printout of an open-population fit."""
    lines = ["Model fit:", f"  deviance {d['deviance']:.3f}  df {d['df']}  AIC {d['aic']:.3f}",
             "", "Test for trap effect:"]
    for f in d["trap_effect"]:
        lines.append(f"  {f['model']:<36} deviance {f['deviance']:8.3f}  df {f['df']:3d}  "
                     f"AIC {f['aic']:.3f}")
    periods = [[f"{p['period']:<3}{str(p['name'])[:10]}",
                _fmt(p["capture_prob"], 4), _fmt(p["capture_prob_se"], 4),
                _fmt(p["abundance"], 1), _fmt(p["abundance_se"], 1)] for p in d["periods"]]
    lines += [""] + _table(["period", "capture p", "se", "abundance", "se"], periods)
    intervals = [[f"{i['from']} -> {i['to']}", _fmt(i["survival"], 4), _fmt(i["survival_se"], 4),
                  _fmt(i["arrivals"], 1), _fmt(i["arrivals_se"], 1)] for i in d["intervals"]]
    lines += [""] + _table(["interval", "survival", "se", "arrivals", "se"], intervals)
    tot = d["total"]
    if tot["estimate"] is None:
        lines += ["", "Total ever present: not determined by these data (the formula gives "
                  f"fewer than the {d['n_captured']} captured)"]
    else:
        lines += ["", f"Total ever present: {_fmt(tot['estimate'], 1)} "
                  f"(se {_fmt(tot['stderr'], 1)}); captured: {d['n_captured']}"]
    hl = d["half_life"]
    if hl.get("estimate") is None:
        lines.append("Half-life: not defined (mean survival is 1)")
    else:
        hi = "unbounded" if hl["high"] is None else f"{hl['high']:.2f}"
        lines.append(f"Half-life: {hl['estimate']:.2f} periods "
                     f"({hl['level']:.0%} interval {_fmt(hl['low'], 2)} - {hi}); geometric mean "
                     f"survival {hl['phi_bar']:.4f}")
    if d["zeroed_parameters"]:
        lines.append("Parameters set to zero (negative estimates): "
                     + ", ".join(d["zeroed_parameters"]))
    return "\n".join(lines)


@estimate_app.command("open")
def estimate_open(
    file: Path = typer.Argument(..., help="CSV/Parquet: one 0/1 column per period (optional "
                                "count column), or an event log with --worker (- : CSV on "
                                "standard input)."),
    freq: str | None = typer.Option(None, help="Name of the count column."),
    worker: str | None = typer.Option(
        None, help="Event log: column of (hashed) worker identifiers."),
    time: str | None = typer.Option(None, help="Event log: timestamp column."),
    wave: str | None = typer.Option(None, help="Event log: wave/period column."),
    period: str = typer.Option("month", help="With --time: day, week, month, quarter, year "
                               "or a length such as 14D."),
    level: float = typer.Option(0.95, help="Level of the intervals (total, half-life)."),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", help="Output format."),
    plot: Path | None = typer.Option(
        None, help="Write abundance/arrivals/survival (.png/.svg/.pdf)."),
) -> None:
    """Arrivals, survival, abundance and half-life over periods (Jolly-Seber)."""
    if not 0 < level < 1:
        raise InputError("--level must lie strictly between 0 and 1")
    if plot is not None:
        from crowdcensus.plotting import check_plot_path

        check_plot_path(plot)
    from crowdcensus.capture.open.model import OpenPopulationModel
    from crowdcensus.capture.periods import histories_from_events
    from crowdcensus.capture.readers import read_histories
    from crowdcensus.tables import read_table

    if worker is not None:
        histories = histories_from_events(read_table(file), worker, time=time, wave=wave,
                                          period=period)
    else:
        if time is not None or wave is not None:
            raise InputError("--time/--wave read an event log: give --worker too")
        histories = read_histories(file, freq=freq)
    model = OpenPopulationModel(level=level).fit(histories)
    if plot is not None:
        from crowdcensus.capture.open.plots import plot_open

        plot_open(model, plot)
    d = model.to_dict()
    if format is OutputFormat.json:
        typer.echo(json.dumps(d, indent=2))
    else:
        typer.echo(open_text(model, d))
