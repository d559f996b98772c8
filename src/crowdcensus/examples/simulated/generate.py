"""Generate the SIMULATED responses of examples/simulated (python generate.py).

A made-up country of 10,000 registered micro-workers on three made-up
platforms, with a known truth:

=================  =====  ======================  ==================
answer             share  weekly presence p       mean platforms k
=================  =====  ======================  ==================
several_weekly     0.04   0.95                    2.0
weekly             0.06   0.60                    1.7
monthly            0.15   0.25                    1.4
less_often         0.75   0.08                    1.2
=================  =====  ======================  ==================

True tiers: very active 1,000; regular 2,500; occasional 10,000; true
multi-homing 1.292. The task is posted for six weekly waves; a worker present
in a week notices and answers it with probability 0.6, so the chance of
answering in a given week is 0.6 p (the study file's ``p_week``).
Worker identifiers are random hex strings standing for the collection
service's keyed hashes. Declared and audience figures in study.toml are
computed from the same simulated population (see the comments there).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

N = 10_000
CATEGORIES = ["several_weekly", "weekly", "monthly", "less_often"]
ANSWERS = ["Several times a week", "Weekly", "Monthly", "Less often"]
SHARES = [0.04, 0.06, 0.15, 0.75]
P_WEEK = np.array([0.95, 0.60, 0.25, 0.08])
MEAN_K = np.array([2.0, 1.7, 1.4, 1.2])
NOTICE = 0.6
WAVES = 6
PLATFORMS = ["Platform A", "Platform B", "Platform C"]
PLATFORM_WEIGHTS = np.array([0.45, 0.35, 0.20])


def simulate(seed: int = 20240601) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The population (one row per worker) and the responses (one row per answer)."""
    rng = np.random.default_rng(seed)
    counts = np.round(np.array(SHARES) * N).astype(int)
    cat = np.repeat(np.arange(4), counts)
    k = 1 + rng.binomial(2, (MEAN_K[cat] - 1) / 2)
    registered = [rng.choice(3, size=kk, replace=False, p=PLATFORM_WEIGHTS) for kk in k]
    ids = [rng.bytes(16).hex() for _ in range(N)]
    rows = []
    answer_prob = NOTICE * P_WEEK[cat]
    for w in range(1, WAVES + 1):
        caught = np.flatnonzero(rng.random(N) < answer_prob)
        for i in caught:
            regs = registered[i]
            rows.append({
                "worker_hash": ids[i], "wave": f"w{w}",
                "platform": PLATFORMS[int(rng.choice(regs))],
                "frequency": ANSWERS[cat[i]],
                "platforms_registered": ";".join(PLATFORMS[j] for j in sorted(regs)),
            })
    population = pd.DataFrame({"category": np.array(CATEGORIES)[cat], "k": k})
    for j, name in enumerate(PLATFORMS):
        population[name] = [j in regs for regs in registered]
    return population, pd.DataFrame(rows)


if __name__ == "__main__":
    pop, responses = simulate()
    here = Path(__file__).parent
    responses.to_csv(here / "responses.csv", index=False)
    regular = pop["category"] != "less_often"
    print("respondents:", responses["worker_hash"].nunique(), "rows:", len(responses))
    print("true multi-homing:", pop["k"].mean())
    for name in PLATFORMS:
        print(f"{name}: registered {int(pop[name].sum())}, "
              f"monthly worker visitors {int(pop.loc[regular, name].sum())}")
