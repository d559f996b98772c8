"""``crowdcensus estimate closed FILE --covariates A,B``: Huggins' models M0, Mt, Mb."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import typer

from crowdcensus.capture.closed.huggins import (
    HugginsModelTable,
    canonical_huggins_model,
    fit_huggins_models,
)
from crowdcensus.capture.covariates import read_covariate_histories
from crowdcensus.errors import InputError

DASH = "—"


def _fmt(x: float | None, digits: int = 1) -> str:
    if x is None or not math.isfinite(x):
        return DASH
    return f"{x:,.{digits}f}"


def render_huggins(table: HugginsModelTable, t: int, level: float) -> str:
    """Plain-text table of the Huggins models and their coefficients."""
    lines = [
        f"Huggins conditional likelihood; covariates: {', '.join(table.covariates) or 'none'}",
        f"Number of captured units: {table.n_captured:,} ({t} occasions)",
        "",
    ]
    ci_head = f"{level * 100:g}% CI"
    lines.append(f"{'model':<8}{'abundance':>12}{'stderr':>10}{ci_head:>22}{'loglik':>12}"
                 f"{'AIC':>11}{'params':>8}  status")
    for m in table.models:
        lo, hi = m.confidence_interval_
        ci = DASH if not math.isfinite(lo) else f"[{_fmt(lo)}, {_fmt(hi)}]"
        lines.append(f"{m.name_:<8}{_fmt(m.abundance_):>12}{_fmt(m.stderr_):>10}{ci:>22}"
                     f"{_fmt(m.loglik_, 3):>12}{_fmt(m.aic_, 3):>11}{m.n_params_:>8}"
                     f"  {m.status_}")
    coef = {}
    for m in table.models:
        c = m.coef_
        coef[m.name_] = {k: f"{_fmt(b, 4)} ({_fmt(s, 4)})" for k, b, s in
                         zip(c.index, c["coef"], c["stderr"])}
    order = list(dict.fromkeys(k for m in table.models for k in m.coef_.index
                               if k.startswith("(Intercept)") or k == "recapture"))
    order += [k for k in dict.fromkeys(k for c in coef.values() for k in c) if k not in order]
    frame = pd.DataFrame(coef).reindex(order).fillna("")
    lines += ["", "Coefficients, logit of the capture probability (SE):",
              *(ln.rstrip() for ln in frame.to_string().splitlines())]
    return "\n".join(lines)


def run_huggins(file: Path, covariates: str, models: list[str] | None, freq: str | None,
                level: float, fmt: str, plot: Path | None) -> None:
    """Read the file, fit the models and print them (text or JSON)."""
    models = [canonical_huggins_model(m) for m in models] if models else None
    data = read_covariate_histories(file, covariates, freq=freq)
    table = fit_huggins_models(data, models=models, level=level)
    if fmt == "json":
        typer.echo(json.dumps(table.to_dict(), indent=2))
    else:
        typer.echo(render_huggins(table, data.t, level))
    if plot is not None:
        from crowdcensus.plotting import file_figure, save_figure

        fig = file_figure((6, 4))
        table.best().plot(fig.subplots())
        fig.tight_layout()
        save_figure(fig, plot)


def check_options(**given) -> None:
    """Options of the closed command that have no meaning with --covariates."""
    for option, value in given.items():
        if value:
            raise InputError(f"--covariates cannot be combined with --{option}")
