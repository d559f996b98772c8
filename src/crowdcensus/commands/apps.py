"""The Typer applications that command modules attach to."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="crowdcensus",
    help="How many people do micro-work? Capture-recapture, declared figures and web "
    "audience, with honest intervals.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

estimate_app = typer.Typer(
    help="Capture-recapture estimators on a capture data file.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(estimate_app, name="estimate")
