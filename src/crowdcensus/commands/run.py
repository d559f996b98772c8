"""``crowdcensus run STUDY.toml --out DIR``: every method, the joint model and the report."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path

import typer

from crowdcensus.commands.apps import app, check_out_dir
from crowdcensus.errors import InputError


class Inference(StrEnum):
    """How the joint model is fitted (docs/synthesis.md)."""

    nuts = "nuts"
    laplace = "laplace"


def run_to_report(study: Path, out: Path, seed: int | None, draws: int | None,
                  command: str = "", inference: str | None = None) -> Path:
    """Run a study file and write its report; return the path of report.html."""
    from crowdcensus.pipeline import run_study
    from crowdcensus.report import write_report
    from crowdcensus.study import MAX_DRAWS, MAX_SEED, MIN_DRAWS

    if draws is not None and not MIN_DRAWS <= draws <= MAX_DRAWS:
        raise InputError(f"--draws must lie between {MIN_DRAWS} and {MAX_DRAWS:,} "
                         f"(got {draws})")
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise InputError(f"--seed must lie between 0 and {MAX_SEED} (got {seed})")
    check_out_dir(out)
    results = run_study(study, seed=seed, draws=draws, progress=sys.stderr.isatty(),
                        inference=inference)
    return write_report(results, out, command=command)


@app.command("run")
def run(
    study: Path = typer.Argument(..., help="The study file (TOML)."),
    out: Path = typer.Option(..., "--out", "-o", help="Directory for the report (created)."),
    seed: int | None = typer.Option(None, "--seed", help="Monte Carlo seed (default: the "
                                    "study's settings.seed)."),
    draws: int | None = typer.Option(None, "--draws", help="Monte Carlo draws of the methods "
                                     "on their own (default: the study's settings.draws)."),
    inference: Inference | None = typer.Option(
        None, "--inference", help="Fit the joint model by NUTS (full posterior) or Laplace "
        "(normal approximation at the mode, faster); default: the study's [synthesis] "
        "inference, nuts."),
) -> None:
    """Run the three methods of a study and their joint model, and write the report to DIR."""
    parts = ["crowdcensus run", str(study), "--out", str(out)]
    if seed is not None:
        parts += ["--seed", str(seed)]
    if draws is not None:
        parts += ["--draws", str(draws)]
    if inference is not None:
        parts += ["--inference", inference.value]
    html = run_to_report(study, out, seed, draws, command=" ".join(parts),
                         inference=inference.value if inference else None)
    typer.echo(f"report: {html}")
