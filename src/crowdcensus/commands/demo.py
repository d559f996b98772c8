"""``crowdcensus demo``: run the bundled example.

Until the study pipeline lands, the demo is the closed-population analysis of the
snowshoe hare data (68 hares, 6 occasions): it prints the model table and writes it
as JSON and CSV to ``--out``.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from crowdcensus.capture import load_hare
from crowdcensus.capture.closed import fit_closed_models
from crowdcensus.commands.apps import app
from crowdcensus.commands.estimate_closed import render_table


@app.command("demo")
def demo(
    out: Path | None = typer.Option(None, "--out", help="Directory for the outputs."),
) -> None:
    """Run the closed-population models on the bundled snowshoe hare data."""
    data = load_hare()
    table = fit_closed_models(data, ci="profile")
    typer.echo(render_table(table, data, with_ci=True))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "hare-closed.json").write_text(json.dumps(table.to_dict(), indent=2))
        table.summary.to_csv(out / "hare-closed.csv")
        typer.echo(f"\nWrote {out / 'hare-closed.json'} and {out / 'hare-closed.csv'}")
