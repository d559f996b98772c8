"""Coverage of Method 2 on simulated countries with a known truth (prints figures).

Re-simulates examples/simulated (10,000 registered workers; 1,000 very active,
2,500 regular) with different seeds, runs the experiment method with the
study file's central reach parameters, and reports, over the replicates, the
mean estimate and how often the interval contains the truth.

    .venv/bin/python benchmarks/pipeline_coverage.py [REPLICATES]
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from crowdcensus.pipeline import run_study

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "simulated"
TRUTH = {"very_active": 1000, "regular": 2500, "occasional": 10_000}


def _generator():
    spec = importlib.util.spec_from_file_location("generate", EXAMPLE / "generate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main(replicates: int = 10) -> None:
    gen = _generator()
    rows = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "study.toml").write_text((EXAMPLE / "study.toml").read_text())
        for rep in range(replicates):
            _, responses = gen.simulate(seed=1000 + rep)
            responses.to_csv(tmp / "responses.csv", index=False)
            r = run_study(tmp / "study.toml", draws=1000, seed=rep)
            row = {}
            for tier, truth in TRUTH.items():
                iv = r.methods["experiment"][tier]
                row[tier] = (iv.estimate, iv.low <= truth <= iv.high)
            row["n_active_selected"] = r.capture.selected
            rows.append(row)
    print(f"{replicates} simulated countries, {time.perf_counter() - t0:.1f} s")
    for tier, truth in TRUTH.items():
        est = np.array([row[tier][0] for row in rows])
        cover = np.mean([row[tier][1] for row in rows])
        print(f"experiment {tier:12s} truth {truth:>6,d}  mean estimate {est.mean():>8,.0f}  "
              f"relative bias {est.mean() / truth - 1:+.1%}  interval coverage {cover:.0%}")
    models = [row["n_active_selected"] for row in rows]
    print("lowest-AIC model:", {m: models.count(m) for m in sorted(set(models))})


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
