"""PyMC or NumPyro for the joint model? Figures on this machine (prints; asserts nothing).

One small joint model of the kind ``crowdcensus`` fits is written twice, once
in PyMC and once in NumPyro, with the same priors and the same arithmetic, and
fitted by NUTS (2 chains, 500 warm-up + 1,000 draws) on simulated data with a
known truth. Each configuration runs in its own fresh Python process:

* ``pymc``    -- ``pm.sample`` (PyMC's own NUTS, C backend of PyTensor, chains in
  two processes); the second fit swaps the data with ``pm.set_data``;
* ``nutpie``  -- the same PyMC model compiled by ``nutpie`` (numba backend);
  the second fit uses ``CompiledModel.with_data``;
* ``numpyro`` -- ``MCMC(NUTS, chain_method="parallel", jit_model_args=True)``
  on two host devices (``numpyro.set_host_device_count(2)``), 64-bit floats;
  the second fit calls ``run`` again with new arrays of the same shapes.

Each process reports the import time of the library, the wall time of the
first fit (model building, compilation and sampling), and of a second fit on a
new data set of the same shapes. A process is "cold" when its on-disk caches
start empty (PyTensor's compiledir, numba's cache, JAX's persistent
compilation cache: all pointed at a fresh directory) and "warm" when it
re-uses the directory of the previous cold run of the same configuration, as a
user's next ``crowdcensus`` run would. The parent process then computes, with
one implementation for all (ArviZ), the bulk effective sample size of N, the
largest split R-hat, and the posterior of N against the truth. Install sizes
are the disk usage (as ``du``) of the files each distribution lists in its
RECORD, over the library and the dependencies that ``crowdcensus`` does not
already need.

The data (one seed per data set): N = 20,000 workers whose weekly visit rate
is 3, 1.4, 0.5 or 0.08 (4%, 8%, 20%, 68%) times a Gamma(2, scale 1/2) factor;
6 weekly waves, each answered with probability 0.6 (1 - exp(-rate));
respondents report a frequency category (rate >= 2, >= 1, >= 12/52, else),
moved to a neighbouring category with probability 0.1; 3 platforms on which a
worker is registered with probability m = (0.7, 0.45, 0.3), declaring their
registrations with a 10% log-normal error; monthly audience = workers
registered there with a visit in the month, divided by 0.85, 20% error.

The model (7 free parameters; respondents grouped into the 63 x 4 possible
(history, category) rows with counts, so both libraries see the same 252 rows):

* Huggins' conditional likelihood: first capture logit p_c = alpha_c
  (alpha_c ~ N(0, 2.5^2), c the reported category), recapture logit
  alpha_c + beta (beta ~ N(0, 1)); each caught history contributes
  log P(history | c) - log(1 - (1 - p_c)^6);
* N = sum_c n_c / (1 - (1 - p_c)^6) (Horvitz-Thompson), N_regular the same
  sum over categories 1-3 (visits at least monthly);
* log D_k ~ N(log(N m_k b), 0.1^2), log b ~ half-normal(0.2);
* log V_k ~ N(log(N_regular v_k / w), 0.2^2), w ~ Beta(6, 1.5), where v_k is
  the expected number of monthly visitors of platform k per regular worker
  (given, like m_k, at its value under the simulation).

    .venv/bin/pip install numpyro pymc nutpie   # not dependencies of crowdcensus
    .venv/bin/python benchmarks/ppl_choice.py                     # 2 cold + 1 warm run each
    .venv/bin/python benchmarks/ppl_choice.py --configs numpyro --repeats 1 --no-warm
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

import numpy as np

N_WORKERS = 20_000
WAVES = 6
BASE_RATES = np.array([3.0, 1.4, 0.5, 0.08])
BASE_SHARES = np.array([0.04, 0.08, 0.20, 0.68])
CUTS = (2.0, 1.0, 12 / 52)  # reported categories: >= 2/week, >= 1/week, >= monthly, rarer
MISREPORT = 0.1
SHARE_ON = np.array([0.7, 0.45, 0.3])  # m_k: share of workers registered on platform k
SD_DECLARED, SD_AUDIENCE, WORKER_SHARE = 0.1, 0.2, 0.85
WEEKS_PER_MONTH = 52 / 12
WARMUP, DRAWS, CHAINS = 500, 1000, 2
PARAMS = ["alpha", "beta", "log_b", "w", "N"]
CONFIGS = ("pymc", "nutpie", "numpyro")
LIBRARIES = {"pymc": ["pymc"], "nutpie": ["nutpie", "pymc"], "numpyro": ["numpyro"]}


# ---------------------------------------------------------------- data

def _grid() -> dict[str, np.ndarray]:
    """The 63 x 4 (history, category) rows: first capture, recaptures, misses, category."""
    hist = (np.arange(1, 2**WAVES)[:, None] >> np.arange(WAVES)[::-1]) & 1
    first = hist.argmax(axis=1)
    recap = hist.sum(axis=1) - 1
    rows = {"first": first, "recap": recap, "miss": WAVES - 1 - first - recap}
    out = {k: np.repeat(v, 4).astype(float) for k, v in rows.items()}
    out["cat"] = np.tile(np.arange(4), len(hist))
    out["hist_code"] = np.repeat(np.arange(1, 2**WAVES), 4)
    return out


def visitors_per_regular() -> np.ndarray:
    """v_k: expected monthly visitors of platform k per worker visiting at least monthly.

    With rate r = base x G, G ~ Gamma(2, scale 1/2): E exp(-a r) = (1 + a base / 2)^-2 and
    P(r >= x) = (1 + 2x / base) exp(-2x / base).
    """
    a = WEEKS_PER_MONTH
    visit = BASE_SHARES @ (1 - (1 + a * BASE_RATES / 2) ** -2.0)
    x = CUTS[2]
    regular = BASE_SHARES @ ((1 + 2 * x / BASE_RATES) * np.exp(-2 * x / BASE_RATES))
    return SHARE_ON * visit / regular


def simulate(seed: int) -> dict[str, np.ndarray]:
    """One data set as the arrays both models take (shapes do not depend on the seed)."""
    rng = np.random.default_rng(seed)
    rate = rng.choice(BASE_RATES, size=N_WORKERS, p=BASE_SHARES) * rng.gamma(2.0, 0.5,
                                                                              N_WORKERS)
    answer = rng.random((N_WORKERS, WAVES)) < (0.6 * -np.expm1(-rate))[:, None]
    caught = answer.any(axis=1)
    cat = np.select([rate >= CUTS[0], rate >= CUTS[1], rate >= CUTS[2]], [0, 1, 2], 3)
    move = rng.random(N_WORKERS) < MISREPORT
    step = np.where(cat == 0, 1, np.where(cat == 3, -1, rng.choice([-1, 1], N_WORKERS)))
    cat = np.where(move, cat + step, cat)
    code = answer[caught] @ (1 << np.arange(WAVES)[::-1])
    counts = np.zeros((2**WAVES - 1, 4))
    np.add.at(counts, (code - 1, cat[caught]), 1)
    registered = rng.random((N_WORKERS, 3)) < SHARE_ON
    visits = rng.poisson(rate * WEEKS_PER_MONTH) > 0
    declared = registered.sum(axis=0) * np.exp(rng.normal(0, SD_DECLARED, 3))
    audience = (registered & visits[:, None]).sum(axis=0) / WORKER_SHARE
    audience = audience * np.exp(rng.normal(0, SD_AUDIENCE, 3))
    g = _grid()
    return {"counts": counts.ravel(), "first": g["first"], "recap": g["recap"],
            "miss": g["miss"], "cat": g["cat"], "onehot": np.eye(4)[g["cat"]],
            "regular": np.array([1.0, 1.0, 1.0, 0.0]), "log_m": np.log(SHARE_ON),
            "log_v": np.log(visitors_per_regular()), "log_D": np.log(declared),
            "log_V": np.log(audience)}


# ---------------------------------------------------------------- the two models

def pymc_model(data: dict[str, np.ndarray]):
    import pymc as pm
    import pytensor.tensor as pt

    with pm.Model() as model:
        d = {k: pm.Data(k, v) for k, v in data.items() if k != "cat"}
        alpha = pm.Normal("alpha", 0.0, 2.5, shape=4)
        beta = pm.Normal("beta", 0.0, 1.0)
        log_b = pm.HalfNormal("log_b", 0.2)
        w = pm.Beta("w", 6.0, 1.5)
        a = alpha[data["cat"]]
        log_1mp = -pt.softplus(a)
        log_pi = pt.log(-pt.expm1(WAVES * log_1mp))
        ll = (d["first"] * log_1mp - pt.softplus(-a) - d["recap"] * pt.softplus(-(a + beta))
              - d["miss"] * pt.softplus(a + beta) - log_pi)
        pm.Potential("huggins", pt.sum(d["counts"] * ll))
        n_cat = pt.dot(d["counts"], d["onehot"])
        inv_pi = 1.0 / -pt.expm1(WAVES * -pt.softplus(alpha))
        N = pm.Deterministic("N", pt.sum(n_cat * inv_pi))
        N_reg = pt.sum(d["regular"] * n_cat * inv_pi)
        pm.Normal("D", pt.log(N) + d["log_m"] + log_b, SD_DECLARED, observed=d["log_D"])
        pm.Normal("V", pt.log(N_reg) + d["log_v"] - pt.log(w), SD_AUDIENCE,
                  observed=d["log_V"])
    return model


def numpyro_model(counts, first, recap, miss, cat, onehot, regular, log_m, log_v, log_D,
                  log_V):
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    from jax.nn import softplus

    alpha = numpyro.sample("alpha", dist.Normal(0.0, 2.5).expand([4]).to_event(1))
    beta = numpyro.sample("beta", dist.Normal(0.0, 1.0))
    log_b = numpyro.sample("log_b", dist.HalfNormal(0.2))
    w = numpyro.sample("w", dist.Beta(6.0, 1.5))
    a = alpha[cat]
    log_1mp = -softplus(a)
    log_pi = jnp.log(-jnp.expm1(WAVES * log_1mp))
    ll = (first * log_1mp - softplus(-a) - recap * softplus(-(a + beta))
          - miss * softplus(a + beta) - log_pi)
    numpyro.factor("huggins", jnp.sum(counts * ll))
    n_cat = counts @ onehot
    inv_pi = 1.0 / -jnp.expm1(WAVES * -softplus(alpha))
    N = numpyro.deterministic("N", jnp.sum(n_cat * inv_pi))
    N_reg = jnp.sum(regular * n_cat * inv_pi)
    numpyro.sample("D", dist.Normal(jnp.log(N) + log_m + log_b, SD_DECLARED).to_event(1),
                   obs=log_D)
    numpyro.sample("V", dist.Normal(jnp.log(N_reg) + log_v - jnp.log(w), SD_AUDIENCE)
                   .to_event(1), obs=log_V)


# ---------------------------------------------------------------- one configuration (child)

def _draws_pymc(idata) -> dict[str, np.ndarray]:
    post = idata.posterior
    out = {k: np.asarray(post[k]) for k in PARAMS}
    div = idata.sample_stats.get("diverging", None)
    out["divergences"] = np.array(int(np.asarray(div).sum()) if div is not None else -1)
    return out


def child(config: str, seeds: tuple[int, int], cache: str, out: str) -> None:
    """Import, fit on seeds[0], fit again on seeds[1]; save draws and timings to ``out``."""
    datasets = [simulate(s) for s in seeds]
    times, draws = {}, {}
    t0 = time.perf_counter()
    if config == "numpyro":
        import numpyro

        numpyro.set_host_device_count(CHAINS)
        numpyro.enable_x64()
        import jax
        from numpyro.infer import MCMC, NUTS
    else:
        import pymc as pm

        if config == "nutpie":
            import nutpie
    times["import"] = time.perf_counter() - t0

    for i, data in enumerate(datasets):
        t0 = time.perf_counter()
        if config == "numpyro":
            if i == 0:
                jax.config.update("jax_compilation_cache_dir", cache)
                jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
                mcmc = MCMC(NUTS(numpyro_model), num_warmup=WARMUP, num_samples=DRAWS,
                            num_chains=CHAINS, chain_method="parallel", progress_bar=False,
                            jit_model_args=True)
            arrays = {k: (v.astype(np.int32) if k == "cat" else v) for k, v in data.items()}
            mcmc.run(jax.random.PRNGKey(seeds[i]), extra_fields=("diverging",), **arrays)
            got = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
            got["divergences"] = np.array(int(mcmc.get_extra_fields()["diverging"].sum()))
        elif config == "pymc":
            if i == 0:
                model = pymc_model(data)
            with model:
                if i > 0:
                    pm.set_data({k: v for k, v in data.items() if k != "cat"})
                idata = pm.sample(draws=DRAWS, tune=WARMUP, chains=CHAINS, cores=CHAINS,
                                  random_seed=seeds[i], progressbar=False,
                                  compute_convergence_checks=False)
            got = _draws_pymc(idata)
        else:
            if i == 0:
                compiled = nutpie.compile_pymc_model(pymc_model(data))
                run = compiled
            else:
                run = compiled.with_data(**{k: v for k, v in data.items() if k != "cat"})
            idata = nutpie.sample(run, draws=DRAWS, tune=WARMUP, chains=CHAINS, cores=CHAINS,
                                  seed=seeds[i], progress_bar=False)
            got = _draws_pymc(idata)
        times[f"fit{i + 1}"] = time.perf_counter() - t0
        draws.update({f"fit{i + 1}_{k}": v for k, v in got.items()})
    np.savez(out, **draws, times=json.dumps(times))


# ---------------------------------------------------------------- parent

def install_mb(config: str) -> tuple[float, float]:
    """MB on disk: (the library's own distributions, all it adds to crowdcensus's needs)."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    def closure(names):
        seen, todo = set(), [canonicalize_name(n) for n in names]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            try:
                dist = metadata.distribution(name)
            except metadata.PackageNotFoundError:
                continue
            seen.add(name)
            for text in dist.requires or []:
                req = Requirement(text)
                if req.marker is None or req.marker.evaluate({"extra": ""}):
                    todo.append(canonicalize_name(req.name))
        return seen

    def mb(names):
        total = 0
        for name in names:
            for f in metadata.distribution(name).files or []:
                p = Path(f.locate())
                if p.is_file():
                    total += p.stat().st_blocks * 512
        return total / 1e6

    own = {"pymc": ["pymc", "pytensor"], "nutpie": ["nutpie"],
           "numpyro": ["numpyro", "jax", "jaxlib"]}[config]
    added = closure(LIBRARIES[config]) - closure(["crowdcensus"])
    return mb(own), mb(added)


def diagnostics(draws: dict, fit: str) -> dict:
    import arviz as az
    import xarray as xr

    post = {k: draws[f"{fit}_{k}"] for k in PARAMS}
    ds = xr.Dataset({k: (("chain", "draw") + tuple(f"{k}_{j}" for j in range(v.ndim - 2)), v)
                     for k, v in post.items()})
    rhat = az.rhat(ds)
    N = post["N"].ravel()
    lo, hi = np.percentile(N, [2.5, 97.5])
    return {"ess_N": float(az.ess(ds, method="bulk")["N"]),
            "rhat": max(float(rhat[k].max()) for k in PARAMS),
            "N": (float(N.mean()), float(lo), float(hi)),
            "div": int(draws[f"{fit}_divergences"])}


def run_config(config: str, seeds: tuple[int, int], cache: str) -> dict:
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "draws.npz"
        env = dict(os.environ, PYTENSOR_FLAGS=f"compiledir={cache}/pytensor",
                   NUMBA_CACHE_DIR=f"{cache}/numba", JAX_PLATFORMS="cpu")
        cmd = [sys.executable, __file__, "--child", config, "--seeds", *map(str, seeds),
               "--cache", f"{cache}/jax", "--out", str(out)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"{config}: child failed\n{proc.stderr[-3000:]}")
        with np.load(out) as f:
            draws = {k: f[k] for k in f.files}
    times = json.loads(str(draws.pop("times")))
    return {"times": times, "load": (load0, os.getloadavg()[0]),
            "fits": [diagnostics(draws, f"fit{i}") for i in (1, 2)]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", nargs="+", choices=CONFIGS, default=list(CONFIGS))
    ap.add_argument("--repeats", type=int, default=2, help="cold runs of each configuration")
    ap.add_argument("--no-warm", action="store_true", help="skip the warm-cache run")
    ap.add_argument("--child", choices=CONFIGS, help=argparse.SUPPRESS)
    ap.add_argument("--seeds", type=int, nargs=2, default=(11, 12), help=argparse.SUPPRESS)
    ap.add_argument("--cache", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, tuple(args.seeds), args.cache, args.out)
        return

    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print(f"truth N = {N_WORKERS:,}; data sets: seeds 11 (first fit) and 12 (second fit); "
          f"{CHAINS} chains x ({WARMUP} warm-up + {DRAWS} draws)")
    for config in args.configs:
        own, added = install_mb(config)
        print(f"install {config:8s} own {own:6.0f} MB   added to crowdcensus {added:6.0f} MB")
    rows = []
    with tempfile.TemporaryDirectory() as root:
        plan = [(c, f"cold {r + 1}") for r in range(args.repeats) for c in args.configs]
        plan += [] if args.no_warm else [(c, "warm") for c in args.configs]
        last_cold: dict[str, str] = {}
        for config, label in plan:
            if label != "warm":
                last_cold[config] = tempfile.mkdtemp(dir=root)
            res = run_config(config, (11, 12), last_cold[config])
            rows.append((config, label, res))
            t = res["times"]
            print(f"{config:8s} {label:7s} import {t['import']:5.1f} s  fit1 {t['fit1']:6.1f} s  "
                  f"fit2 {t['fit2']:6.1f} s  load {res['load'][0]:.2f}->{res['load'][1]:.2f}",
                  flush=True)
    print()
    head = (f"{'config':8s} {'run':7s} {'import s':>8s} {'fit1 s':>7s} {'fit2 s':>7s} "
            f"{'ESS(N)':>13s} {'ESS/s fit2':>10s} {'R-hat':>6s} {'div':>5s}  "
            f"N fit1 mean [95%]           N fit2 mean [95%]")
    print(head)
    for config, label, res in rows:
        t, f1, f2 = res["times"], *res["fits"]
        n1, n2 = f1["N"], f2["N"]
        print(f"{config:8s} {label:7s} {t['import']:8.1f} {t['fit1']:7.1f} {t['fit2']:7.1f} "
              f"{f1['ess_N']:6.0f}/{f2['ess_N']:6.0f} {f2['ess_N'] / t['fit2']:10.0f} "
              f"{max(f1['rhat'], f2['rhat']):6.3f} {f1['div'] + f2['div']:5d}  "
              f"{n1[0]:6.0f} [{n1[1]:6.0f}, {n1[2]:6.0f}]    "
              f"{n2[0]:6.0f} [{n2[1]:6.0f}, {n2[2]:6.0f}]")
    print(f"\nuptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")


if __name__ == "__main__":
    main()
