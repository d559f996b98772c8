"""``crowdcensus estimate mse``: multiple systems estimation across lists."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from crowdcensus.capture.mse.model import METHODS, MultipleSystemsModel
from crowdcensus.capture.readers import read_histories
from crowdcensus.commands.apps import estimate_app
from crowdcensus.errors import InputError


@estimate_app.command("mse")
def estimate_mse(
    file: Path = typer.Argument(..., help="CSV/Parquet: one 0/1 column per list, optional count "
                                "column."),
    method: str = typer.Option("stepwise", help="stepwise, bic, fixed or main."),
    model: str | None = typer.Option(None, help='Model for --method fixed, e.g. "[12,3]".'),
    pthresh: float = typer.Option(0.02, help="p-value threshold of the stepwise selection."),
    max_order: int | None = typer.Option(None, "--max-order",
                                  help="Highest interaction order in the BIC search."),
    bootstrap: int = typer.Option(0, help="Number of BCa bootstrap replicates (0 = none)."),
    seed: int | None = typer.Option(None, help="Random seed of the bootstrap."),
    workers: int | None = typer.Option(None, help="Local worker processes (default: all CPUs)."),
    dask_scheduler: str | None = typer.Option(None, "--dask-scheduler",
                                       help="Run the bootstrap on this Dask scheduler."),
    freq: str | None = typer.Option(None, help="Name of the count column."),
    format: str = typer.Option("text", "--format", help="text or json."),
    plot: Path | None = typer.Option(None, help="Write the model ranking figure (.png/.svg/.pdf)."),
) -> None:
    """Population size from overlapping lists, with model selection and a BCa interval."""
    if format not in ("text", "json"):
        raise InputError(f"--format must be text or json (got {format!r})")
    if method not in METHODS:
        raise InputError(f"--method must be one of {', '.join(METHODS)} (got {method!r})")
    if bootstrap < 0:
        raise InputError("--bootstrap must be 0 or a positive number of replicates")
    if plot is not None:
        from crowdcensus.plotting import check_plot_path

        check_plot_path(plot)
    histories = read_histories(file, freq=freq)
    est = MultipleSystemsModel(method, model, pthresh, max_order).fit(histories)
    if bootstrap:
        est.bootstrap(bootstrap, seed=seed, workers=workers, scheduler=dask_scheduler)
    if plot is not None:
        from crowdcensus.capture.mse.plots import plot_mse

        plot_mse(est, plot)
    if format == "json":
        typer.echo(json.dumps(est.to_dict(), indent=2))
    else:
        typer.echo(est.to_text())
