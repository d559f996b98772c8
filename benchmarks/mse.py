"""Benchmark: multiple systems estimation. Prints timings (wall and CPU).

``bootstrap``: 6 lists, ~2,700 individuals; stepwise selection, then a
1,000-replicate BCa bootstrap that repeats the selection in every replicate,
in local worker processes.

``bic``: exhaustive BIC over the 32,768 hierarchical models of six lists up to
order 2, on the simulated table and on R's UKdat and Ned, with 1 and 2 worker
processes; ``--slow`` also runs the one-model-at-a-time path (check and fit
each model in turn, what ``bic_search`` did before the batches) and checks that
both select the same model with the same estimate. R takes 859-898 s on
UKdat/Ned on the same (loaded) machine.

``bayes``: Bayesian thresholding (20,000 posterior draws per fit) on Korea,
Western, UKdat (6 lists) and NewOrl (8 lists).

Run: ``.venv/bin/python benchmarks/mse.py [bootstrap|bic|bayes|all] [--slow]``.
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import time
from pathlib import Path

import numpy as np

from crowdcensus.capture.histories import CaptureHistories
from crowdcensus.capture.mse.bayesthresh import bayes_threshold
from crowdcensus.capture.mse.bic import bic_search, downhill_search
from crowdcensus.capture.mse.bootstrap import bootstrap_bca, default_workers
from crowdcensus.capture.mse.loglinear import OverlapTable, check_model, fit_model
from crowdcensus.capture.mse.select import hierarchical_models, population_estimate, stepwise
from crowdcensus.capture.readers import read_histories

DATA = Path(__file__).resolve().parent.parent / "tests" / "mse" / "data"


def simulate(n_population: int = 4600, seed: int = 20260501) -> CaptureHistories:
    """Six lists; lists 1 and 2 share a latent visibility (positive dependence)."""
    rng = np.random.default_rng(seed)
    base = np.array([0.12, 0.10, 0.15, 0.08, 0.20, 0.06])
    visible = rng.random(n_population) < 0.3
    probs = np.tile(base, (n_population, 1))
    probs[visible, 0] *= 3.5
    probs[visible, 1] *= 3.5
    probs[visible, 4] *= 0.3
    caught = (rng.random(probs.shape) < probs).astype(np.uint8)
    return CaptureHistories.from_matrix(caught, occasions=[f"L{i + 1}" for i in range(6)])


class Timer:
    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu

    def __str__(self) -> str:
        return f"{self.wall:.2f} s wall, {self.cpu:.2f} s CPU (this process)"


def bench_bootstrap(replicates: int, workers: int | None, seed: int) -> None:
    table = OverlapTable.from_histories(simulate())
    workers = default_workers() if workers is None else workers
    print(f"lists: {table.n_lists}, individuals observed: {int(table.n_observed)}, "
          f"cells with a count: {int((table.counts > 0).sum())} of {table.counts.size}")
    with Timer() as t_fit:
        fit, _ = stepwise(table)
    print(f"stepwise: model {fit.model}, popest {fit.popest:.1f}  ({t_fit})")
    stat = functools.partial(population_estimate, lists=table.lists, method="stepwise")
    with Timer() as t_boot:
        res = bootstrap_bca(stat, table.counts, replicates, seed=seed, workers=workers,
                            estimate=fit.popest)
    print(f"BCa bootstrap: {replicates} replicates + {res.jackknife.size} jackknife fits "
          f"on {workers} worker(s): {t_boot.wall:.2f} s wall; 95% interval "
          f"[{res.ci[0.025]:.1f}, {res.ci[0.975]:.1f}], failed replicates: {res.n_failed}")


def one_at_a_time(table: OverlapTable):
    """The former path: check and fit each model in turn, keep the lowest BIC."""
    best = None
    for i, model in enumerate(hierarchical_models(table.n_lists, 2)):
        if check_model(table, model):
            continue
        f = fit_model(table, model, check=False)
        if math.isfinite(f.bic) and (best is None or round(f.bic, 8) < round(best[0].bic, 8)):
            best = (f, i)
    return best[0]


def bench_bic(slow: bool) -> None:
    tables = {"simulated": OverlapTable.from_histories(simulate())}
    for name in ("ukdat", "ned"):
        tables[name] = OverlapTable.from_histories(read_histories(DATA / f"{name}.csv"))
    for name, table in tables.items():
        zeros = int((table.counts == 0).sum())
        print(f"{name}: 6 lists, {int(table.n_observed)} people, {zeros} empty cells of 63")
        for workers in (1, 2):
            with Timer() as t:
                fit, ranking = bic_search(table, workers=workers)
            print(f"  exhaustive BIC, {len(ranking)} models, {workers} process(es): {t}; "
                  f"selected {fit.model}, popest {fit.popest:.3f}")
        with Timer() as t:
            down, path = downhill_search(table)
        print(f"  downhill: {path[-1].considered} models fitted, {t}; reached {down.model}")
        if slow:
            with Timer() as t:
                old = one_at_a_time(table)
            same = str(old.model) == str(fit.model) and old.popest == fit.popest
            print(f"  one model at a time: {t}; selected {old.model}, popest "
                  f"{old.popest:.3f} -> {'same' if same else 'DIFFERENT'}")


def bench_bayes() -> None:
    for name, options in [("korea", {}), ("western", {}), ("ukdat", {}), ("neworl", {}),
                          ("neworl", {"prior": "improper"}), ("kosovo", {"max_order": 3})]:
        table = OverlapTable.from_histories(read_histories(DATA / f"{name}.csv"))
        with Timer() as t:
            res = bayes_threshold(table, **options)
        q = res.quantiles()
        print(f"bayesthresh {name} {options or ''}: {t}; median {q[0.5]:.1f} "
              f"[{q[0.025]:.1f}, {q[0.975]:.1f}], retained {' '.join(res.retained) or '-'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="?", default="all", choices=("bootstrap", "bic", "bayes",
                                                                    "all"))
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--slow", action="store_true",
                        help="also time the one-model-at-a-time BIC path (minutes)")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if args.what in ("bootstrap", "all"):
        bench_bootstrap(args.replicates, args.workers, args.seed)
    if args.what in ("bic", "all"):
        bench_bic(args.slow)
    if args.what in ("bayes", "all"):
        bench_bayes()


if __name__ == "__main__":
    main()
