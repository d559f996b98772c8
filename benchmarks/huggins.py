"""Benchmark of Huggins' covariate models (M0, Mt, Mb).

Generates, with a fixed seed, N individuals over t occasions whose capture
probability depends on a numeric covariate, a three-level text covariate and a
trap response; writes the caught ones as CSV (one row per individual); times
reading the file and fitting each model. With ``--vgam`` it also times VGAM's
``vglm`` on the same CSV (needs R with VGAM; not used by the test suite).

    python benchmarks/huggins.py             # 20,000 and 200,000 individuals, 12 occasions
    python benchmarks/huggins.py --quick     # 5,000 only
    python benchmarks/huggins.py --vgam      # and VGAM on the smaller data set
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from closed import best_of  # benchmarks/closed.py: the same timing loop

from crowdcensus.capture.closed.huggins import HugginsModel
from crowdcensus.capture.covariates import read_covariate_histories


def simulate(n: int, t: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    hours = rng.gamma(2.0, 1.0, size=n)
    platform = rng.choice(np.array(["a", "b", "c"]), size=n, p=[0.5, 0.3, 0.2])
    eta = -2.2 + 0.35 * hours + 0.4 * (platform == "b") - 0.3 * (platform == "c")
    caught = np.zeros((n, t), dtype=np.uint8)
    seen = np.zeros(n, dtype=bool)
    for j in range(t):
        p = 1 / (1 + np.exp(-(eta + 0.3 * seen)))
        caught[:, j] = rng.random(n) < p
        seen |= caught[:, j].astype(bool)
    frame = pd.DataFrame(caught, columns=[f"w{j + 1}" for j in range(t)])
    frame["hours"], frame["platform"] = np.round(hours, 2), platform
    return frame[seen]


R_SCRIPT = """
suppressMessages(library(VGAM))
d <- read.csv("{csv}")
y <- as.matrix(d[, grep("^w", names(d))])
for (fam in c("M0", "Mt", "Mb")) {{
  f <- switch(fam,
    M0 = posbernoulli.t(parallel.t = TRUE ~ hours + platform),
    Mt = posbernoulli.t(parallel.t = TRUE ~ hours + platform - 1),
    Mb = posbernoulli.b)
  s <- system.time(fit <- vglm(y ~ hours + platform, f, data = d))[["elapsed"]]
  cat(sprintf("  VGAM %-3s %8.3f s   N = %.1f (SE %.1f)\\n", fam, s, fit@extra$N.hat,
              fit@extra$SE.N.hat))
}}
"""


def run(n: int, t: int, seed: int, repeat: int, vgam: bool) -> None:
    frame = simulate(n, t, seed)
    print(f"\n{len(frame):,} individuals caught (of {n:,}), {t} occasions, "
          "covariates hours (numeric) and platform (3 levels)")
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "h.csv"
        frame.to_csv(csv, index=False)
        secs, data = best_of(lambda: read_covariate_histories(csv, ["hours", "platform"]),
                             repeat)
        print(f"  read CSV     {secs:8.3f} s")
        for model in ("M0", "Mt", "Mb"):
            secs, m = best_of(lambda mo=model: HugginsModel(mo, ["hours", "platform"]).fit(data),
                              repeat)
            print(f"  fit {model:<8} {secs:8.3f} s   N = {m.abundance_:,.1f} "
                  f"(SE {m.stderr_:,.1f}), {m.fit_.iterations} iterations, {m.status_}")
        if vgam:
            if shutil.which("Rscript") is None:
                print("  (Rscript not found: VGAM not timed)")
                return
            script = Path(tmp) / "vgam.R"
            script.write_text(R_SCRIPT.format(csv=csv))
            out = subprocess.run(["Rscript", str(script)], capture_output=True, text=True)
            print(out.stdout.rstrip() or out.stderr.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--vgam", action="store_true")
    args = parser.parse_args()
    sizes = [5_000] if args.quick else [20_000, 200_000]
    for i, n in enumerate(sizes):
        run(n, 12, seed=2024 + i, repeat=1 if n > 50_000 else 3, vgam=args.vgam and i == 0)


if __name__ == "__main__":
    main()
