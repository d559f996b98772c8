"""The Typer applications that command modules attach to, and the choices they share.

This module and the command modules import only Typer and the standard library at
start-up, so that ``crowdcensus --help`` is fast; each command imports what it
needs when it runs.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer


class OutputFormat(StrEnum):
    """``--format`` of the estimate commands."""

    text = "text"
    json = "json"


def _version(value: bool) -> None:
    if value:
        from crowdcensus import __version__

        typer.echo(f"crowdcensus {__version__}")
        raise typer.Exit()


app = typer.Typer(
    name="crowdcensus",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_version,
                                 help="Print the version and exit."),
) -> None:
    """How many people do micro-work? Capture-recapture, declared figures and web audience,
    with honest intervals.

    Exit codes: 0 success; 2 bad input or usage; 3 a model cannot be fitted to the
    data; 1 an unexpected failure (a bug).
    """


estimate_app = typer.Typer(
    help="Capture-recapture estimators on a capture data file (FILE may be - for a CSV on "
    "standard input).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(estimate_app, name="estimate")


def check_out_dir(out: Path, option: str = "--out") -> None:
    """Refuse, before any work, an output directory that cannot be made: an existing file,
    or a path that goes through one (the report was written only after the whole fit)."""
    from crowdcensus.errors import InputError

    if out.exists() and not out.is_dir():
        raise InputError(f"{option} {out}: exists and is not a directory")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"{option} {out}: {parent} is a file, not a directory")
            break
