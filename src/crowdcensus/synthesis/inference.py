"""Fitting the joint model: the posterior mode, a Laplace approximation, and NUTS.

:func:`fit_joint` always starts with the posterior mode (BFGS on the
unconstrained parameters with JAX gradients, from a deterministic start), then either

* ``method="nuts"`` (the default of ``crowdcensus run``): NumPyro's No-U-Turn
  sampler, several chains started at the mode, with R-hat, effective sample
  sizes and divergences checked (:mod:`crowdcensus.synthesis.diagnostics`); its
  mass matrix is the inverse Hessian at the mode, or, where the first chains mix
  slowly because the posterior spreads much wider than that curvature says, the
  covariance of their draws;
* ``method="laplace"``: draws from the normal approximation at the mode
  (the inverse Hessian of the negative log posterior, on the unconstrained
  scale, so that positive quantities stay positive; the activity bins on the
  scale of each band's log total, :func:`_bins_by_band_total`). ``crowdcensus
  validate`` uses it; ``docs/synthesis.md`` shows how it compares with NUTS.

The potential (negative log posterior) and its gradient are compiled once per
model structure and array shapes (:class:`CompiledModel`), and JAX's
persistent compilation cache keeps the compiled programs between runs.
Everything is seeded: the same seed gives the same draws.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from crowdcensus.errors import ModelError
from crowdcensus.synthesis.data import SynthesisData
from crowdcensus.synthesis.evidence import bridge_log_evidence, laplace_log_evidence
from crowdcensus.synthesis.model import (
    HETEROGENEITY_NODES,
    HETEROGENEITY_NODES_WIDE,
    WIDE_HETEROGENEITY,
    ModelConfig,
    check_rows,
    heterogeneity_arrays,
    initial_values,
    joint_model,
    model_inputs,
)

_READY = False


def _jax():
    """Import JAX once: CPU, 64-bit floats, one device per core, a persistent cache."""
    global _READY
    if not _READY:
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_force_host_platform_device_count" not in flags:
            n = max(1, min(4, os.cpu_count() or 1))
            flags += f" --xla_force_host_platform_device_count={n}"
        if "xla_llvm_disable_expensive_passes" not in flags:
            # LLVM's costliest optimisations bring these programs nothing: without them a
            # fit compiles a quarter faster and runs as fast (benchmarks/synthesis.py,
            # 2026-12-04: France NUTS, empty cache, 18.8 s -> 13.7 s; the simulated
            # country's Laplace 20.1 s -> 14.6 s; second fits 5.5 s -> 5.1 s)
            flags += " --xla_llvm_disable_expensive_passes=true"
        os.environ["XLA_FLAGS"] = flags.strip()
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax

    if not _READY:
        jax.config.update("jax_enable_x64", True)
        cache = os.environ.get("CROWDCENSUS_JAX_CACHE",
                               str(Path.home() / ".cache" / "crowdcensus" / "jax"))
        if cache:
            try:
                Path(cache).mkdir(parents=True, exist_ok=True)
                jax.config.update("jax_compilation_cache_dir", cache)
                jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
            except OSError:  # pragma: no cover - a read-only home: no cache
                pass
        _READY = True
    return jax


#: The relative step of the Hessian's forward differences (:meth:`CompiledModel.hessian`):
#: on a `subset` country, 1e-5 left the Laplace standard deviations 3.5e-4 (relative) from
#: central differences', 1e-6 3.5e-5, 1e-7 1e-5 along the diagonal but 3e-5 along the worst
#: direction, and 1e-8 3.4e-4, as rounding takes over (2026-12-07).
HESSIAN_STEP = 1e-6
#: NUTS's trees have at most 2 ** MAX_TREE_DEPTH - 1 leapfrog steps per iteration.
MAX_TREE_DEPTH = 8
#: NUTS's chains advance this many iterations per compiled call (fewer where the warm-up
#: and draws divide by a smaller number only: :func:`_piece_length`), so that a progress
#: bar follows them; the pieces draw what one call draws.
PIECE = 50
#: How many times NUTS's chains may run on, each time doubling the draws, when the
#: diagnostics fail on R-hat or effective sample size.
NUTS_EXTENSIONS = 2
#: How many times chains that pass the diagnostics may run on, each time doubling the
#: draws, while ``fit_joint``'s ``run_on`` finds fault with them (``crowdcensus run``: a
#: tier's interval bound with a Monte Carlo error above 5% of itself). On the France
#: example (2 chains, 300 warm-up draws, 2026-12-07), the occasional tier's lower bound
#: carried an error of 6.0% with 1,000 draws a chain, 6.0% with 2,000, 3.6% with 4,000
#: and 4.0% with 8,000: its long lower tail needs more draws than the diagnostics ask for.
#: 8,000 draws a chain took 3.2 s, 1.2 s more than 4,000.
PRECISION_EXTENSIONS = 4
#: Those run-ons stop, with the warning on the bounds' error left to say the rest, before
#: one that would take more than this many seconds, all of them together, at the
#: nominal cost of a gradient (:func:`nominal_gradient_seconds`): a cheap model runs on
#: (France's tiny one, 0.04 ms a gradient), one whose sampling takes minutes does not
#: (a `subset` country, 6 ms a gradient and 36 leapfrog steps a draw: 2 minutes for its
#: first run-on). The cost is reckoned from the arrays' sizes and the leapfrog steps,
#: not timed, so that the same seed gives the same draws on any machine.
PRECISION_BUDGET = 30.0
#: A gradient's nominal cost in seconds: a fixed part and a part per element of the
#: model's arrays. Measured on 2 cores (2026-12-07; gradient, elements): France 0.028 ms,
#: 146; the simulated example 0.49 ms, 6,271; `small` 0.62 ms, 2,973; `heterogeneous`
#: 0.81 ms, 16,515; `churn` 1.3 ms, 13,955; `subset` 6.2 ms, 135,918 (20,000 workers).
GRADIENT_COST = (3e-5, 5e-8)
#: The acceptance rate NUTS adapts its step size to; a fit with too many divergent
#: transitions is sampled once more from the mode with :data:`RETRY_TARGET_ACCEPT`,
#: which takes smaller steps.
TARGET_ACCEPT = 0.9
RETRY_TARGET_ACCEPT = 0.97
#: ``Posterior.diagnostics`` key of the first chains' problems, where the fit was sampled
#: a second time (``diagnostics["target_accept"]`` then is the second target).
RETRIED = "first_problems"
#: First chains that mix too slowly for running on to help (divergences within the
#: limit, but an effective sample size below the target over 2 ** NUTS_EXTENSIONS, which
#: the run-ons' doubled and quadrupled draws would not bring up to the target) and whose
#: draws spread more than this many times wider than the inverse Hessian at the mode
#: says, along some direction, are sampled once more from the mode with the draws'
#: covariance as the mass matrix: the Hessian misjudged the posterior's scale there, and
#: more draws with the same mass mix no faster. Other chains that fall short run on; if
#: they still fall short after the run-ons and all their draws spread this much wider,
#: they too are sampled once more, with the covariance of all their draws.
MASS_MISMATCH = 2.0
#: ``Posterior.diagnostics`` key of that spread (the first chains' largest ratio of
#: standard deviations), where the second chains' mass matrix came from the draws.
MASS_FROM_DRAWS = "mass_from_draws"
#: A criterion for NUTS's chains to run on (``fit_joint(run_on=...)``): given the draws
#: by site, each (chains, draws, ...), why they should run on in a few words (a
#: parenthesis may follow), or None when they may stop.
RunOn = Callable[[dict], str | None]


class CompiledModel:
    """The joint model of one structure (:class:`ModelConfig`), compiled.

    Functions take the flat unconstrained parameter vector and the arrays, so
    data sets of the same shapes reuse one compiled program.
    """

    #: by structure and by the arrays' shapes (the number of waves, for one, sets the
    #: number of wave effects: the same structure with other shapes is another model)
    _cache: dict[tuple, CompiledModel] = {}

    def __init__(self, cfg: ModelConfig, arrays: dict) -> None:
        jax = _jax()
        from jax.flatten_util import ravel_pytree
        from numpyro.handlers import seed, substitute, trace
        from numpyro.infer.util import constrain_fn, potential_energy, unconstrain_fn

        self.cfg = cfg
        self._runners: dict = {}

        # ImproperUniform sites cannot be sampled: give them a value while tracing
        def with_values(arr):
            fixed = {"log_uncaught": 0.0, "log_workers": 0.0}
            tr = trace(substitute(seed(joint_model, 0), data=fixed)).get_trace(cfg, arr)
            return {k: s["value"] for k, s in tr.items()
                    if s["type"] == "sample" and not s["is_observed"]}

        # shapes on the unconstrained scale (a simplex has one coordinate fewer)
        shapes = jax.eval_shape(
            lambda arr: unconstrain_fn(joint_model, (cfg, arr), {}, with_values(arr)), arrays)
        self.names = sorted(shapes)
        #: where each parameter sits in the flat vector (names in sorted order, as raveled)
        self.slices, start = {}, 0
        for k in self.names:
            size = int(np.prod(shapes[k].shape))
            self.slices[k], start = slice(start, start + size), start + size
        template = {k: jax.numpy.zeros(shapes[k].shape) for k in self.names}
        _, self.unravel = ravel_pytree(template)
        self.size = start
        args = lambda arr: (cfg, arr)  # noqa: E731

        def pe(z, arr):
            return potential_energy(joint_model, args(arr), {}, self.unravel(z))

        # the model is traced once, by `potential`; its gradient and the sampler
        # differentiate that trace instead of tracing the model again
        self.potential = jax.jit(pe)
        self.value_and_grad = jax.jit(jax.value_and_grad(self.potential))
        self.unconstrain = jax.jit(
            lambda values, arr: ravel_pytree(unconstrain_fn(joint_model, args(arr), {},
                                                            values))[0])
        from crowdcensus.methods.experiment import TaskExperiment

        def constrained(zs, arr, predictive):
            values = constrain_fn(joint_model, args(arr), {}, jax.vmap(self.unravel)(zs),
                                  return_deterministic=True, batch_ndims=1)
            # what is not returned is not computed (the compiler drops it)
            return {k: v for k, v in values.items()
                    if (k in TaskExperiment.predictive_sites) == predictive}

        #: every parameter and derived quantity but the predictive checks' (draws, d) -> dict
        self.constrain = jax.jit(lambda zs, arr: constrained(zs, arr, False))
        #: the predictive checks' expected counts (draws, d) -> dict
        self.predictive = jax.jit(lambda zs, arr: constrained(zs, arr, True))

    def hessian(self, z, arr) -> np.ndarray:
        """The Hessian of the potential at ``z``: forward differences of its gradient, one
        column per parameter, each step :data:`HESSIAN_STEP` times the coordinate (at least
        1), made symmetric.

        The gradient's program is compiled for the mode's search already; a program of its
        own for the Hessian (forward-over-reverse, row by row) took longer to compile
        than every other program of a Laplace fit together (7.7 of 14 s on a
        `heterogeneous` country with an empty cache). The same differences with the
        gradient vectorised over 10 to 150 points at a time (``jax.vmap``) took 1.4-1.9 s
        against 0.9-1.0 s, after 7-10 s of compiling, on a `subset` country (2026-12-07).
        Until 2026-12-07 they were central differences, two gradients per parameter,
        within 6e-11 of the exact matrix; forward differences take half the gradients
        and leave the Laplace standard deviations within 4e-5 (relative) of the central
        ones, in any direction (:data:`HESSIAN_STEP`)."""
        import jax.numpy as jnp

        z = np.asarray(z, dtype=float)
        steps = HESSIAN_STEP * np.maximum(1.0, np.abs(z))
        at = np.asarray(self.value_and_grad(jnp.asarray(z), arr)[1], dtype=float)
        out = np.empty((z.size, z.size))
        for i, h in enumerate(steps):
            e = np.zeros(z.size)
            e[i] = h
            up = np.asarray(self.value_and_grad(jnp.asarray(z + e), arr)[1], dtype=float)
            out[:, i] = (up - at) / h
        return (out + out.T) / 2

    def nuts_runner(self, warmup: int, target_accept: float = TARGET_ACCEPT):
        """NUTS's compiled programs for one chain: ``init(key, start, inverse mass,
        arrays)`` gives the chain's first state, whose step size adapts to the acceptance
        ``target_accept`` over the first ``warmup`` iterations; ``advance(length)`` gives
        the programs (one chain, and the chains in parallel) that take a state
        ``length`` iterations on, returning the last state and, per iteration, the
        point, whether it diverged, its leapfrog steps and its potential. The warm-up's
        adaptation lives in the state: chains advanced in pieces of any length draw
        what chains advanced at once draw. Returns ``(init, parallel init, advance)``."""
        key = (warmup, target_accept)
        if key not in self._runners:
            jax = _jax()
            from numpyro.infer.hmc import hmc

            init_kernel, sample_kernel = hmc(
                potential_fn_gen=lambda arr: (lambda z: self.potential(z, arr)), algo="NUTS")

            # the mass matrix stays the one given (the Hessian's inverse, or the draws'
            # covariance): adapted during the warm-up, NumPyro's windows estimate it from
            # too few draws (docs/synthesis.md: twice the time on a `subset` country)
            def init(rng, z0, inv_mass, arr):
                return init_kernel(z0, warmup, step_size=0.5, inverse_mass_matrix=inv_mass,
                                   dense_mass=True, target_accept_prob=target_accept,
                                   adapt_mass_matrix=False, max_tree_depth=MAX_TREE_DEPTH,
                                   model_args=(arr,), rng_key=rng)

            programs: dict[int, tuple] = {}

            def advance(length: int) -> tuple:
                if length not in programs:
                    def chain(state, arr):
                        def step(st, _):
                            st = sample_kernel(st, model_args=(arr,))
                            return st, (st.z, st.diverging, st.num_steps, st.potential_energy)

                        return jax.lax.scan(step, state, None, length=length)

                    programs[length] = (jax.jit(chain), jax.pmap(chain, in_axes=(0, None)))
                return programs[length]

            self._runners[key] = (jax.jit(init), jax.pmap(init, in_axes=(0, 0, 0, None)),
                                  advance)
        return self._runners[key]

    @classmethod
    def get(cls, cfg: ModelConfig, arrays: dict) -> CompiledModel:
        key = (cfg, tuple((k, np.shape(v)) for k, v in sorted(arrays.items())))
        if key not in cls._cache:
            cls._cache[key] = cls(cfg, arrays)
        return cls._cache[key]


#: Share of the kernel's limit on a process's memory mappings (``vm.max_map_count``,
#: 65,530 by default) above which :func:`release_compiled` drops the compiled programs.
MAP_SHARE = 0.5


def memory_maps() -> tuple[int, int] | None:
    """This process's memory mappings and the kernel's limit on them (Linux), else None."""
    try:
        with open("/proc/sys/vm/max_map_count") as f:
            limit = int(f.read())
        with open("/proc/self/maps", "rb") as f:
            used = sum(1 for _ in f)
    except (OSError, ValueError):
        return None
    return used, limit


def release_compiled(share: float | None = None) -> bool:
    """Drop every compiled program of this process once it holds more than ``share``
    (default :data:`MAP_SHARE`) of the memory mappings the kernel allows; True if it did.

    Each compiled XLA program keeps its machine code in mappings of its own (about
    3,000 for the programs of one model structure), and a process that fits many
    structures in turn (``crowdcensus validate`` over many scenarios, a worker
    receiving them one after another) reached the limit after about 20: LLVM then
    failed with "Cannot allocate memory" and the worker died, taking the run with it.
    :func:`fit_joint` calls it before it compiles. Dropped programs are compiled again
    when needed (from the persistent cache, when there is one)."""
    if "jax" not in sys.modules:
        return False
    maps = memory_maps()
    if maps is None or maps[0] <= (MAP_SHARE if share is None else share) * maps[1]:
        return False
    import gc

    CompiledModel._cache.clear()
    _jax().clear_caches()
    gc.collect()
    return True


@dataclass
class Posterior:
    """Posterior draws of every parameter and derived quantity.

    Attributes
    ----------
    samples : dict
        Site name -> array of draws (first axis: draws, chains concatenated).
    method : str
        ``"nuts"`` or ``"laplace"``.
    mode : dict
        The posterior mode (constrained values and derived quantities).
    diagnostics : dict
        For NUTS: ``r_hat`` and ``ess`` per scalar quantity, ``divergences``,
        ``chains``; for Laplace: whether the Hessian was positive definite.
    converged : bool
        Whether the diagnostics pass (see :mod:`crowdcensus.synthesis.diagnostics`).
    problems : list of str
        What failed, in words.
    predictive : dict
        The predictive checks' expected counts, on at most :data:`PREDICTIVE_DRAWS`
        draws spread evenly over ``samples`` (their own first axis).
    precision : ndarray or None
        The Hessian of the negative log posterior at the mode, on the unconstrained scale
        (parameters in :class:`CompiledModel`'s order), which a close model's mode search
        can start from (``fit_joint(start_precision=...)``); None for the mixture of two
        models.
    """

    samples: dict[str, np.ndarray]
    method: str
    mode: dict[str, np.ndarray]
    diagnostics: dict = field(default_factory=dict)
    converged: bool = True
    problems: list[str] = field(default_factory=list)
    predictive: dict[str, np.ndarray] = field(default_factory=dict)
    precision: np.ndarray | None = None


#: Draws on which the predictive checks' expected counts are computed (every
#: history's chance per draw: on ``subset`` 4 s for 1,000 draws, most of a Laplace fit).
PREDICTIVE_DRAWS = 250


def _predictive(model: CompiledModel, flat: np.ndarray, arrays: dict, data: SynthesisData
                ) -> dict:
    """The predictive sites on at most PREDICTIVE_DRAWS rows of ``flat``, evenly spaced,
    every history's rows in place of the fit's where those are fewer
    (:func:`~crowdcensus.synthesis.model.check_rows`)."""
    import jax.numpy as jnp

    arrays = {**arrays, **{k: jnp.asarray(v) for k, v in check_rows(data).items()}}
    keep = np.unique(np.linspace(0, len(flat) - 1, min(len(flat), PREDICTIVE_DRAWS)
                                 ).round().astype(int))
    return {k: np.asarray(v) for k, v in model.predictive(jnp.asarray(flat[keep]),
                                                          arrays).items()}


def _constrained(model: CompiledModel, x_mode: np.ndarray, flat: np.ndarray, arrays: dict
                 ) -> tuple[dict, dict]:
    """The mode's and the draws' constrained values, in one call of the compiled program
    (a call for the mode alone would compile another program, of one row)."""
    import jax.numpy as jnp

    rows = {k: np.asarray(v) for k, v in
            model.constrain(jnp.asarray(np.vstack([x_mode[None, :], flat])), arrays).items()}
    return {k: v[0] for k, v in rows.items()}, {k: v[1:] for k, v in rows.items()}


def _bins_by_band_total(model: CompiledModel, x_mode: np.ndarray, flat: np.ndarray,
                        band: np.ndarray) -> np.ndarray:
    """Laplace draws of the activity bins, normal in each band's log total and log ratios.

    ``flat`` holds draws ``x_mode + d`` of the normal approximation on the model's
    unconstrained scale, where each bin's log count :math:`c_g` is a parameter; ``band``
    gives each bin's band (very active, regular only, occasional only). Mapped, band by
    band, to the log total :math:`\\log \\sum_{g \\in b} e^{c_g}` and the differences
    :math:`c_g - c_{g_1}` (a map whose Jacobian is 1), the posterior has the same mode and
    Hessian, so a normal approximation on that scale is as justified; but it differs away
    from the mode. Normal in each :math:`c_g`, a band's total is a sum of log-normal terms
    whose poorly measured bins give it a long right tail that the posterior does not
    have: the occasional tier's median was 4-8% above NUTS's and its upper bound 1.2-1.6
    times the truth; the regular tier's median 2-4% above NUTS's, its interval 1.5 times
    as wide (``docs/validation-notebook.md``, "What every band's scale changed"). Each draw keeps
    each band's shares (the softmax of ``c_mode + d`` within the band) and takes the
    band's log total from the linear term: the mode's log total plus the mode's shares
    times ``d``.
    """
    if "activity_log_counts" not in model.slices:
        return flat
    from scipy.special import logsumexp

    counts = np.arange(model.slices["activity_log_counts"].start,
                       model.slices["activity_log_counts"].stop)
    band = np.asarray(band)
    out = flat.copy()
    for b in np.unique(band):
        cols = counts[band == b]
        c0, c = x_mode[cols], flat[:, cols]
        log_total0 = logsumexp(c0)
        out[:, cols] = ((log_total0 + (c - c0) @ np.exp(c0 - log_total0))[:, None]
                        + c - logsumexp(c, axis=1, keepdims=True))
    return out


def _stack(outs: list) -> tuple:
    """One chain's outputs per list item -> the same outputs with a leading chain axis."""
    import jax

    return jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *outs)


def _dropped(fitted: tuple[dict, dict], arrays: dict) -> tuple[dict, dict]:
    """The mode and draws without the site the model holds fixed: the chance of seeing
    the task where the take-up has a slope, the slope where it has not (both models share
    one program, the held site touching only its prior)."""
    if "slope_on" not in arrays:
        return fitted
    held = "log_sight" if float(arrays["slope_on"]) else "takeup_slope"
    return tuple({k: v for k, v in d.items() if k != held} for d in fitted)


def _inverse_mass(hess: np.ndarray) -> np.ndarray:
    """The inverse of a Hessian made positive definite (eigenvalues floored)."""
    w, v = np.linalg.eigh((hess + hess.T) / 2)
    w = np.maximum(w, 1e-6 * max(float(np.abs(w).max()), 1.0))
    return (v / w) @ v.T


#: Extra starting points of the mode search, jittered around the first (seeded): on
#: some data sets a search ends in a local mode far below the posterior's highest one
#: (``docs/synthesis.md``). Every one is searched: a jittered search that ends where
#: the first did is no proof that the first found the highest mode (the starting values
#: can sit in a local mode's basin, and a jitter of sd 0.5 often stays in it).
MODE_RESTARTS = 2


#: The mode search stops when no gradient component (of the log posterior, on the
#: unconstrained scale) exceeds this: the point is then within 1e-9 of the highest
#: log density and 0.001 posterior standard deviations of the mode (measured on
#: `heterogeneous`, `subset`, `small`), with about a third fewer gradients than 1e-6.
MODE_GTOL = 1e-4


def find_mode(model: CompiledModel, arrays: dict, start: np.ndarray, seed: int = 0,
              restarts: int = MODE_RESTARTS, precision: np.ndarray | None = None):
    """The posterior mode on the unconstrained scale (BFGS with JAX gradients), the best
    of searches from ``start`` and from ``restarts`` points jittered around it (normal,
    sd 0.5 on the unconstrained scale, seeded by ``seed``). ``precision``: a Hessian of
    the potential near ``start`` (a close model's at its mode), whose inverse (made
    positive definite) starts the search from ``start`` instead of the identity; the
    jittered searches start from the identity, as they are there to leave the start's
    basin."""
    import jax.numpy as jnp
    from scipy.optimize import minimize

    def fun(x):
        v, g = model.value_and_grad(jnp.asarray(x), arrays)
        v = float(v)
        g = np.asarray(g, dtype=float)
        if not np.isfinite(v) or not np.all(np.isfinite(g)):
            return 1e300, np.zeros_like(x)
        return v, g

    def search(x, inverse=None):
        best = None
        for _ in range(5):
            options = {"maxiter": 3000, "gtol": MODE_GTOL}
            if inverse is not None:
                options["hess_inv0"] = inverse
            res = minimize(fun, x, jac=True, method="BFGS", options=options)
            improved = best is None or res.fun < best.fun - 1e-9
            if best is None or res.fun < best.fun:
                best = res
            if res.success or not improved:
                break
            x, inverse = res.x, None
        # BFGS often ends on "precision loss" within rounding of the optimum: accept a
        # small gradient
        best.success = bool(best.success or np.max(np.abs(fun(best.x)[1])) < 1e-2)
        return best

    start = np.asarray(start, dtype=float)
    rng = np.random.default_rng([seed, 2])
    starts = [start] + [start + 0.5 * rng.standard_normal(start.shape) for _ in range(restarts)]
    inverse = None
    if precision is not None and np.shape(precision) == (start.size, start.size):
        inverse = _inverse_mass(np.asarray(precision, dtype=float))
        inverse = (inverse + inverse.T) / 2   # symmetric to the last digit, as BFGS checks
    found = [search(starts[0], inverse)] + [search(x) for x in starts[1:]]
    ok = [r for r in found if r.success and np.isfinite(r.fun)] or found
    return min(ok, key=lambda r: r.fun)


@dataclass
class _Chains:
    """What :func:`_sample` gives: the chains' last state, their draws (chains, draws, d)
    with each draw's leapfrog steps (the warm-up's first) and potential, the constrained
    values by chain, the diagnostics and how many runs the chains took."""

    state: object
    z: np.ndarray
    steps: np.ndarray
    potentials: np.ndarray
    grouped: dict
    mode: dict
    diag: dict
    problems: list
    runs: int
    #: Why the chains ran on, once per run-on (the first problem, or the ``run_on``
    #: criterion's words).
    ran_on: list = field(default_factory=list)
    #: Where the chains were stopped to be sampled again with their draws' covariance as
    #: the mass matrix: how much wider than the mass matrix the draws spread.
    mismatch: float | None = None


def nominal_gradient_seconds(arrays: Mapping[str, np.ndarray]) -> float:
    """A gradient's nominal cost (:data:`GRADIENT_COST`) for the model's ``arrays``: the
    same on every machine, within a factor of about 2 of what these 2 cores take.

    >>> round(1e3 * nominal_gradient_seconds({"a": np.zeros((100, 100))}), 2)
    0.53
    """
    fixed, per_element = GRADIENT_COST
    return fixed + per_element * sum(int(np.size(v)) for v in arrays.values())


def mass_mismatch(z: np.ndarray, inv_mass: np.ndarray) -> float:
    """The largest ratio, over directions, of the standard deviation of the draws ``z``
    (n, d) to that of a normal with covariance ``inv_mass``: the square root of the
    largest generalised eigenvalue of the draws' covariance against ``inv_mass``.

    >>> rng = np.random.default_rng(0)
    >>> z = rng.standard_normal((20_000, 2)) * [1.0, 3.0]
    >>> round(mass_mismatch(z, np.eye(2)), 1)
    3.0
    """
    chol = np.linalg.cholesky(np.linalg.inv(inv_mass))     # precision = L L^T
    return float(np.sqrt(np.linalg.eigvalsh(chol.T @ np.cov(z, rowvar=False) @ chol).max()))


def mass_from_draws(z: np.ndarray, inv_mass: np.ndarray) -> np.ndarray:
    """The draws' covariance, shrunk a little towards ``inv_mass`` (weight 5 / (n + 5)
    for n draws), as the next chains' inverse mass matrix."""
    n = z.shape[0]
    return (n * np.cov(z, rowvar=False) + 5 * np.asarray(inv_mass)) / (n + 5)


def _piece_length(warmup: int, draws: int) -> int:
    """The iterations per compiled call: :data:`PIECE`, or the largest number up to it
    that divides both the first run (``warmup + draws``) and a run-on (``draws``) where
    one of 10 or more does (each other length compiles a program of its own)."""
    common = int(np.gcd(warmup + draws, draws))
    if common % PIECE == 0:
        return PIECE
    fits = [n for n in range(PIECE, 9, -1) if common % n == 0]
    return fits[0] if fits else PIECE


def _pieces(n: int, piece: int) -> list[int]:
    """``n`` iterations as calls of ``piece`` iterations, and one of the rest."""
    return [piece] * (n // piece) + ([n % piece] if n % piece else [])


class _ChainsProgress:
    """NUTS's chains on standard error as they go: a line per run of the chains with the
    iterations done, the leapfrog steps per iteration of the last piece (at most
    2 ** :data:`MAX_TREE_DEPTH` - 1) and the time left; a line while the mode is searched.
    Shows nothing unless ``enabled``."""

    def __init__(self, enabled: bool) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(TextColumn("[bold]Joint model[/bold] {task.description}"),
                                 BarColumn(bar_width=20), MofNCompleteColumn(),
                                 TextColumn("{task.fields[steps]}"),
                                 TimeElapsedColumn(), TimeRemainingColumn(),
                                 console=Console(stderr=True), disable=not enabled)
        #: what the model is (the reading with or without the take-up slope), said first
        self.model = ""

    def __enter__(self) -> _ChainsProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def begin(self, description: str, total: int | None) -> None:
        """A new line (``total`` None: no count, as while the mode is searched)."""
        tasks = self.progress.tasks
        if tasks and tasks[-1].total is None:
            self.progress.update(tasks[-1].id, total=1, completed=1)   # the search is over
        from rich.markup import escape

        # a diagnostic's words may hold brackets (a site's index), which rich reads as markup
        self.progress.add_task(escape(f"{self.model}{description}"), total=total, steps="")

    def advance(self, n: int, steps: np.ndarray) -> None:
        self.progress.update(self.progress.tasks[-1].id, advance=n,
                             steps=f"{float(np.mean(steps)):.0f} steps/iteration")


def _sample(model: CompiledModel, arrays: dict, x_mode: np.ndarray, inv_mass, keys,
            chains: int, warmup: int, draws: int, target: float, parallel: bool,
            bar: _ChainsProgress, mismatch_limit: float | None = None,
            label: str = "", run_on: RunOn | None = None) -> _Chains:
    """NUTS's chains from the mode, running on, each time doubling the draws, while
    R-hat or the effective sample size fall short (up to :data:`NUTS_EXTENSIONS` times)
    or, once they pass, while ``run_on`` finds fault with their draws (up to
    :data:`PRECISION_EXTENSIONS` times in all and :data:`PRECISION_BUDGET` nominal
    seconds for these run-ons); with
    ``mismatch_limit``, first chains too slow for that (:data:`MASS_MISMATCH`) that
    spread wider than the limit against ``inv_mass`` (:func:`mass_mismatch`) stop
    instead, their ``mismatch`` set. ``bar`` follows the chains, its first line
    ``label``."""
    import jax.numpy as jnp

    from crowdcensus.synthesis import diagnostics

    z0 = jnp.asarray(x_mode)
    init, init_every, advance = model.nuts_runner(warmup, target)
    piece = _piece_length(warmup, draws)
    if parallel:
        stack = lambda x: jnp.broadcast_to(x, (chains, *x.shape))  # noqa: E731
        state = init_every(keys, stack(z0), stack(inv_mass), arrays)
    else:
        state = [init(k, z0, inv_mass, arrays) for k in keys]

    def go(state, n):
        """The chains ``n`` iterations on, in pieces: the last state, and the points,
        divergences, leapfrog steps and potentials as (chains, n, ...)."""
        parts = []
        for length in _pieces(n, piece):
            one, every = advance(length)
            if parallel:
                state, out = every(state, arrays)
            else:
                ran = [one(st, arrays) for st in state]
                state, out = [r[0] for r in ran], _stack([r[1] for r in ran])
            parts.append([np.asarray(x) for x in out])
            bar.advance(length, parts[-1][2])
        return state, [np.concatenate(xs, axis=1) for xs in zip(*parts, strict=True)]

    def stacked(state):
        return state if parallel else _stack(state)

    bar.begin(label or f"NUTS, {chains} chains: {warmup} warm-up + {draws} draws",
              warmup + draws)
    state, (zs, div, steps, pes) = go(state, warmup + draws)
    z_parts, div_parts, step_parts = [zs[:, warmup:]], [div[:, warmup:]], [steps]
    pe_parts = [pes[:, warmup:]]

    def by_chain(values: dict) -> dict:  # (chains * n, ...) -> (chains, n, ...)
        return {k: v.reshape(chains, -1, *v.shape[1:]) for k, v in values.items()}

    mode, first = _constrained(model, x_mode, z_parts[0].reshape(-1, z0.shape[0]), arrays)
    value_parts = [by_chain(first)]
    ran_on, spent = [], 0.0
    gradient = nominal_gradient_seconds(arrays)
    # chains that mix slowly (a weakly identified posterior) run on from where they
    # stopped, with the adapted step size: up to NUTS_EXTENSIONS times, each doubling the
    # draws, before the fit is refused; chains that pass run on while run_on finds fault,
    # up to PRECISION_EXTENSIONS times
    for attempt in range(max(NUTS_EXTENSIONS, PRECISION_EXTENSIONS if run_on else 0) + 1):
        grouped = {k: np.concatenate([p[k] for p in value_parts], axis=1)
                   for k in value_parts[0]}
        diag, problems = diagnostics.nuts_diagnostics(
            grouped, np.concatenate(div_parts, axis=1), chains)
        if problems:  # more draws do not cure divergences
            reason = (None if diag["too_many_divergent"] or attempt >= NUTS_EXTENSIONS
                      else problems[0])
        else:
            reason = run_on(grouped) if run_on and attempt < PRECISION_EXTENSIONS else None
            if reason is not None:
                # its nominal cost: the leapfrog steps a draw so far, for as many draws
                steps = np.concatenate([step_parts[0][:, warmup:], *step_parts[1:]], axis=1)
                cost = gradient * float(steps.mean()) * draws * 2 ** attempt
                if spent + cost > PRECISION_BUDGET:
                    break
                spent += cost
        if reason is None:
            break
        if (problems and attempt == 0 and mismatch_limit is not None
                and diag["min_ess"] < diagnostics.MIN_ESS / 2 ** NUTS_EXTENSIONS):
            wider = mass_mismatch(z_parts[0].reshape(-1, z0.shape[0]), np.asarray(inv_mass))
            if wider > mismatch_limit:  # a wrong mass matrix: sampled again, not run on
                return _Chains(stacked(state), z_parts[0], step_parts[0], pe_parts[0],
                               grouped, mode, diag, problems, 1, mismatch=wider)
        ran_on.append(reason)
        bar.begin(f"running on, {reason.split(' (')[0]}", draws * 2 ** attempt)
        for _ in range(2 ** attempt):
            state, (zs, div, steps, pes) = go(state, draws)
            z_parts.append(zs)
            div_parts.append(div)
            step_parts.append(steps)
            pe_parts.append(pes)
            # only the new draws are constrained (one program for every extension)
            value_parts.append(by_chain({k: np.asarray(v) for k, v in model.constrain(
                jnp.asarray(z_parts[-1].reshape(-1, z0.shape[0])), arrays).items()}))
    return _Chains(stacked(state), np.concatenate(z_parts, axis=1),
                   np.concatenate(step_parts, axis=1), np.concatenate(pe_parts, axis=1),
                   grouped, mode, diag, problems, attempt + 1, ran_on)


def fit_joint(data: SynthesisData, method: str = "nuts", seed: int = 0, chains: int = 2,
              warmup: int = 500, draws: int = 500, progress: bool = False,
              predictive: bool = True, start: Mapping[str, np.ndarray] | None = None,
              bridge: bool = False, start_precision: np.ndarray | None = None,
              run_on: RunOn | None = None) -> Posterior:
    """Fit the joint model to ``data`` (see the module docstring).

    Parameters
    ----------
    data : SynthesisData
        The study's inputs, from :func:`crowdcensus.synthesis.data.synthesis_data`.
    method : {"nuts", "laplace"}
        Full sampling, or the normal approximation at the posterior mode.
    seed : int
        Seeds the start, the sampler and the draws: the same seed, the same draws.
    chains, warmup, draws : int
        NUTS chains (run in parallel on the machine's cores), warm-up iterations and
        kept draws per chain; Laplace takes ``chains * draws`` draws.
    progress : bool
        Show a progress bar while sampling.
    predictive : bool
        Compute the predictive checks' expected counts (``Posterior.predictive``);
        validation, which does not read them, turns it off.
    start : mapping, optional
        Constrained values to search the mode from (a close model's ``Posterior.mode``;
        sites it lacks keep their usual starting values), in one search instead of
        ``1 + MODE_RESTARTS`` (the close model's searches found its highest mode).
    start_precision : ndarray, optional
        The close model's ``Posterior.precision``: the search from ``start`` begins with
        its inverse as BFGS's curvature (on a `subset` country 27 gradients instead of 76,
        to the same mode).
    bridge : bool
        With NUTS, also estimate the marginal likelihood from the draws by bridge
        sampling (``diagnostics["log_evidence_bridge"]`` and its error; up to 1,000 more
        evaluations of the posterior density), as the average of two models weighs them
        by (:mod:`crowdcensus.synthesis.evidence`).
    run_on : callable, optional
        With NUTS, a further reason for the chains to run on (:data:`RunOn`), checked
        when the diagnostics pass: ``crowdcensus run`` runs them on while a tier's
        interval bound carries a Monte Carlo error above 5% of itself
        (:func:`crowdcensus.synthesis.summary.imprecise_bounds`). The chains stop after
        :data:`PRECISION_EXTENSIONS` run-ons all the same, or before those run-ons would
        cost more than :data:`PRECISION_BUDGET` seconds at a gradient's nominal cost;
        ``diagnostics["ran_on"]`` says why each run-on was made.

    Returns
    -------
    Posterior
        With ``converged`` false and ``problems`` said in words when the diagnostics
        fail. With NUTS, chains with too many divergent transitions are sampled once
        more from the mode with smaller steps (:data:`RETRY_TARGET_ACCEPT`), and chains
        that mix slowly while spreading wider than the Hessian at the mode says
        (:data:`MASS_MISMATCH`) once more with their draws' covariance as the mass
        matrix (``diagnostics[MASS_FROM_DRAWS]``) where running on would not bring their
        effective sample size up to the target, or did not; the first chains' problems
        are kept as ``diagnostics[RETRIED]``.

    Examples
    --------
    >>> from importlib.resources import files
    >>> from crowdcensus import load_study
    >>> from crowdcensus.synthesis.data import synthesis_data
    >>> study = load_study(files("crowdcensus") / "examples" / "france-2018" / "study.toml")
    >>> post = fit_joint(synthesis_data(study), method="laplace", seed=1)
    >>> post.converged, post.samples["workers"].shape[0]
    (True, 1000)
    """
    if method not in ("nuts", "laplace"):
        raise ModelError(f"unknown inference method {method!r} (nuts or laplace)")
    with _ChainsProgress(progress and method == "nuts") as bar:
        return _fit(data, method, seed, chains, warmup, draws, predictive, start, bridge, bar,
                    start_precision, run_on)


def _fit(data: SynthesisData, method: str, seed: int, chains: int, warmup: int, draws: int,
         predictive: bool, start: Mapping[str, np.ndarray] | None, bridge: bool,
         bar: _ChainsProgress, start_precision: np.ndarray | None = None,
         run_on: RunOn | None = None) -> Posterior:
    """:func:`fit_joint`, its NUTS chains followed by ``bar``."""
    jax = _jax()
    import jax.numpy as jnp
    from numpyro.distributions import constraints
    from numpyro.distributions.transforms import biject_to

    cfg, np_arrays = model_inputs(data)
    arrays = {k: jnp.asarray(v) for k, v in np_arrays.items()}
    if "slope_on" in np_arrays:
        bar.model = ("with the take-up slope: " if float(np_arrays["slope_on"])
                     else "without the take-up slope: ")
    bar.begin("finding the posterior mode", None)
    # a process that has fitted many model structures (a validation worker, a script
    # looping over studies) drops their programs before the next compilation fails
    release_compiled()
    model = CompiledModel.get(cfg, arrays)
    init = {k: jnp.asarray(v) for k, v in initial_values(cfg, data).items() if k in model.names}
    if start is not None:
        init.update({k: jnp.asarray(v) for k, v in start.items()
                     if k in init and np.shape(v) == init[k].shape})
    missing = set(model.names) - set(init)
    if missing:  # pragma: no cover - every site has a starting value
        raise ModelError(f"no starting value for {sorted(missing)}")
    x0 = np.asarray(model.unconstrain(init, arrays))
    res = find_mode(model, arrays, x0, seed=seed,
                    restarts=MODE_RESTARTS if start is None else 0,
                    precision=start_precision if start is not None else None)
    if not np.isfinite(res.fun) or res.fun >= 1e299:
        raise ModelError("the joint model's posterior could not be evaluated (the inputs "
                         "contradict each other?)")
    x_mode = np.asarray(res.x)
    nodes = HETEROGENEITY_NODES
    # the spread at the mode, mapped from the flat vector here (the compiled program that
    # constrains draws would compile again for one row)
    if cfg.has_capture and float(biject_to(constraints.positive)(
            x_mode[model.slices["takeup_sd"]])[0]) > WIDE_HETEROGENEITY:
        # a wide spread of take-up: the same model with more quadrature nodes, its mode
        # searched from this one
        nodes = HETEROGENEITY_NODES_WIDE
        wider = heterogeneity_arrays(nodes)
        arrays = {**arrays, **{k: jnp.asarray(v) for k, v in wider.items()}}
        model = CompiledModel.get(cfg, arrays)
        wide = find_mode(model, arrays, x_mode, seed=seed, restarts=0)
        if np.isfinite(wide.fun) and wide.fun < 1e299:
            res = wide
            x_mode = np.asarray(res.x)
    key = jax.random.PRNGKey(seed)
    problems: list[str] = []
    # the Hessian at the mode: the Laplace draws' precision, NUTS's mass matrix and, where
    # it is positive definite, the marginal likelihood's volume
    hess = np.asarray(model.hessian(jnp.asarray(x_mode), arrays), dtype=float)
    hess = (hess + hess.T) / 2
    try:
        chol = np.linalg.cholesky(hess)
    except np.linalg.LinAlgError:
        chol = None
    evidence = laplace_log_evidence(res.fun, chol) if chol is not None else None
    if method == "laplace":
        ok = chol is not None
        if not ok:
            w, v = np.linalg.eigh(hess)
            w = np.maximum(w, 1e-6 * max(float(w.max()), 1.0))
            chol = np.linalg.cholesky((v * w) @ v.T)
            problems.append("the posterior is not locally normal at its mode (the Hessian is "
                            "not positive definite): the Laplace interval is unreliable")
        rng = np.random.default_rng(seed)
        z = rng.standard_normal((chains * draws, len(x_mode)))
        # x + L^{-T} z has covariance (L L^T)^{-1} = H^{-1}
        flat = x_mode[None, :] + np.linalg.solve(chol.T, z.T).T
        flat = _bins_by_band_total(model, x_mode, flat, np_arrays["bin_band"])
        mode, samples = _dropped(_constrained(model, x_mode, flat, arrays), np_arrays)
        if not res.success:
            problems.append(f"the search for the posterior mode stopped early ({res.message})")
        return Posterior(samples, "laplace", mode, {"hessian_positive_definite": ok,
                                                    "mode_found": bool(res.success),
                                                    "heterogeneity_nodes": nodes,
                                                    "log_evidence": evidence},
                         converged=not problems, problems=problems,
                         predictive=_predictive(model, flat, arrays, data) if predictive else {},
                         precision=hess)
    inv_mass = jnp.asarray(_inverse_mass(hess))
    n_dev = jax.local_device_count()
    keys = jax.random.split(key, chains)
    parallel = n_dev >= chains > 1
    target = TARGET_ACCEPT
    run = _sample(model, arrays, x_mode, inv_mass, keys, chains, warmup, draws, target,
                  parallel, mismatch_limit=MASS_MISMATCH, bar=bar, run_on=run_on)
    first_problems, wider = [], run.mismatch
    if run.problems and wider is None and not run.diag["too_many_divergent"]:
        # chains that ran on and still mix too slowly: where all their draws spread wider
        # than the Hessian at the mode says, sampled once more with their covariance
        # rather than refused
        spread = mass_mismatch(run.z.reshape(-1, run.z.shape[-1]), np.asarray(inv_mass))
        wider = spread if spread > MASS_MISMATCH else None
    if run.diag["too_many_divergent"] or wider is not None:
        # sampled once more, from the mode: where too many transitions diverged (a
        # region of sharp curvature that the step size adapted at the usual target
        # overshoots; more draws do not cure divergences), with smaller steps; where the
        # chains mix too slowly for running on and spread much wider than the Hessian
        # at the mode says, with their draws' covariance as the mass matrix. Other
        # chains that mix slowly ran on (smaller steps would not make them mix faster)
        first_problems = run.problems
        if wider is None:
            target = RETRY_TARGET_ACCEPT
        else:
            inv_mass = jnp.asarray(mass_from_draws(run.z.reshape(-1, run.z.shape[-1]),
                                                   np.asarray(inv_mass)))
        again = ("smaller steps" if wider is None
                 else f"the draws' covariance, {wider:.1f} times wider")
        run = _sample(model, arrays, x_mode, inv_mass, keys, chains, warmup, draws, target,
                      parallel, bar=bar, label=f"sampled again with {again}", run_on=run_on)
    diag, problems, z = run.diag, run.problems, run.z                  # (chains, draws, d)
    diag["target_accept"] = target
    diag[RETRIED] = first_problems
    diag[MASS_FROM_DRAWS] = wider
    samples = {k: v.reshape(-1, *v.shape[2:]) for k, v in run.grouped.items()}
    mode, samples = _dropped((run.mode, samples), np_arrays)
    flat = z.reshape(-1, z.shape[-1])
    diag["warmup"], diag["draws"], diag["runs"] = warmup, z.shape[1], run.runs
    diag["ran_on"] = run.ran_on
    diag["heterogeneity_nodes"] = nodes
    diag["log_evidence"] = evidence
    if bridge and not problems:
        # the marginal likelihood from the draws themselves (bridge sampling), which the
        # average of two models weighs by where both were sampled
        def potential(x):
            v = float(model.value_and_grad(jnp.asarray(x), arrays)[0])
            return v if np.isfinite(v) else np.inf

        diag["log_evidence_bridge"], diag["log_evidence_bridge_error"] = bridge_log_evidence(
            z, run.potentials, potential, seed=seed,
            proposal=(x_mode, chol) if chol is not None else None)
    diag["leapfrog_steps_warmup"] = float(run.steps[:, :warmup].mean())
    diag["leapfrog_steps_sampling"] = float(run.steps[:, warmup:].mean())
    diag["step_size"] = [float(x) for x in
                         np.asarray(run.state.adapt_state.step_size).ravel()]
    return Posterior(samples, "nuts", mode, diag, converged=not problems, problems=problems,
                     predictive=_predictive(model, flat, arrays, data) if predictive else {},
                     precision=hess)
