"""Cost of one evaluation of the joint model's potential and gradient (prints figures).

For one simulated country per scenario (seeded), times ``value_and_grad`` of the
compiled potential on the experiment's two layouts: the dense table of
(history, platform set, answer, hours) cells and the respondents' distinct
groups. The model uses the dense table only when it has no more cells than
there are groups (:func:`crowdcensus.synthesis.model.use_dense`); this shows why.
A Laplace fit costs a few hundred evaluations (three BFGS searches), a NUTS fit
tens of thousands.

    .venv/bin/python benchmarks/likelihood.py
    .venv/bin/python benchmarks/likelihood.py heterogeneous subset --repeat 200
    .venv/bin/python benchmarks/likelihood.py heterogeneous --set experiment.waves=11
    .venv/bin/python benchmarks/likelihood.py my-scenario.toml   # a scenario file

``--set FIELD=VALUE`` changes one field of every scenario (as ``crowdcensus validate
--vary`` does); 11 weekly waves span 77 days, so the model has arrivals and departures.
``--silent SHARE`` blanks the platforms question of that share of the respondents
(drawn at random), whose term is a sum over the sets that hold where they answered::

    .venv/bin/python benchmarks/likelihood.py subset --silent 0.5
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np


def main(scenarios: list[str], repeat: int, changes: list[str] = (), silent: float = 0.0
         ) -> None:
    import crowdcensus.synthesis.model as model
    from crowdcensus.pipeline import _read
    from crowdcensus.simulate.outputs import write_simulation
    from crowdcensus.simulate.scenario import load_scenario
    from crowdcensus.simulate.world import generate_world
    from crowdcensus.study import load_study
    from crowdcensus.synthesis.data import synthesis_data
    from crowdcensus.synthesis.inference import CompiledModel, _jax
    from crowdcensus.synthesis.model import initial_values

    _jax()
    import jax.numpy as jnp
    import pandas as pd

    chosen = model.use_dense
    for name in scenarios:
        scenario = load_scenario(name)
        for change in changes:
            field, value = change.split("=", 1)
            scenario = scenario.varied(field, value)
        world = generate_world(scenario, np.random.default_rng(1))
        with tempfile.TemporaryDirectory() as tmp:
            study = load_study(write_simulation(world, tmp))
            if silent:
                path = study.responses_path()
                table = pd.read_csv(path, dtype=str, keep_default_na=False)
                workers = table["worker_hash"].unique()
                quiet = np.random.default_rng(5).choice(workers, int(silent * len(workers)),
                                                        replace=False)
                table.loc[table["worker_hash"].isin(quiet), "platforms_registered"] = ""
                table.to_csv(path, index=False)
            data = synthesis_data(study, _read(study)[0])
        line = [f"{name:14s}"]
        for layout in ("dense", "groups"):
            model.use_dense = lambda cells, groups, d=layout: d == "dense"
            try:
                cfg, arrays = model.model_inputs(data)
            finally:
                model.use_dense = chosen
            arrays = {k: jnp.asarray(v) for k, v in arrays.items()}
            compiled = CompiledModel.get(cfg, arrays)
            init = {k: jnp.asarray(v) for k, v in initial_values(cfg, data).items()
                    if k in compiled.names}
            z = compiled.unconstrain(init, arrays)
            compiled.value_and_grad(z, arrays)[1].block_until_ready()   # compile
            t0 = time.perf_counter()
            for _ in range(repeat):
                _, grad = compiled.value_and_grad(z, arrays)
            grad.block_until_ready()
            size = (int(np.prod(arrays["counts"].shape)) if cfg.dense
                    else len(arrays["k_count"]))
            line.append(f"{layout} ({size:,} {'cells' if cfg.dense else 'groups'}) "
                        f"{1000 * (time.perf_counter() - t0) / repeat:.2f} ms")
        cfg, _ = model.model_inputs(data)
        line.append(f"-> the model uses {'dense' if cfg.dense else 'groups'}"
                    f"{', with churn' if cfg.churn else ''}")
        print("  ".join(line), flush=True)


if __name__ == "__main__":
    from crowdcensus.simulate.scenario import shipped_scenarios

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", default=list(shipped_scenarios()))
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="change one field of every scenario, e.g. experiment.waves=11")
    parser.add_argument("--silent", type=float, default=0.0, metavar="SHARE",
                        help="blank the platforms question of this share of the respondents")
    args = parser.parse_args()
    main(args.scenarios, args.repeat, args.set, args.silent)
