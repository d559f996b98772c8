"""``crowdcensus estimate mse``: multiple systems estimation across lists."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import typer

from crowdcensus.commands.apps import OutputFormat, estimate_app
from crowdcensus.errors import InputError


class MSEMethod(StrEnum):
    """``--method``: how the log-linear model is chosen (see MultipleSystemsModel)."""

    stepwise = "stepwise"
    bic = "bic"
    fixed = "fixed"
    main = "main"


@estimate_app.command("mse")
def estimate_mse(
    file: Path = typer.Argument(..., help="CSV/Parquet: one 0/1 column per list, optional count "
                                "column (- : CSV on standard input)."),
    method: MSEMethod = typer.Option(MSEMethod.stepwise, help="Model selection: forward "
                                     "stepwise, exhaustive BIC, a fixed model, main effects."),
    model: str | None = typer.Option(None, help='Model for --method fixed, e.g. "[12,3]".'),
    pthresh: float = typer.Option(0.02, help="p-value threshold of the stepwise selection."),
    max_order: int | None = typer.Option(None, "--max-order",
                                         help="Highest interaction order in the BIC search."),
    bootstrap: int = typer.Option(0, help="Number of BCa bootstrap replicates (0 = none)."),
    level: float = typer.Option(0.95, "--level", help="Level of the bootstrap interval."),
    seed: int | None = typer.Option(None, help="Random seed of the bootstrap."),
    workers: int | None = typer.Option(None, help="Local worker processes (default: all CPUs)."),
    dask_scheduler: str | None = typer.Option(None, "--dask-scheduler",
                                              help="Run the bootstrap on this Dask scheduler."),
    freq: str | None = typer.Option(None, help="Name of the count column."),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", help="Output format."),
    plot: Path | None = typer.Option(None, help="Write the model ranking figure (.png/.svg/.pdf)."),
) -> None:
    """Population size from overlapping lists, with model selection and a BCa interval."""
    if bootstrap < 0:
        raise InputError("--bootstrap must be 0 or a positive number of replicates")
    if not 0 < level < 1:
        raise InputError(f"--level must lie strictly between 0 and 1 (got {level})")
    if plot is not None:
        from crowdcensus.plotting import check_plot_path

        check_plot_path(plot)
    from crowdcensus.capture.mse.model import MultipleSystemsModel
    from crowdcensus.capture.readers import read_histories

    histories = read_histories(file, freq=freq)
    est = MultipleSystemsModel(method.value, model, pthresh, max_order, n_boot=bootstrap,
                               seed=seed, level=level, workers=workers,
                               scheduler=dask_scheduler).fit(histories)
    if plot is not None:
        from crowdcensus.capture.mse.plots import plot_mse

        plot_mse(est, plot)
    if format is OutputFormat.json:
        typer.echo(json.dumps(est.to_dict(), indent=2))
    else:
        typer.echo(est.to_text())
