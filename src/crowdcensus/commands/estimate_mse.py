"""``crowdcensus estimate mse``: multiple systems estimation across lists."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from crowdcensus.capture.mse_estimate import METHODS, MultipleSystemsModel
from crowdcensus.capture.readers import read_histories
from crowdcensus.commands.apps import estimate_app
from crowdcensus.errors import InputError

_BAYES_ONLY = ("--prior", "--prior-variance", "--threshold", "--draws")


@estimate_app.command("mse")
def estimate_mse(
    file: Path = typer.Argument(..., help="CSV/Parquet: one 0/1 column per list, optional count "
                                "column."),
    method: str = typer.Option("stepwise", help="stepwise, bic, downhill, bayesthresh, fixed "
                               "or main."),
    model: str | None = typer.Option(None, help='Model for --method fixed, e.g. "[12,3]".'),
    pthresh: float = typer.Option(0.02, help="p-value threshold of the stepwise selection."),
    max_order: int | None = typer.Option(
        None, "--max-order",
        help="Highest interaction order: bic (default 1 for 2 lists, 2 for 3, 3 for 4-5, "
             "2 for 6), downhill (default lists - 1), bayesthresh (2 or 3, default 2)."),
    prior: str | None = typer.Option(None, help="bayesthresh: proper (N(0, V) on "
                                     "interactions, default) or improper (flat)."),
    prior_variance: float | None = typer.Option(
        None, "--prior-variance", help="bayesthresh: variance V of the proper prior (1)."),
    threshold: float | None = typer.Option(
        None, help="bayesthresh: keep interactions with |posterior mean|/sd >= this (2)."),
    draws: int | None = typer.Option(None, help="bayesthresh: posterior draws (20000)."),
    level: float = typer.Option(0.95, help="Level of the interval (bootstrap or posterior)."),
    bootstrap: int = typer.Option(0, help="Number of BCa bootstrap replicates (0 = none)."),
    seed: int | None = typer.Option(None, help="Random seed of the bootstrap or of the "
                                    "posterior sampler (bayesthresh default: 1)."),
    workers: int | None = typer.Option(None, help="Local worker processes (default: all CPUs)."),
    dask_scheduler: str | None = typer.Option(None, "--dask-scheduler",
                                       help="Run the bootstrap on this Dask scheduler."),
    freq: str | None = typer.Option(None, help="Name of the count column."),
    format: str = typer.Option("text", "--format", help="text or json."),
    plot: Path | None = typer.Option(None, help="Write the model ranking figure (.png/.svg/.pdf)."),
) -> None:
    """Population size from overlapping lists, with model selection and an interval."""
    if format not in ("text", "json"):
        raise InputError(f"--format must be text or json (got {format!r})")
    if method not in METHODS:
        raise InputError(f"--method must be one of {', '.join(METHODS)} (got {method!r})")
    if bootstrap < 0:
        raise InputError("--bootstrap must be 0 or a positive number of replicates")
    if not 0 < level < 1:
        raise InputError(f"--level must lie strictly between 0 and 1 (got {level})")
    bayes_options = (prior, prior_variance, threshold, draws)
    if method != "bayesthresh":
        for name, value in zip(_BAYES_ONLY, bayes_options, strict=True):
            if value is not None:
                raise InputError(f"{name} is only used with --method bayesthresh")
    elif prior == "improper" and prior_variance is not None:
        raise InputError("--prior-variance only applies to --prior proper")
    elif bootstrap:
        raise InputError("--bootstrap does not apply to --method bayesthresh (its interval "
                         "comes from the posterior)")
    if plot is not None:
        from crowdcensus.capture.mse_open_plots import check_plot_path

        check_plot_path(plot)
    histories = read_histories(file, freq=freq)
    from crowdcensus.capture.bootstrap import default_workers
    from crowdcensus.capture.mse_bayesthresh import DEFAULT_DRAWS, DEFAULT_SEED

    est = MultipleSystemsModel(
        method, model, pthresh, max_order,
        prior=prior or "proper",
        prior_variance=1.0 if prior_variance is None else prior_variance,
        threshold=2.0 if threshold is None else threshold,
        seed=DEFAULT_SEED if seed is None else seed,
        level=level,
        n_draws=DEFAULT_DRAWS if draws is None else draws,
        workers=default_workers() if workers is None else max(1, workers),
    ).fit(histories)
    if bootstrap:
        est.bootstrap(bootstrap, seed=seed, workers=workers, scheduler=dask_scheduler)
    if plot is not None:
        from crowdcensus.capture.mse_open_plots import plot_mse

        plot_mse(est, plot)
    if format == "json":
        typer.echo(json.dumps(est.to_dict(), indent=2))
    else:
        typer.echo(est.to_text())
