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
    downhill = "downhill"
    bayesthresh = "bayesthresh"
    fixed = "fixed"
    main = "main"


class Prior(StrEnum):
    """``--prior`` of Bayesian thresholding: on the interactions."""

    proper = "proper"
    improper = "improper"


@estimate_app.command("mse")
def estimate_mse(
    file: Path = typer.Argument(..., help="CSV/Parquet: one 0/1 column per list, optional count "
                                "column (- : CSV on standard input)."),
    method: MSEMethod = typer.Option(MSEMethod.stepwise, help="Model selection: forward "
                                     "stepwise, exhaustive BIC, downhill BIC search, Bayesian "
                                     "thresholding, a fixed model, main effects."),
    model: str | None = typer.Option(None, help='Model for --method fixed, e.g. "[12,3]".'),
    pthresh: float = typer.Option(0.02, help="p-value threshold of the stepwise selection."),
    max_order: int | None = typer.Option(
        None, "--max-order",
        help="Highest interaction order: bic (default 1 for 2 lists, 2 for 3, 3 for 4-5, "
             "2 for 6), downhill (default lists - 1), bayesthresh (2 or 3, default 2)."),
    prior: Prior | None = typer.Option(None, help="bayesthresh: N(0, V) (proper, default) or "
                                       "flat (improper) prior on the interactions."),
    prior_variance: float | None = typer.Option(
        None, "--prior-variance", help="bayesthresh: variance V of the proper prior (1)."),
    threshold: float | None = typer.Option(
        None, help="bayesthresh: keep interactions with |posterior mean|/sd >= this (2)."),
    draws: int | None = typer.Option(None, help="bayesthresh: posterior draws per fit (20000)."),
    bootstrap: int = typer.Option(0, help="Number of BCa bootstrap replicates (0 = none)."),
    level: float = typer.Option(0.95, "--level",
                                help="Level of the interval (bootstrap or posterior)."),
    seed: int | None = typer.Option(None, help="Random seed of the bootstrap, or of the "
                                    "posterior sampler (bayesthresh; default 1)."),
    workers: int | None = typer.Option(None, help="Local worker processes for the bootstrap "
                                       "and the BIC search (default: all CPUs)."),
    dask_scheduler: str | None = typer.Option(None, "--dask-scheduler",
                                              help="Run the bootstrap on this Dask scheduler."),
    freq: str | None = typer.Option(None, help="Name of the count column."),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", help="Output format."),
    plot: Path | None = typer.Option(None, help="Write the model ranking figure (.png/.svg/.pdf)."),
) -> None:
    """Population size from overlapping lists, with model selection and an interval."""
    if bootstrap < 0:
        raise InputError("--bootstrap must be 0 or a positive number of replicates")
    if not 0 < level < 1:
        raise InputError(f"--level must lie strictly between 0 and 1 (got {level})")
    bayes = {"--prior": prior, "--prior-variance": prior_variance, "--threshold": threshold,
             "--draws": draws}
    if method is not MSEMethod.bayesthresh:
        for name, value in bayes.items():
            if value is not None:
                raise InputError(f"{name} is only used with --method bayesthresh")
    elif prior is Prior.improper and prior_variance is not None:
        raise InputError("--prior-variance only applies to --prior proper")
    elif bootstrap:
        raise InputError("--bootstrap does not apply to --method bayesthresh (its interval "
                         "comes from the posterior)")
    if plot is not None:
        from crowdcensus.plotting import check_plot_path

        check_plot_path(plot)
    from crowdcensus.capture.mse.bayesthresh import DEFAULT_DRAWS
    from crowdcensus.capture.mse.model import MultipleSystemsModel
    from crowdcensus.capture.readers import read_histories

    histories = read_histories(file, freq=freq)
    est = MultipleSystemsModel(
        method.value, model, pthresh, max_order, n_boot=bootstrap, seed=seed, level=level,
        workers=workers, scheduler=dask_scheduler,
        prior=(prior or Prior.proper).value,
        prior_variance=1.0 if prior_variance is None else prior_variance,
        threshold=2.0 if threshold is None else threshold,
        n_draws=DEFAULT_DRAWS if draws is None else draws,
    ).fit(histories)
    if plot is not None:
        from crowdcensus.capture.mse.plots import plot_mse

        plot_mse(est, plot)
    if format is OutputFormat.json:
        typer.echo(json.dumps(est.to_dict(), indent=2))
    else:
        typer.echo(est.to_text())
