"""Time `crowdcensus run` on the bundled examples (prints figures; asserts nothing).

    .venv/bin/python benchmarks/pipeline.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from crowdcensus.pipeline import run_study
from crowdcensus.report import write_report

ROOT = Path(__file__).resolve().parents[1] / "examples"


def main() -> None:
    for name, draws in (("france-2018", 4000), ("france-2018", 100_000), ("simulated", 2000),
                        ("simulated", 10_000)):
        t0 = time.perf_counter()
        results = run_study(ROOT / name / "study.toml", draws=draws)
        t1 = time.perf_counter()
        with tempfile.TemporaryDirectory() as out:
            write_report(results, out)
        t2 = time.perf_counter()
        print(f"{name:12s} draws={draws:>7,d}  estimate+MC+sensitivity {t1 - t0:6.2f} s  "
              f"report {t2 - t1:5.2f} s")


if __name__ == "__main__":
    main()
