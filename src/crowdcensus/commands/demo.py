"""``crowdcensus demo``: run the bundled France 2018 example and say where the report is."""

from __future__ import annotations

import tempfile
from enum import StrEnum
from importlib.resources import as_file, files
from pathlib import Path

import typer

from crowdcensus.commands.apps import app
from crowdcensus.commands.run import run_to_report


class Example(StrEnum):
    """The bundled examples (package data; ``examples/`` in the repository holds the same)."""

    france_2018 = "france-2018"
    simulated = "simulated"


EXAMPLES = tuple(e.value for e in Example)


def example_study(name: str = "france-2018"):
    """The packaged study file of a bundled example (a Traversable)."""
    return files("crowdcensus") / "examples" / name / "study.toml"


@app.command("demo")
def demo(
    out: Path | None = typer.Option(None, "--out", "-o", help="Directory for the report "
                                    "(default: a new temporary directory)."),
    example: Example = typer.Option(Example.france_2018, "--example",
                                    help="Which bundled example."),
) -> None:
    """Run a bundled example (the DiPLab France 2018 study by default) and write its report."""
    example = example.value
    target = out if out is not None else Path(tempfile.mkdtemp(prefix="crowdcensus-demo-"))
    with as_file(files("crowdcensus") / "examples" / example) as folder:
        html = run_to_report(Path(folder) / "study.toml", target, None, None,
                             command=f"crowdcensus demo --example {example} --out {target}")
    typer.echo(f"The {example} example's report is at {html.resolve()}")
