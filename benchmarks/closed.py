"""Benchmark of the closed-population models (issue: scale).

Generates, with a fixed seed,
  A. 200,000 individuals over 12 occasions with heterogeneous capture probabilities
     (Beta(1, 6) individual effects times occasion effects), and
  B. 1,000,000 individuals over 52 weekly occasions,
writes each as CSV and Parquet (one row per individual), then times reading the file
into capture histories and fitting the model suite. Prints the figures.

    python benchmarks/closed.py            # both sizes
    python benchmarks/closed.py --quick    # smaller sizes, for a smoke run
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from crowdcensus.capture import read_histories
from crowdcensus.capture.closed.model import fit_closed_models


def simulate(n_present: int, t: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ind = rng.beta(1.0, 6.0, size=n_present)
    occ = rng.uniform(0.6, 1.4, size=t)
    p = np.clip(ind[:, None] * occ[None, :], 0, 1)
    caught = (rng.random((n_present, t)) < p).astype(np.uint8)
    caught = caught[caught.any(axis=1)]
    return pd.DataFrame(caught, columns=[f"c{j + 1}" for j in range(t)])


def best_of(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def run(label: str, n_present: int, t: int, seed: int, repeat: int) -> None:
    frame = simulate(n_present, t, seed)
    print(f"\n{label}: {len(frame):,} individuals caught (of {n_present:,}), {t} occasions")
    with tempfile.TemporaryDirectory() as tmp:
        csv, pq = Path(tmp) / "h.csv", Path(tmp) / "h.parquet"
        frame.to_csv(csv, index=False)
        frame.to_parquet(pq)
        for path in (csv, pq):
            secs, data = best_of(lambda p=path: read_histories(p), repeat)
            print(f"  read {path.suffix:<9} {secs:8.3f} s   ({path.stat().st_size / 1e6:.1f} MB, "
                  f"{data.n_distinct:,} distinct histories)")
    secs, table = best_of(lambda: fit_closed_models(data), repeat)
    print(f"  fit {len(table.models)} models   {secs:8.3f} s")
    for m in table.models:
        print(f"    {m.name_:<15} N = {m.abundance_:>12,.1f}  SE {m.stderr_:>9,.1f}  {m.status_}")
    for name, why in table.skipped.items():
        print(f"    {name:<15} skipped: {why}")
    secs, _ = best_of(lambda: fit_closed_models(data, models=["M0", "Mh Chao (LB)"],
                                                ci="profile"), repeat)
    print(f"  M0 + Mh Chao with profile intervals {secs:.3f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes")
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    args = ap.parse_args()
    scale = 10 if args.quick else 1
    run("A", 200_000 // scale, 12, seed=12, repeat=args.repeat)
    run("B", 1_000_000 // scale, 52, seed=52, repeat=1 if not args.quick else args.repeat)


if __name__ == "__main__":
    main()
