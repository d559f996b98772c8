"""How the generated open-population tables of ``tests/openpop/data/generated/`` were made.

Run once (``python tests/openpop/rcapture_scripts/generate_tables.py OUTDIR``); the files are
stored, so the tests never run this. Each table is a Jolly-Seber population: ``N``
people enter at a period drawn from Dirichlet(2, ..., 2) weights, stay from one period
to the next with that interval's survival (uniform on 0.45-0.98; 0.999 inside every
fourth table, where few leave and the model sets negative terms to zero) and are
caught in each period they are present with that period's chance (uniform on 0.12-0.6).
One table per ``I`` in 4..8 and ``N`` in (300, 1500): ``jsKK_I{I}_N{N}.csv`` (one 0/1
column per period and a ``freq`` column). Seed 57.

``zz_p3zero.csv`` is ``js05_I6_N1500.csv`` with nobody caught in period 3 (the rows
left empty dropped, the others merged): a period with no capture, whose chance of
capture the fit drives to 0.
"""

from __future__ import annotations

import itertools
import pathlib
import sys

import numpy as np


def history_table(hist: np.ndarray) -> str:
    hist = hist[hist.sum(axis=1) > 0]
    rows, counts = np.unique(hist, axis=0, return_counts=True)
    head = ",".join(f"p{i + 1}" for i in range(hist.shape[1])) + ",freq\n"
    return head + "".join(",".join(map(str, r)) + f",{c}\n" for r, c in zip(rows, counts))


def simulate(rng: np.random.Generator, periods: int, people: int, steady: bool) -> np.ndarray:
    p = rng.uniform(0.12, 0.6, periods)
    phi = rng.uniform(0.45, 0.98, periods - 1)
    if steady:
        phi[1:-1] = 0.999
    enter = rng.choice(periods, size=people, p=rng.dirichlet(np.full(periods, 2.0)))
    hist = np.zeros((people, periods), dtype=int)
    for n in range(people):
        for t in range(enter[n], periods):
            if t > enter[n] and rng.random() > phi[t - 1]:
                break
            hist[n, t] = rng.random() < p[t]
    return hist


def main(out: pathlib.Path) -> None:
    rng = np.random.default_rng(57)
    out.mkdir(parents=True, exist_ok=True)
    for k, (periods, people) in enumerate(itertools.product(range(4, 9), (300, 1500))):
        hist = simulate(rng, periods, people, steady=k % 4 == 3)
        (out / f"js{k:02d}_I{periods}_N{people}.csv").write_text(history_table(hist))
        if k == 5:
            hist[:, 2] = 0
            (out / "zz_p3zero.csv").write_text(history_table(hist))


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
