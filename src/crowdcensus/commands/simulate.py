"""``crowdcensus simulate`` and ``crowdcensus validate``: synthetic countries with a known truth."""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path

import typer

from crowdcensus.commands.apps import app, check_out_dir
from crowdcensus.errors import InputError


class CaptureDesign(StrEnum):
    """``--capture``: the capture-recapture design of the studies validated."""

    by_band = "by_band"
    pooled = "pooled"


class ValidationInference(StrEnum):
    """``--inference``: how the joint model is fitted in each replicate."""

    laplace = "laplace"
    nuts = "nuts"


def _values(field: str, text: str) -> list:
    """The values of ``--vary FIELD=...``: comma-separated numbers or words, or, for a
    field whose values are lists, a JSON array of them (``[["mturk"], ["mturk", "wirk"]]``)."""
    import json

    if not text.lstrip().startswith("["):
        parts = [v.strip() for v in text.split(",")]
        if not all(parts):
            raise InputError(f"--vary {field}={text}: a value is empty")
        return [_number(v) for v in parts]
    try:
        values = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"--vary {field}: the values are not a JSON array ({exc.msg} at "
                         f"character {exc.pos})") from None
    if not isinstance(values, list) or not values:
        raise InputError(f"--vary {field}: expected a JSON array of values")
    return values


def _check_scheduler(address: str) -> None:
    """A Dask scheduler's address as ``tcp://host:port`` (or ``host:port``), checked before
    connecting (a bad one failed after a 30-second wait, in a traceback)."""
    from urllib.parse import urlsplit

    url = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        port = url.port
    except ValueError:
        port = None
    if not url.hostname or port is None:
        raise InputError(f"--dask-scheduler {address}: expected an address like "
                         "tcp://HOST:8786")


def _number(text: str) -> float | str:
    """A --vary value: a number where it reads as one, else the text."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


@app.command("simulate")
def simulate(
    scenario: str = typer.Argument(..., help="A scenario file (TOML) or the name of a shipped "
                                   "one: churn, dormant, heterogeneous, ideal, inflated, "
                                   "misreport, small, subset."),
    out: Path = typer.Option(..., "--out", "-o", help="Directory for the simulated study "
                             "(created)."),
    seed: int = typer.Option(1, "--seed", help="Seed of the simulation."),
    through_service: bool = typer.Option(False, "--through-service", help="Run the study end "
                                         "to end through the collection service: start it, "
                                         "answer the waves over HTTP, export, run, compare."),
    workers: int | None = typer.Option(None, "--workers", help="Scale the scenario to this "
                                       "many workers (default: the scenario's; with "
                                       "--through-service, 1,500)."),
) -> None:
    """Simulate a country: write its study (study.toml, responses, figures) and truth.json."""
    import numpy as np

    from crowdcensus.simulate.outputs import write_simulation
    from crowdcensus.simulate.scenario import load_scenario
    from crowdcensus.simulate.world import generate_world

    if seed < 0:
        raise InputError(f"--seed must be >= 0 (got {seed})")
    check_out_dir(out)
    sc = load_scenario(scenario)
    if through_service:
        from crowdcensus.simulate.e2e import run_through_service

        result = run_through_service(sc.scaled(workers or 1500), out, seed=seed,
                                     log=lambda m: typer.echo(m, err=True))
        typer.echo(result.describe())
        return
    if workers is not None:
        sc = sc.scaled(workers)
    world = generate_world(sc, np.random.default_rng(seed))
    study = write_simulation(world, out, seed=seed)
    tiers = world.tiers()
    typer.echo(f"study: {study}")
    typer.echo(f"truth: {out / 'truth.json'} (occasional {tiers['occasional']:,}, regular "
               f"{tiers['regular']:,}, very active {tiers['very_active']:,}; "
               f"{world.responses['worker'].nunique():,} respondents)")


@app.command("validate")
def validate(
    scenario: list[str] | None = typer.Argument(None, help="Scenario files or names of "
                                                "shipped scenarios."),
    all_: bool = typer.Option(False, "--all", help="Every shipped scenario."),
    replicates: int = typer.Option(100, "--replicates", "-r", help="Replicates per scenario."),
    seed: int = typer.Option(1, "--seed", help="Seed: the replicates' seeds derive from it."),
    workers: int | None = typer.Option(None, "--workers", help="Local processes (default: "
                                       "the number of CPUs)."),
    dask_scheduler: str | None = typer.Option(None, "--dask-scheduler", help="Address of a "
                                              "Dask scheduler (tcp://host:port) to run the "
                                              "replicates on instead."),
    out: Path = typer.Option(..., "--out", "-o", help="Directory for the report (created)."),
    capture: CaptureDesign | None = typer.Option(None, "--capture", help="Override the "
                                                 "scenarios' capture-recapture design."),
    inference: ValidationInference = typer.Option(
        ValidationInference.laplace, "--inference", help="How the joint model is fitted in "
        "each replicate (laplace: the normal approximation at the mode; nuts: full sampling, "
        "slower)."),
    vary: list[str] | None = typer.Option(None, "--vary", help="FIELD=V1,V2,...: run each "
                                          "scenario once per value of one field, e.g. "
                                          "activity.misreport=0,0.1,0.3; a field of lists "
                                          "takes a JSON array of them, e.g. "
                                          "'experiment.platforms=[[\"mturk\"],[\"wirk\"]]' "
                                          "(repeatable)."),
    set_aside: list[str] | None = typer.Option(None, "--set-aside", help="hours, declared "
                                               "or audience: fit the joint model (the "
                                               "combined rows) without that input, to see "
                                               "what it does (repeatable)."),
    resume: bool = typer.Option(False, "--resume", help="Reuse the replicates an earlier "
                                "run with the same settings left in --out (each is kept "
                                "there as it finishes, in checkpoint.jsonl). Without it, "
                                "an --out that holds finished replicates is refused."),
) -> None:
    """Run seeded replicates of scenarios; report bias, RMSE and coverage per tier and method."""
    from crowdcensus.simulate.scenario import load_scenario, shipped_scenarios
    from crowdcensus.simulate.validation import validate_scenarios
    from crowdcensus.simulate.validation_report import write_validation_report

    names = list(scenario or [])
    if all_:
        names = [*shipped_scenarios(), *names]
    if not names:
        raise InputError("give a scenario (file or name) or --all")
    if all_:
        # order: the assumption-meeting scenario first, then the standard one
        first = ["ideal", "heterogeneous"]
        names = sorted(dict.fromkeys(names),
                       key=lambda n: (first.index(n) if n in first else 2, n))
    scenarios = [load_scenario(n) for n in names]
    if capture is not None:
        capture = capture.value
        scenarios = [sc.with_capture(capture) for sc in scenarios]
    fields = [spec.partition("=")[0].strip() for spec in vary or []]
    again = next((f for f in fields if fields.count(f) > 1), None)
    if again:
        raise InputError(f"--vary {again} is given twice: give its values once, "
                         f"{again}=V1,V2,...")
    for spec in vary or []:
        field, sep, values = spec.partition("=")
        if not sep or not field or not values:
            raise InputError(f"--vary {spec}: expected FIELD=V1,V2,... (e.g. "
                             "activity.misreport=0,0.1,0.3)")
        parsed = _values(field.strip(), values)
        scenarios = [sc.varied(field.strip(), v) for sc in scenarios for v in parsed]
    k = workers if workers is not None else (os.cpu_count() or 1)
    aside = set_aside or []
    check_out_dir(out)
    if dask_scheduler is not None:
        _check_scheduler(dask_scheduler)
    from crowdcensus.simulate.checkpoint import CHECKPOINT_NAME

    kept = out / CHECKPOINT_NAME
    if resume and not kept.is_file():
        raise InputError(f"--resume: {kept} does not exist (nothing to go on from)")
    if not resume and kept.is_file():
        from crowdcensus.simulate.checkpoint import Checkpoint

        n = len(Checkpoint(kept, resume=True).done)
        if n:  # a fresh run would start the file afresh: hours of replicates lost
            raise InputError(f"--out {out} already holds {n} finished replicate"
                             f"{'s' if n > 1 else ''} in {CHECKPOINT_NAME}: add --resume "
                             "to go on from them, or give another --out to start afresh")
    val = validate_scenarios(scenarios, replicates, seed=seed, workers=k,
                             dask_scheduler=dask_scheduler, progress=sys.stderr.isatty(),
                             inference=inference.value, set_aside=aside,
                             checkpoint=out / CHECKPOINT_NAME, resume=resume)
    parts = ["crowdcensus validate", *(["--all"] if all_ else []),
             *[n for n in (scenario or [])], "--replicates", str(replicates),
             "--seed", str(seed), *(["--capture", capture] if capture else []),
             "--inference", inference.value,
             *[x for spec in (vary or []) for x in ("--vary", spec)],
             *[x for name in aside for x in ("--set-aside", name)],
             "--out", str(out)]
    html = write_validation_report(val, out, command=" ".join(parts))
    typer.echo(f"report: {html}")
    for t in __import__("crowdcensus.simulate.validation_report",
                        fromlist=["targets"]).targets(val):
        typer.echo(f"target {'met' if t['met'] else 'NOT met'}: {t['target']} ({t['detail']})")
    if said := failed_line(val.replicates):
        typer.echo(said)


def failed_line(replicates) -> str | None:
    """One line on the replicates that failed, if any: how many, and the first's error
    (the targets above read only those that did not).

    >>> import pandas as pd
    >>> rows = pd.DataFrame({"scenario": ["a", "a", "b", "b"], "replicate": [0, 0, 0, 1],
    ...                      "error": ["", "", "ValueError: x", "ValueError: x"]})
    >>> failed_line(rows)
    'failed: 2 of 3 replicates (b, replicate 0: ValueError: x)'
    """
    bad = replicates[replicates["error"] != ""]
    if bad.empty:
        return None
    total = replicates.groupby(["scenario", "replicate"]).ngroups
    n = bad.groupby(["scenario", "replicate"]).ngroups
    first = bad.iloc[0]
    return (f"failed: {n} of {total} replicates ({first['scenario']}, replicate "
            f"{first['replicate']}: {first['error']})")
