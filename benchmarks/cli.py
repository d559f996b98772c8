"""Benchmark of the command line, end to end (wall clock of a subprocess, as a user sees it).

Times, each the median (and best) of several runs:

  1. ``python -c pass`` -- the interpreter alone, for scale;
  2. ``crowdcensus --help``                      (target: under 0.5 s);
  3. ``crowdcensus estimate closed FILE``         (target: at most 0.6 s; Rcapture's
     ``closedp.t`` on the same data took 7.0 s on the reference machine), and the
     same with ``--format json``;

on a file of 195,160 capture histories x 12 occasions, one row per individual,
generated with a fixed seed in a temporary directory (heterogeneous capture
probabilities: Beta(1, 6) individual effects times occasion effects). Also prints
the in-process time of reading the file and of fitting the models, to show where
the end-to-end time goes. Prints the figures; asserts nothing.

    python benchmarks/cli.py              # 5 runs each
    python benchmarks/cli.py --runs 11
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

N_HISTORIES = 195_160
OCCASIONS = 12


def write_histories(path: Path, seed: int = 2024) -> None:
    """``N_HISTORIES`` non-empty 0/1 histories over ``OCCASIONS`` occasions, as CSV."""
    rng = np.random.default_rng(seed)
    rows = []
    total = 0
    while total < N_HISTORIES:
        ind = rng.beta(1.0, 6.0, size=100_000)
        occ = rng.uniform(0.6, 1.4, size=OCCASIONS)
        caught = rng.random((ind.size, OCCASIONS)) < np.clip(ind[:, None] * occ, 0, 1)
        caught = caught[caught.any(axis=1)]
        rows.append(caught)
        total += len(caught)
    matrix = np.vstack(rows)[:N_HISTORIES].astype(np.uint8)
    header = ",".join(f"c{j + 1}" for j in range(OCCASIONS))
    np.savetxt(path, matrix, fmt="%d", delimiter=",", header=header, comments="")


def wall(cmd: list[str], runs: int) -> tuple[float, float]:
    """Median and best wall time of ``cmd`` (output discarded; must exit 0)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    exe = [sys.executable, "-m", "crowdcensus"]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"CPUs available: {len(os.sched_getaffinity(0))}; load average (1 min): {load:.2f}")
    with tempfile.TemporaryDirectory(prefix="crowdcensus-bench-cli-") as tmp:
        data = Path(tmp) / "histories.csv"
        write_histories(data)
        size = data.stat().st_size / 1e6
        print(f"data: {N_HISTORIES:,} histories x {OCCASIONS} occasions, CSV {size:.1f} MB")
        rows = [
            ("python -c pass", [sys.executable, "-c", "pass"]),
            ("crowdcensus --help", [*exe, "--help"]),
            ("crowdcensus estimate closed FILE", [*exe, "estimate", "closed", str(data)]),
            ("crowdcensus estimate closed FILE --format json",
             [*exe, "estimate", "closed", str(data), "--format", "json"]),
        ]
        print(f"\n{'command (wall, subprocess)':<50}{'median':>9}{'best':>9}")
        for label, cmd in rows:
            med, best = wall(cmd, args.runs)
            print(f"{label:<50}{med:8.3f}s{best:8.3f}s")

        from crowdcensus.capture.closed.model import fit_closed_models
        from crowdcensus.capture.readers import read_histories

        start = time.perf_counter()
        histories = read_histories(data)
        read_s = time.perf_counter() - start
        start = time.perf_counter()
        fit_closed_models(histories)
        fit_s = time.perf_counter() - start
        print(f"\nin process: read {read_s:.3f}s, fit the 12 models {fit_s:.3f}s "
              f"({histories.n_distinct:,} distinct histories)")


if __name__ == "__main__":
    main()
