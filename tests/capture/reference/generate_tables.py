"""How the generated capture tables of ``tests/capture/data/generated/`` were made.

Run once (``python tests/capture/reference/generate_tables.py OUTDIR``); the files are
stored, so the tests never run this. Each individual has a capture probability drawn
from a beta distribution (heterogeneity); the history tables also vary it by occasion.

- ``freq/tNNN_KIND.csv`` (``nbcap,freq``): t = 2..100; ``het`` 150 individuals, mean 2
  captures each; ``sparse`` 150, mean 1; ``dense`` 120, mean 6 (beta shape 2).
- ``hist/tNN_KIND.csv`` (``c1..ct,freq``): t = 3..14; ``het`` mean 2 captures,
  ``sparse`` mean 1; 150 individuals.
- ``hist/sparse5.csv`` was written by hand: 5 occasions, 97 individuals caught once
  and one caught on occasions 2 and 4 (98 caught, a single recapture).
- ``hist/norecap6.csv``: 6 occasions, 489 individuals each caught once (92, 96, 100, 82,
  72 and 47 on the six occasions): the "less often" band of a simulated study with its
  repeat answers removed (``tests/simulate/test_fallback.py``).
"""

from __future__ import annotations

import pathlib
import sys

import numpy as np

FREQ_T = [2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90, 100]
FREQ_KINDS = {"het": (150, 2.0, 1.0), "sparse": (150, 1.0, 1.0), "dense": (120, 6.0, 2.0)}
HIST_T = [3, 5, 8, 10, 12, 14]
HIST_KINDS = (("het", 150, 2.0), ("sparse", 150, 1.0))


def frequency_tables(out: pathlib.Path) -> None:
    for t in FREQ_T:
        for i, (kind, (n, captures, shape)) in enumerate(FREQ_KINDS.items()):
            rng = np.random.default_rng(1000 * t + i)
            mean = min(captures / t, 0.45)
            p = rng.beta(shape, shape * (1 - mean) / mean, n)
            k = rng.binomial(t, p)
            vals, counts = np.unique(k[k > 0], return_counts=True)
            rows = "".join(f"{v},{c}\n" for v, c in zip(vals, counts))
            (out / f"t{t:03d}_{kind}.csv").write_text("nbcap,freq\n" + rows)


def history_tables(out: pathlib.Path) -> None:
    for t in HIST_T:
        for i, (kind, n, captures) in enumerate(HIST_KINDS):
            rng = np.random.default_rng(5000 + 10 * t + i)
            mean = min(captures / t, 0.45)
            p = rng.beta(1.0, (1 - mean) / mean, n)[:, None] * np.linspace(0.6, 1.4, t)[None, :]
            H = (rng.random((n, t)) < np.clip(p, 0, 1)).astype(int)
            rows, counts = np.unique(H[H.sum(axis=1) > 0], axis=0, return_counts=True)
            head = ",".join(f"c{j + 1}" for j in range(t)) + ",freq\n"
            body = "".join(",".join(map(str, r)) + f",{c}\n" for r, c in zip(rows, counts))
            (out / f"t{t:02d}_{kind}.csv").write_text(head + body)


if __name__ == "__main__":
    root = pathlib.Path(sys.argv[1])
    for sub, make in (("freq", frequency_tables), ("hist", history_tables)):
        (root / sub).mkdir(parents=True, exist_ok=True)
        make(root / sub)
