"""Time one fit of the joint model (prints figures; asserts nothing).

For each study (the two bundled examples and a simulated country of 20,000
workers from the ``heterogeneous`` scenario) and each inference (NUTS with the
study's chains, warm-up and draws; Laplace), a fresh Python process reads the
study, builds the model's data and fits it twice. Printed per line:

* ``import``: importing JAX and NumPyro;
* ``first``: the first fit (building, compiling, optimising, sampling);
* ``second``: a second fit of the same data with another seed in the same
  process (what ``crowdcensus validate`` pays per replicate);
* ``leapfrogs``: NUTS's mean number of gradient evaluations per iteration.

A study fit is the one ``crowdcensus run`` makes: where the study has capture
histories and ``experiment.take_up_slope = "average"`` (the default), both take-up
models are fitted at their modes and those that weigh are sampled
(``crowdcensus.synthesis.averaging``); ``P(slope)`` is the slope model's probability.

Each configuration runs "cold" (an empty JAX compilation cache) and then "warm"
(the cache the cold run filled, as a user's next ``crowdcensus run`` finds it).

A simulated study is named ``scenario-workers``, optionally followed by changes of
fields, ``@section.field=value`` each, the value a number or JSON
(``@activity.inattentive_answers=[0,0,0,1]``):
``heterogeneous-20000@experiment.take_up_spread=2.5`` is the country whose take-up
spreads widely from person to person, which the joint model integrates over fifteen
quadrature nodes instead of five.

``--seeds N`` instead fits each study by NUTS with seeds 0 to N-1 in one process
and prints, per fit, its time (the first includes compiling), how many runs the
chains needed (1: the first; each further run doubled the draws, for the
diagnostics or for the interval bounds' precision) and the draws they ended with,
leapfrog steps per draw, divergences, the smallest effective sample size
and the largest R-hat over every quantity, whether either model was sampled a second
time (``again``: ``steps``, with smaller steps after too many divergences; ``mass``,
with the first chains' covariance as the mass matrix after they mixed slowly), and
whether the fit was accepted.

    .venv/bin/python benchmarks/synthesis.py
    .venv/bin/python benchmarks/synthesis.py --studies france-2018 --inference nuts
    .venv/bin/python benchmarks/synthesis.py --studies simulated --seeds 10
    .venv/bin/python benchmarks/synthesis.py --seeds 3 \\
        --studies heterogeneous-20000@experiment.take_up_spread=2.5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STUDIES = ("france-2018", "simulated", "heterogeneous-20000")


def _study(name: str, folder: Path) -> Path:
    if name in ("france-2018", "simulated"):
        return ROOT / "examples" / name / "study.toml"
    import numpy as np

    from crowdcensus.simulate.outputs import write_simulation
    from crowdcensus.simulate.scenario import load_scenario, parse_scenario
    from crowdcensus.simulate.world import generate_world

    name, *changes = name.split("@")
    scenario, workers = name.rsplit("-", 1)
    data = load_scenario(scenario).model_dump(mode="json")
    data["population"]["workers"] = int(workers)
    for change in changes:  # section.field=value, a number or a JSON value ([1,0,0,0])
        path, value = change.split("=", 1)
        section, field = path.split(".", 1)
        data[section][field] = json.loads(value)
    world = generate_world(parse_scenario(data), np.random.default_rng(1))
    return write_simulation(world, folder)


def _data(name: str):
    """The study and the joint model's data for one of STUDIES."""
    from crowdcensus.pipeline import _read
    from crowdcensus.study import load_study
    from crowdcensus.synthesis.data import synthesis_data

    with tempfile.TemporaryDirectory() as tmp:
        study = load_study(_study(name, Path(tmp)))
        # the responses read as `crowdcensus run` reads them
        return study, synthesis_data(study, _read(study)[0])


def _fit(data, study, method: str, seed: int, predictive: bool = True):
    """One study fit as ``crowdcensus run`` makes it: under ``experiment.take_up_slope =
    "average"`` (the default, where there are capture histories) the two take-up models,
    fitted at their modes and sampled where they weigh (synthesis/averaging.py), NUTS's
    chains running on while an interval bound is imprecise (``summary.imprecise_bounds``).
    """
    from crowdcensus.synthesis.averaging import fit_readings
    from crowdcensus.synthesis.inference import fit_joint
    from crowdcensus.synthesis.summary import imprecise_bounds

    cfg = study.synthesis
    options = {"chains": cfg.chains, "warmup": cfg.warmup, "draws": cfg.draws,
               "run_on": imprecise_bounds(study.settings.level)}
    if data.capture is None or data.capture.take_up_slope != "average":
        return fit_joint(data, method=method, seed=seed, predictive=predictive, **options)
    return fit_readings(data, method, predictive, seed=seed, **options)


def child(name: str, inference: str) -> dict:
    t0 = time.perf_counter()
    from crowdcensus.synthesis.inference import _jax

    _jax()
    import numpyro  # noqa: F401

    t1 = time.perf_counter()
    study, data = _data(name)
    times, post = [], None
    for seed in (1, 2):
        t = time.perf_counter()
        post = _fit(data, study, inference, seed)
        times.append(time.perf_counter() - t)
    diag = getattr(post, "diagnostics", {}) or {}
    return {"import": t1 - t0, "first": times[0], "second": times[1],
            "leapfrogs": diag.get("leapfrog_steps_sampling", float("nan")),
            "converged": bool(post.converged)}


def seeds(name: str, n: int) -> None:
    """NUTS fits of one study with seeds 0 .. n-1, one line each."""
    from crowdcensus.synthesis.inference import MASS_FROM_DRAWS, RETRIED

    study, data = _data(name)
    print(f"{'study':22s} {'seed':>4s} {'time':>6s} {'runs':>4s} {'draws':>5s} {'leapfrogs':>9s} "
          f"{'divergent':>9s} {'min ESS':>7s} {'max R-hat':>9s} {'nodes':>5s} {'P(slope)':>8s}"
          f" {'again':>5s}  accepted")
    for seed in range(n):
        t = time.perf_counter()
        post = _fit(data, study, "nuts", seed, predictive=False)
        d = post.diagnostics
        again = "mass" if d.get(MASS_FROM_DRAWS) else "steps" if d.get(RETRIED) else "no"
        print(f"{name:22s} {seed:4d} {time.perf_counter() - t:5.1f}s {d['runs']:4d} "
              f"{d['draws']:5d} "
              f"{d['leapfrog_steps_sampling']:9.1f} {d['divergences']:9d} "
              f"{d['min_ess']:7.0f} {d['max_r_hat']:9.3f} {d.get('heterogeneity_nodes', 5):5d} "
              f"{d.get('slope_probability', float('nan')):8.3f} "
              f"{again:>5s}  {post.converged}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--studies", nargs="+", default=list(STUDIES))
    ap.add_argument("--inference", nargs="+", default=["nuts", "laplace"],
                    choices=["nuts", "laplace"])
    ap.add_argument("--seeds", type=int, default=0,
                    help="NUTS fits with seeds 0..N-1 in one process, one line each")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.seeds:
        for name in args.studies:
            seeds(name, args.seeds)
        return
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    print(f"{'study':22s} {'inference':9s} {'cache':5s} {'import':>7s} {'first':>7s} "
          f"{'second':>7s} {'leapfrogs':>9s}  converged")
    for name in args.studies:
        for inference in args.inference:
            with tempfile.TemporaryDirectory() as cache:
                env = {**os.environ, "CROWDCENSUS_JAX_CACHE": cache}
                for state in ("cold", "warm"):
                    proc = subprocess.run([sys.executable, __file__, "--child", name, inference],
                                          env=env, capture_output=True, text=True, check=False)
                    if proc.returncode:
                        print(f"{name:22s} {inference:9s} {state:5s} failed: "
                              f"{proc.stderr.strip().splitlines()[-1]}")
                        continue
                    r = json.loads(proc.stdout.strip().splitlines()[-1])
                    print(f"{name:22s} {inference:9s} {state:5s} {r['import']:6.1f}s "
                          f"{r['first']:6.1f}s {r['second']:6.1f}s {r['leapfrogs']:9.1f}  "
                          f"{r['converged']}", flush=True)


if __name__ == "__main__":
    main()
