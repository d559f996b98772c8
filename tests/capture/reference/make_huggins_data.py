"""Write the simulated data set ``data/huggins_groups.csv`` (run once; the file is kept).

400 individuals, 5 occasions; a text covariate ``group`` (a, b, c) and a numeric
``x`` (0..4); capture probability ``logit p = -1.2 + 0.7 [b] - 0.5 [c] + 0.25 x``
until the first capture, ``+ 0.6`` after it (a trap response, so that Mb has
something to find). Identical rows (history, group, x) are merged with a
``freq`` count, so that the file also exercises frequency-weighted rows.

    python tests/capture/reference/make_huggins_data.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def simulate(seed: int = 20240611, n: int = 400, t: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    group = rng.choice(np.array(["a", "b", "c"]), size=n, p=[0.4, 0.35, 0.25])
    x = rng.integers(0, 5, size=n)
    eta = -1.2 + 0.7 * (group == "b") - 0.5 * (group == "c") + 0.25 * x
    caught = np.zeros((n, t), dtype=int)
    seen = np.zeros(n, dtype=bool)
    for j in range(t):
        p = 1 / (1 + np.exp(-(eta + 0.6 * seen)))
        caught[:, j] = rng.random(n) < p
        seen |= caught[:, j].astype(bool)
    frame = pd.DataFrame(caught, columns=[f"c{j + 1}" for j in range(t)])
    frame["group"], frame["x"] = group, x
    frame = frame[frame.iloc[:, :t].sum(axis=1) > 0]
    cols = list(frame.columns)
    return frame.groupby(cols, as_index=False).size().rename(columns={"size": "freq"})


if __name__ == "__main__":
    out = Path(__file__).resolve().parent.parent / "data" / "huggins_groups.csv"
    simulate().to_csv(out, index=False)
    print(out)
