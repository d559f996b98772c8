"""Validation: many seeded replicates of a scenario, each simulated and estimated.

A replicate draws a synthetic country (:func:`~crowdcensus.simulate.world.generate_world`),
writes its study as a researcher would have it, runs the whole pipeline
(:func:`crowdcensus.pipeline.run_study`) in-process, and compares every
method's estimate of every tier, the joint model's (``combined``) and the old
inverse-variance combination's (``inverse_variance``, a named baseline), with
the truth. The joint model is fitted by its Laplace approximation unless
``inference="nuts"`` (``docs/synthesis.md`` compares the two).

For a tier and a method over the :math:`R` replicates that produced an
estimate :math:`\\hat N_r` of the truth :math:`N_r` (the truth differs
between replicates, as each draws its own country):

.. math::

   \\text{bias} = \\frac1R \\sum_r (\\hat N_r - N_r),\\qquad
   \\text{relative bias} = \\frac1R \\sum_r \\frac{\\hat N_r - N_r}{N_r},

   \\text{RMSE} = \\Big(\\frac1R \\sum_r (\\hat N_r - N_r)^2\\Big)^{1/2},\\qquad
   \\text{coverage} = \\frac1R \\sum_r 1\\{L_r \\le N_r \\le U_r\\},

with :math:`[L_r, U_r]` the replicate's 95% interval. The Monte Carlo
standard error of a coverage :math:`c` is :math:`\\sqrt{c(1-c)/R}`.

Seeds: the replicates' seeds are :meth:`numpy.random.SeedSequence.spawn`
children of ``SeedSequence(seed)``, one per replicate, so the same seed gives
the same figures whether the replicates run in one process, in local
processes or on a Dask cluster, and in whatever order they finish.
"""

from __future__ import annotations

import math
import tempfile
import traceback
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from crowdcensus.errors import InputError, WorkerDiedError
from crowdcensus.parallel import Runner
from crowdcensus.simulate.checkpoint import Checkpoint, replicate_key
from crowdcensus.simulate.scenario import Scenario
from crowdcensus.simulate.world import generate_world
from crowdcensus.tiers import TIERS

METHODS = ("declared", "audience", "experiment", "inverse_variance", "combined")


def replicate_seeds(seed: int, replicates: int) -> list[np.random.SeedSequence]:
    """One independent seed sequence per replicate."""
    return np.random.SeedSequence(seed).spawn(replicates)


def run_replicate(scenario: Scenario, seq: np.random.SeedSequence, index: int = 0,
                  inference: str = "laplace", set_aside: Sequence[str] = ()) -> list[dict]:
    """Simulate one country, run the pipeline on its study, compare with the truth.

    Returns one row per (tier, method) with ``estimate``, ``low``, ``high``
    and ``truth`` (and ``error`` when the pipeline could not run, or, for the
    ``combined`` rows, when the joint model did not converge); where the joint model
    averages the two take-up readings, its rows carry the slope reading's probability
    (``slope_probability``). ``set_aside``: inputs
    the joint model is fitted without (:func:`crowdcensus.synthesis.data.set_aside`).
    """
    from crowdcensus.pipeline import run_study
    from crowdcensus.simulate.outputs import write_simulation

    # a fresh copy: spawn() counts its children, and the same sequence may serve
    # several scenarios in one process
    fresh = np.random.SeedSequence(seq.entropy, spawn_key=seq.spawn_key,
                                   pool_size=seq.pool_size)
    world_seq, mc_seq = fresh.spawn(2)
    world = generate_world(scenario, np.random.default_rng(world_seq))
    truth = world.tiers()
    base = {"scenario": scenario.scenario.name, "replicate": index}
    mc_seed = int(mc_seq.generate_state(1, dtype=np.uint32)[0])
    try:
        with tempfile.TemporaryDirectory(prefix="crowdcensus-rep-") as tmp:
            study = write_simulation(world, tmp)
            results = run_study(study, seed=mc_seed, inference=inference, checks=False,
                                set_aside=set_aside)
    except Exception as exc:  # a replicate that fails is counted, not fatal
        msg = f"{type(exc).__name__}: {exc}".splitlines()[0]
        if not hasattr(exc, "exit_code"):
            msg += " | " + traceback.format_exc(limit=2).splitlines()[-1]
        return [{**base, "tier": t, "method": "combined", "truth": truth[t], "estimate": np.nan,
                 "low": np.nan, "high": np.nan, "error": msg} for t in TIERS]
    rows = []
    joint_error = ""
    if results.joint is not None and not results.joint.converged:
        joint_error = "joint model did not converge: " + "; ".join(results.joint.problems)
    # the combined rows say how the two take-up readings were weighed (with
    # experiment.take_up_slope = "average")
    weighed = {}
    if results.joint is not None and results.joint.slope_probability is not None:
        weighed = {"slope_probability": float(results.joint.slope_probability)}
    for t in TIERS:
        for m in METHODS:
            if m == "combined":
                iv = results.combined.get(t)
                if iv is None and joint_error:
                    rows.append({**base, "tier": t, "method": m, "truth": truth[t],
                                 "estimate": np.nan, "low": np.nan, "high": np.nan,
                                 "error": joint_error, **weighed})
                    continue
            elif m == "inverse_variance":
                iv = results.baseline.get(t)
            else:
                iv = results.methods.get(m, {}).get(t)
            if iv is None:
                continue
            rows.append({**base, "tier": t, "method": m, "truth": truth[t],
                         "estimate": iv.estimate, "low": iv.low, "high": iv.high, "error": "",
                         **(weighed if m == "combined" else {})})
    return rows


@dataclass
class Validation:
    """Every replicate's estimates, and the summary per scenario, tier and method."""

    replicates: pd.DataFrame
    summary: pd.DataFrame
    seed: int
    n_replicates: int
    scenarios: list[Scenario]


def summarise(replicates: pd.DataFrame) -> pd.DataFrame:
    """Bias, relative bias, RMSE and coverage per scenario, tier and method."""
    rows = []
    ok = replicates[replicates["error"] == ""]
    for (sc, tier, method), g in ok.groupby(["scenario", "tier", "method"], sort=False):
        err = g["estimate"] - g["truth"]
        truth = g["truth"].where(g["truth"] > 0)   # relative figures: undefined at a truth of 0
        rel = err / truth
        cover = ((g["low"] <= g["truth"]) & (g["truth"] <= g["high"])).mean()
        n = len(g)
        rows.append({
            "scenario": sc, "tier": tier, "method": method, "replicates": n,
            "truth_mean": float(g["truth"].mean()), "estimate_mean": float(g["estimate"].mean()),
            "bias": float(err.mean()), "relative_bias": float(rel.mean()),
            "rmse": float(math.sqrt((err ** 2).mean())),
            "relative_rmse": float(math.sqrt((rel ** 2).mean())),
            "mean_abs_relative_error": float(rel.abs().mean()),
            "coverage": float(cover),
            "coverage_se": float(math.sqrt(cover * (1 - cover) / n)),
            "relative_width": float(((g["high"] - g["low"]) / truth).mean()),
        })
    failed = replicates[replicates["error"] != ""]
    for (sc, tier), g in failed.groupby(["scenario", "tier"], sort=False):
        rows.append({"scenario": sc, "tier": tier, "method": "failed", "replicates": len(g)})
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    torder = {t: i for i, t in enumerate(TIERS)}
    morder = {m: i for i, m in enumerate((*METHODS, "failed"))}
    sorder = {s: i for i, s in enumerate(dict.fromkeys(replicates["scenario"]))}
    out = out.sort_values(["scenario", "tier", "method"],
                          key=lambda c: c.map({**sorder, **torder, **morder}))
    return out.reset_index(drop=True)


def take_up_readings(replicates: pd.DataFrame) -> pd.DataFrame:
    """Per scenario whose joint model averaged the two take-up readings: the replicates
    that did, the slope reading's mean probability, and the shares of them in which the
    slope reading was left out (below :data:`~crowdcensus.synthesis.averaging.WINDOW`)
    and in which the other was (above 1 minus it). Empty without such replicates."""
    from crowdcensus.synthesis.averaging import WINDOW

    columns = ["scenario", "replicates", "mean_slope_probability", "slope_left_out",
               "sight_left_out"]
    if "slope_probability" not in replicates:
        return pd.DataFrame(columns=columns)
    fits = (replicates[(replicates["method"] == "combined")
                       & replicates["slope_probability"].notna()]
            .drop_duplicates(["scenario", "replicate"]))
    rows = [{"scenario": sc, "replicates": len(g),
             "mean_slope_probability": float(g["slope_probability"].mean()),
             "slope_left_out": float((g["slope_probability"] < WINDOW).mean()),
             "sight_left_out": float((g["slope_probability"] > 1 - WINDOW).mean())}
            for sc, g in fits.groupby("scenario", sort=False)]
    return pd.DataFrame(rows, columns=columns)


def validate_scenarios(
    scenarios: Sequence[Scenario],
    replicates: int,
    seed: int = 1,
    workers: int = 1,
    dask_scheduler: str | None = None,
    progress: bool = False,
    inference: str = "laplace",
    set_aside: Sequence[str] = (),
    checkpoint: str | Path | None = None,
    resume: bool = False,
) -> Validation:
    """Run ``replicates`` seeded replicates of every scenario and summarise them.

    Every scenario uses the same replicate seeds (``SeedSequence(seed).spawn``),
    so scenarios differ only by what they change. ``set_aside``: inputs the joint model
    is fitted without in every replicate (the ``combined`` rows; the methods keep them).
    ``checkpoint``: a file each replicate is appended to as it finishes
    (:class:`~crowdcensus.simulate.checkpoint.Checkpoint`); with ``resume``, the
    replicates it already holds for the same settings are reused, not run again.
    """
    if replicates < 1:
        raise InputError(f"--replicates must be at least 1 (got {replicates})")
    if seed < 0:
        raise InputError(f"--seed must be >= 0 (got {seed})")
    if workers < 1:
        raise InputError(f"--workers must be at least 1 (got {workers})")
    names = [sc.scenario.name for sc in scenarios]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        # the summary is by name: two scenarios of one name would be summed up as one
        raise InputError(f"two scenarios are named '{twice[0]}' ([scenario] name): their "
                         "replicates would be summed up as one scenario's; give each its "
                         "own name")
    seeds = replicate_seeds(seed, replicates)
    from crowdcensus.synthesis.data import checked_aside

    aside = checked_aside(set_aside)
    jobs = [(sc, s, i, inference, aside) for sc in scenarios for i, s in enumerate(seeds)]
    dumps = [sc.model_dump(mode="json") for sc in scenarios]
    keys = [replicate_key(dumps[k], seed, i, inference, aside)
            for k in range(len(scenarios)) for i in range(replicates)]
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    bar = Progress(TextColumn("[bold]Replicates"), BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn(), console=Console(stderr=True), disable=not progress)
    store = Checkpoint(checkpoint, resume) if checkpoint is not None else None
    parts: list[list[dict] | None] = [None] * len(jobs)
    if store is not None:
        for j, key in enumerate(keys):
            parts[j] = store.done.get(key)
    todo = [j for j, part in enumerate(parts) if part is None]

    def keep(i: int, rows: list[dict]) -> None:
        parts[todo[i]] = rows
        if store is not None:
            store.add(keys[todo[i]], rows)

    reused = len(jobs) - len(todo)
    with bar, Runner(workers, dask_scheduler) as runner, store or nullcontext():
        task = bar.add_task("replicates", total=len(jobs), completed=reused)
        try:
            runner.map(run_replicate, [jobs[j] for j in todo], on_result=keep,
                       progress=lambda done, _total: bar.update(task,
                                                                completed=reused + done))
        except WorkerDiedError as exc:
            if store is None:
                raise
            kept = sum(part is not None for part in parts)
            raise WorkerDiedError(f"{exc}; the {kept} replicates finished are kept in "
                                  f"{store.path}: add --resume to go on from them") from None
    frame = pd.DataFrame([row for part in parts if part is not None for row in part])
    return Validation(frame, summarise(frame), seed, replicates, list(scenarios))
