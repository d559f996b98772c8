"""Speed of the simulation and of validation replicates (prints figures).

    .venv/bin/python benchmarks/validate.py [REPLICATES]

Times the generation of one country per shipped scenario, and a few
validation replicates (simulate + the whole pipeline) in one process.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from crowdcensus.simulate.scenario import load_scenario, shipped_scenarios
from crowdcensus.simulate.validation import validate_scenarios
from crowdcensus.simulate.world import generate_world


def main(replicates: int = 4) -> None:
    for name in shipped_scenarios():
        sc = load_scenario(name)
        t0 = time.perf_counter()
        world = generate_world(sc, np.random.default_rng(1))
        gen = time.perf_counter() - t0
        t0 = time.perf_counter()
        validate_scenarios([sc], replicates, seed=1, workers=1)
        per = (time.perf_counter() - t0) / replicates
        print(f"{name:14s} {sc.population.workers:,} workers, "
              f"{len(world.responses):,} answers: generate {gen:.2f} s, "
              f"replicate (simulate + pipeline) {per:.2f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 4)
