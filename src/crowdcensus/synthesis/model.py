"""The joint model of the three methods (NumPyro).

One latent population, three observation models (``docs/synthesis.md`` has the
full statement, the priors and the references):

**Population.** :math:`N` workers; the share :math:`\\pi_g` of them whose
weekly visit rate falls in bin :math:`g` of
:mod:`~crowdcensus.synthesis.activity` (a smooth distribution: second-order
random walk on the log density). The bands, and so the nested tiers, are sums
of bins. A worker in bin :math:`g` is registered on platform :math:`j` with
probability :math:`q_{gj} = \\operatorname{logit}^{-1}(a_j + c\\,x_g)`
independently across platforms, given at least one (:math:`x_g` the centred
log rate: the more active may multi-home more). Multi-homing is thus a
distribution, not a coefficient.

**Declared registrations.** :math:`\\log D_j \\sim N(\\log(\\phi_j W_j / (1 -
d_j)), s_j^2)`, :math:`W_j` the workers registered on :math:`j`, :math:`d_j`
the dormant share of its accounts (partially pooled across platforms),
:math:`\\phi_j \\ge 1` the declaration's inflation, :math:`s_j` the
declaration's stated error. Both biases can only overstate.

**Web audience.** :math:`\\log V_j \\sim N(\\log(U_j v / w_j), s_j^2)`:
:math:`U_j` the expected workers who visit :math:`j` at least once in a
month (:math:`1 - e^{-\\lambda_g (52/12) / |R|}` for a worker of rate
:math:`\\lambda_g` who splits visits over the :math:`|R|` platforms they are
registered on), :math:`v \\ge 1` visitors counted per person, :math:`w_j` the
share of visitors who are workers.

**The experiment.** A worker of rate :math:`\\lambda` who sends a share
:math:`s` of visits to the platforms the task is posted on sees it during wave
:math:`t` (:math:`o_t` days) with probability :math:`1 - e^{-\\theta\\lambda s
o_t/7}` and takes it with probability
:math:`\\kappa = \\operatorname{logit}^{-1}(\\alpha + u_t + \\sigma z + \\beta
\\cdot 1\\{\\text{answered before}\\})` — a wave effect, individual
heterogeneity :math:`z \\sim N(0, 1)` (Gauss--Hermite quadrature) and a
behavioural effect (survey aversion, or platforms that exclude past
participants). The answer about frequency is the category of :math:`\\lambda`,
or a neighbouring one with probability :math:`\\epsilon` (misreporting). The
capture histories, answers and platforms registered on of the respondents, and
the :math:`N - n` workers never seen, give the full (multinomial) likelihood.

The model is written for :func:`numpyro.infer.NUTS`; every array is a model
argument so that data sets of the same shapes share one compiled program.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crowdcensus.synthesis.activity import (
    N_BINS,
    WEEKS_PER_MONTH,
    bin_band,
    bin_category,
    bin_log_widths,
    bin_rates,
)
from crowdcensus.synthesis.data import SynthesisData
from crowdcensus.synthesis.priors import Prior

#: Gauss--Hermite nodes for the individual heterogeneity of take-up.
HETEROGENEITY_NODES = 5
#: Largest (patterns x platform sets x answers x bins) for the dense likelihood.
DENSE_LIMIT = 4_000_000
#: Centre of the log rate in the registration model (a visit every three weeks).
RATE_CENTRE = np.log(0.33)


@dataclass(frozen=True)
class ModelConfig:
    """The static structure of a study's model (what changes the compiled program)."""

    has_capture: bool
    aggregate: bool
    n_platforms: int
    declared_mask: tuple[bool, ...]
    audience_mask: tuple[bool, ...]
    priors: tuple[tuple[str, str], ...]
    stated_multihoming: bool
    shares: tuple[str, ...]
    share_base: str
    has_unknown_subsets: bool
    dense: bool = False


def _round_up(n: int, step: int) -> int:
    return int(-(-n // step) * step)


def _prior_spec(p: Prior) -> tuple[str, str]:
    return (p.name, p.kind)


def model_inputs(data: SynthesisData) -> tuple[ModelConfig, dict[str, np.ndarray]]:
    """The static configuration and the arrays of the model for ``data``."""
    cap = data.capture
    j = data.n_platforms
    arrays: dict[str, np.ndarray] = {
        "lam": bin_rates(),
        "log_width": bin_log_widths(),
        "bin_cat": bin_category().astype(np.int32),
        "bin_band": bin_band().astype(np.int32),
        "declared": np.nan_to_num(np.log(np.where(np.isnan(data.declared), 1.0,
                                                  data.declared))),
        "declared_sd": data.declared_sd,
        "audience": np.nan_to_num(np.log(np.where(np.isnan(data.audience), 1.0,
                                                  data.audience))),
        "audience_sd": data.audience_sd,
    }
    nodes, weights = np.polynomial.hermite_e.hermegauss(HETEROGENEITY_NODES)
    arrays["het_nodes"] = nodes
    arrays["het_logw"] = np.log(weights / weights.sum())
    subsets = data.subsets.astype(float)
    if not data.aggregate:
        size = subsets.sum(axis=1)
        arrays["subsets"] = subsets
        arrays["subset_size"] = size
        share = (subsets * data.posted[None, :]).sum(axis=1) / size
        values = np.unique(share[share > 0])
        arrays["share_values"] = values
        arrays["subset_share_class"] = np.array(
            [int(np.searchsorted(values, s)) if s > 0 else -1 for s in share], dtype=np.int32)
        arrays["subset_reached"] = (share > 0).astype(float)
    else:
        arrays["share_values"] = np.array([1.0])
    unknown = False
    if cap is not None:
        pat = cap.patterns.astype(float)
        before = np.cumsum(pat, axis=1) - pat > 0
        arrays["H"] = pat
        arrays["C"] = before.astype(float)
        arrays["wave_days"] = cap.wave_days
        arrays["n_captured"] = np.array(float(cap.n_captured))
        known = cap.group_subset >= 0
        unknown = bool((~known).any()) and not data.aggregate
        if data.aggregate:
            known = np.ones(len(cap.group_count), dtype=bool)
        for key, sel in (("k", known), ("u", ~known)):
            arrays[f"{key}_pattern"] = cap.group_pattern[sel]
            arrays[f"{key}_report"] = cap.group_report[sel]
            arrays[f"{key}_count"] = cap.group_count[sel]
        arrays["k_subset"] = np.maximum(cap.group_subset[known], 0)
        # pad to round sizes (zero counts) so that similar data sets share a compiled program
        for key, step in (("k", 256), ("u", 32)):
            size = len(arrays[f"{key}_count"])
            extra = _round_up(max(size, 1), step) - size
            for part in ("pattern", "report", "count", "subset"):
                name = f"{key}_{part}"
                if name in arrays:
                    arrays[name] = np.concatenate([arrays[name],
                                                   np.zeros(extra, arrays[name].dtype)])
        n_pat = len(pat)
        n_sub = max(len(subsets), 1)
        dense = (not data.aggregate) and n_pat * n_sub * 4 * N_BINS <= DENSE_LIMIT
        if dense:
            counts = np.zeros((n_pat, n_sub, 4))
            np.add.at(counts, (cap.group_pattern[known], np.maximum(cap.group_subset[known], 0),
                               cap.group_report[known]), cap.group_count[known])
            pad = (1 << int(np.ceil(np.log2(max(n_pat, 2))))) if n_pat <= 256 else \
                _round_up(n_pat, 256)
            arrays["counts"] = np.concatenate([counts, np.zeros((pad - n_pat, n_sub, 4))])
            for part in ("pattern", "report", "count", "subset"):
                arrays.pop(f"k_{part}", None)
        target = 1 << int(np.ceil(np.log2(max(n_pat, 2)))) if n_pat <= 256 else \
            _round_up(n_pat, 256)
        arrays["H"] = np.vstack([pat, np.zeros((target - n_pat, pat.shape[1]))])
        arrays["C"] = np.vstack([arrays["C"], np.zeros((target - n_pat, pat.shape[1]))])
        if unknown:
            plat = cap.group_platform[~known]
            mask = np.ones((len(plat), len(subsets)))
            for i, p in enumerate(plat):
                if p >= 0:
                    mask[i] = subsets[:, p]
            extra = len(arrays["u_count"]) - len(mask)
            arrays["u_mask"] = np.vstack([mask, np.ones((extra, mask.shape[1]))])
    else:
        dense = False
    priors = data.priors
    specs = [_prior_spec(p) for p in priors.all()]
    for p in priors.all():
        arrays[f"prior:{p.name}"] = np.asarray(p.params, dtype=float)
    cfg = ModelConfig(
        has_capture=cap is not None,
        aggregate=data.aggregate,
        n_platforms=j,
        declared_mask=tuple(bool(x) for x in ~np.isnan(data.declared)),
        audience_mask=tuple(bool(x) for x in ~np.isnan(data.audience)),
        priors=tuple(specs),
        stated_multihoming=priors.multihoming is not None,
        shares=tuple(sorted(data.shares)),
        share_base=data.share_base,
        has_unknown_subsets=unknown,
        dense=dense,
    )
    for tier, (mu, sd) in data.shares.items():
        arrays[f"share_{tier}"] = np.array([mu, sd])
    return cfg, arrays


def _prior_site(name: str, spec: tuple, dist, numpyro, shape=()):
    """Sample a parameter from its prior spec (shares in (0,1); factors >= 1)."""
    _, kind, params = spec
    if kind == "fixed":
        import jax.numpy as jnp

        return jnp.full(shape, params[0]) if shape else jnp.asarray(params[0])
    if kind == "beta":
        d = dist.Beta(params[0], params[1])
    elif kind == "logitnormal":
        d = dist.TransformedDistribution(dist.Normal(params[0], params[1]),
                                         dist.transforms.SigmoidTransform())
    elif kind == "lognormal_ge1":
        # a factor >= 1: its logarithm is a normal truncated at 0
        d = dist.TruncatedNormal(params[0], params[1], low=0.0)
        if shape:
            d = d.expand(shape)
        import jax.numpy as jnp

        return numpyro.deterministic(name, jnp.exp(numpyro.sample(f"{name}_log", d)))
    else:  # pragma: no cover - guarded by Prior
        raise ValueError(kind)
    if shape:
        d = d.expand(shape)
    return numpyro.sample(name, d)


def joint_model(cfg: ModelConfig, a: dict) -> None:
    """The NumPyro model (see the module docstring). ``a``: the arrays of :func:`model_inputs`."""
    import jax
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    from jax.scipy.special import gammaln, logsumexp

    specs = {name: (name, kind, a[f"prior:{name}"]) for name, kind in cfg.priors}
    g = N_BINS
    lam = a["lam"]

    # -- activity distribution: log density per bin with a second-order random-walk
    # (smoothness) prior of scale `activity_smoothness`, and a weak N(0, 5^2) on each level
    smooth = numpyro.sample("activity_smoothness", dist.HalfNormal(1.0))
    ell = numpyro.sample("activity_log_density", dist.Normal(0.0, 5.0).expand([g]))
    second = ell[2:] - 2 * ell[1:-1] + ell[:-2]
    numpyro.factor("activity_smooth_prior",
                   jnp.sum(dist.Normal(0.0, smooth).log_prob(second)))
    log_pi = jax.nn.log_softmax(ell + jnp.log(a["log_width"]))
    pi = jnp.exp(log_pi)
    numpyro.deterministic("activity", pi)

    # -- population size
    if cfg.has_capture:
        n = a["n_captured"]
        log_uncaught = numpyro.sample("log_uncaught", dist.ImproperUniform(
            dist.constraints.real, (), ()))
        total = n + jnp.exp(log_uncaught)
    else:
        log_total = numpyro.sample("log_workers", dist.ImproperUniform(
            dist.constraints.real, (), ()))
        total = jnp.exp(log_total)
    numpyro.deterministic("workers", total)
    bands = jnp.stack([jnp.sum(jnp.where(a["bin_band"] == b, pi, 0.0)) for b in range(3)])
    numpyro.deterministic("band_shares", bands)

    # -- registrations
    j = cfg.n_platforms
    if not cfg.aggregate:
        reg_a = numpyro.sample("registration_logit", dist.Normal(-1.0, 1.5).expand([j]))
        reg_c = numpyro.sample("registration_activity", dist.Normal(0.0, 0.5))
        x = jnp.clip(jnp.log(lam), np.log(0.01), np.log(10.0)) - RATE_CENTRE
        logit_q = reg_a[None, :] + reg_c * x[:, None]             # (G, J)
        log_q = jax.nn.log_sigmoid(logit_q)
        log_1mq = jax.nn.log_sigmoid(-logit_q)
        log_none = jnp.sum(log_1mq, axis=1)                        # (G,)
        log_some = jnp.log1p(-jnp.exp(log_none))
        sub = a["subsets"]                                         # (S, J)
        log_pr = (sub @ log_q.T + (1 - sub) @ log_1mq.T) - log_some[None, :]   # (S, G)
        p_on = jnp.exp(log_q - log_some[:, None])                  # (G, J): P(j in R | g)
        per_worker = jnp.sum(p_on, axis=1)                         # E|R| given g
        multihoming = jnp.sum(pi * per_worker)
        registered = total * (pi @ p_on)                           # (J,)
        vis = 1.0 - jnp.exp(-lam[None, :] * WEEKS_PER_MONTH / a["subset_size"][:, None])
        monthly = total * jnp.einsum("g,sg,sj,sg->j", pi, jnp.exp(log_pr), sub, vis)
        if cfg.stated_multihoming:
            _, kind, params = specs["multihoming"]
            mu, sd = (jnp.log(params[0]), 0.02) if kind == "fixed" else (params[0], params[1])
            numpyro.sample("multihoming_stated", dist.Normal(jnp.log(multihoming), sd),
                           obs=jnp.asarray(mu))
    else:
        multihoming = _prior_site("multihoming", specs["multihoming"], dist, numpyro) \
            if cfg.stated_multihoming else jnp.asarray(1.0)
        split = (numpyro.sample("platform_split", dist.Dirichlet(jnp.ones(j)))
                 if j > 1 else jnp.ones(1))
        registered = total * multihoming * split
        vis = multihoming * (1.0 - jnp.exp(-lam * WEEKS_PER_MONTH / multihoming))
        monthly = total * jnp.sum(pi * vis) * split
    numpyro.deterministic("platforms_per_worker", multihoming)

    # -- declared registrations
    if any(cfg.declared_mask):
        mask = np.array(cfg.declared_mask)
        _, kind, params = specs["dormant_share"]
        if kind == "fixed":
            logit_d = jnp.full(j, jnp.log(params[0] / (1 - params[0])))
        else:
            if kind == "beta":  # the logit of a Beta variable: its mean and sd
                from jax.scipy.special import digamma, polygamma

                mu = digamma(params[0]) - digamma(params[1])
                sd = jnp.sqrt(polygamma(1, params[0]) + polygamma(1, params[1]))
            else:
                mu, sd = params[0], params[1]
            centre = numpyro.sample("dormant_logit", dist.Normal(mu, sd))
            spread = numpyro.sample("dormant_spread", dist.HalfNormal(0.3))
            dev = numpyro.sample("dormant_platform", dist.Normal(0.0, 1.0).expand([j]))
            logit_d = centre + spread * dev
        dormant = jax.nn.sigmoid(logit_d)
        numpyro.deterministic("dormant_share", dormant)
        infl = _prior_site("declaration_inflation", specs["declaration_inflation"], dist,
                           numpyro, shape=(j,))
        expected = jnp.log(registered) + jnp.log(infl) - jnp.log1p(-dormant)
        numpyro.deterministic("declared_expected", jnp.exp(expected))
        numpyro.sample("declared", dist.Normal(expected[mask], a["declared_sd"][mask]),
                       obs=a["declared"][mask])

    # -- web audience
    if any(cfg.audience_mask):
        mask = np.array(cfg.audience_mask)
        per_person = _prior_site("visitors_per_person", specs["visitors_per_person"], dist,
                                 numpyro)
        shares = jnp.stack([_prior_site(f"worker_share_{i}", specs[f"worker_share[{i}]"],
                                        dist, numpyro) if m else jnp.asarray(1.0)
                            for i, m in enumerate(cfg.audience_mask)])
        expected = jnp.log(monthly) + jnp.log(per_person) - jnp.log(shares)
        numpyro.deterministic("audience_expected", jnp.exp(expected))
        numpyro.sample("audience", dist.Normal(expected[mask], a["audience_sd"][mask]),
                       obs=a["audience"][mask])

    # -- published shares of the experiment (when no responses are given)
    for tier in cfg.shares:
        mu_sd = a[f"share_{tier}"]
        if tier == "very_active":
            share = bands[0] if cfg.share_base == "declared" else bands[0] / (bands[0] + bands[1])
        else:
            share = bands[0] + bands[1]
        numpyro.sample(f"share_{tier}", dist.Normal(jnp.log(share) - jnp.log1p(-share),
                                                    mu_sd[1]), obs=mu_sd[0])

    if not cfg.has_capture:
        return

    # -- the experiment: capture histories, answers and platforms of the respondents
    misreport = _prior_site("misreport", specs["misreport"], dist, numpyro)
    stay_inner, stay_edge, move = 1 - misreport, 1 - misreport / 2, misreport / 2
    k = jnp.array([[stay_edge, move, 0.0, 0.0],
                   [move, stay_inner, move, 0.0],
                   [0.0, move, stay_inner, move],
                   [0.0, 0.0, move, stay_edge]])
    log_k = jnp.log(jnp.clip(k, 1e-30, 1.0))[a["bin_cat"]]     # (G, 4): P(answer | bin)

    takeup = numpyro.sample("takeup_logit", dist.Normal(0.0, 1.5))
    wave_sd = numpyro.sample("wave_sd", dist.HalfNormal(0.5))
    wave_z = numpyro.sample("wave_effect", dist.Normal(0.0, 1.0).expand([a["H"].shape[1]]))
    het = numpyro.sample("takeup_sd", dist.HalfNormal(0.75))
    after = numpyro.sample("after_answer", dist.Normal(0.0, 1.0))
    log_sight = numpyro.sample("log_sight", dist.Normal(0.0, 0.75))

    rate = jnp.exp(log_sight) * lam[None, :] * a["share_values"][:, None]      # (U, G)
    see = -jnp.expm1(-rate[None] * a["wave_days"][:, None, None] / 7.0)        # (T, U, G)
    logit0 = takeup + wave_sd * wave_z[:, None] + het * a["het_nodes"][None, :]  # (T, Z)
    log_see = jnp.log(jnp.clip(see, 1e-300, 1.0))[..., None]
    lp = {}
    for key, lg in (("0", logit0), ("1", logit0 + after)):
        log_take = jax.nn.log_sigmoid(lg)[:, None, None, :]
        log_p = log_see + log_take                                              # (T,U,G,Z)
        lp[key] = (log_p, jnp.log1p(-jnp.clip(jnp.exp(log_p), 0.0, 1 - 1e-12)))
    h, c = a["H"], a["C"]
    ll = (jnp.einsum("ht,tugz->hugz", h * (1 - c), lp["0"][0])
          + jnp.einsum("ht,tugz->hugz", h * c, lp["1"][0])
          + jnp.einsum("ht,tugz->hugz", (1 - h) * (1 - c), lp["0"][1])
          + jnp.einsum("ht,tugz->hugz", (1 - h) * c, lp["1"][1]))
    hist = logsumexp(ll + a["het_logw"], axis=-1)                              # (P, U, G)

    if cfg.aggregate:
        base = log_pi[None, :] + log_k[:, a["k_report"]].T                     # (K, G)
        per_group = logsumexp(base + hist[a["k_pattern"], 0, :], axis=1)
        log_p0 = logsumexp(log_pi + hist[0, 0, :])
        fit = jnp.sum(a["k_count"] * per_group)
    else:
        cls = a["subset_share_class"]
        reached = a["subset_reached"]
        hist_s = jnp.where(reached[None, :, None] > 0,
                           hist[:, jnp.maximum(cls, 0), :], 0.0)               # (P, S, G)
        joint = log_pi[None, :] + log_pr                                       # (S, G)
        if cfg.dense:
            # counts[p, s, r]: respondents with history p, platforms s and answer r
            terms = (joint[None, :, None, :] + log_k.T[None, None, :, :]
                     + hist_s[:, :, None, :])                                 # (P, S, 4, G)
            fit = jnp.sum(a["counts"] * logsumexp(terms, axis=-1))
        else:
            ks, kp, kr = a["k_subset"], a["k_pattern"], a["k_report"]
            per_group = logsumexp(joint[ks] + log_k[:, kr].T + hist_s[kp, ks, :], axis=1)
            fit = jnp.sum(a["k_count"] * per_group)
        if cfg.has_unknown_subsets:
            up, ur, um = a["u_pattern"], a["u_report"], a["u_mask"]
            terms = (joint[None] + log_k[:, ur].T[:, None, :] + hist_s[up])    # (K, S, G)
            terms = jnp.where(um[:, :, None] > 0, terms, -jnp.inf)
            fit = fit + jnp.sum(a["u_count"] * logsumexp(terms, axis=(1, 2)))
        log_p0 = logsumexp(joint + hist_s[0])
        reach = jnp.sum(jnp.exp(joint) * reached[:, None])
        numpyro.deterministic("reachable_share", reach)
    unseen = total - a["n_captured"]
    numpyro.factor("capture", gammaln(total + 1) - gammaln(unseen + 1) + fit
                   + unseen * log_p0)
    numpyro.deterministic("log_p0", log_p0)


def initial_values(cfg: ModelConfig, data: SynthesisData) -> dict[str, np.ndarray]:
    """A deterministic starting point (constrained values) for every latent site."""
    j = cfg.n_platforms
    g = N_BINS
    specs = {p.name: (p.name, p.kind, p.params) for p in data.priors.all()}

    def prior_centre(name: str, fallback: float) -> float:
        kind, params = specs[name][1], specs[name][2]
        if kind == "beta":
            return params[0] / (params[0] + params[1])
        if kind == "lognormal_ge1":
            return float(np.exp(max(params[0], 0.0)) + 0.02)
        if kind == "logitnormal":
            return float(1 / (1 + np.exp(-params[0])))
        return fallback

    v: dict[str, np.ndarray | float] = {
        "activity_smoothness": 0.5, "activity_log_density": np.zeros(g),
        "registration_logit": np.full(j, -1.0), "registration_activity": 0.0,
        "platform_split": np.full(j, 1.0 / j),
        "dormant_spread": 0.1, "dormant_platform": np.zeros(j),
        "declaration_inflation_log": np.log(np.full(j, prior_centre("declaration_inflation",
                                                                    1.0))),
        "visitors_per_person_log": np.log(prior_centre("visitors_per_person", 1.0)),
        "misreport": 0.05, "takeup_logit": 0.0, "wave_sd": 0.2, "takeup_sd": 0.3,
        "after_answer": 0.0, "log_sight": 0.0,
    }
    for i in range(j):
        v[f"worker_share_{i}"] = prior_centre(f"worker_share[{i}]", 0.8)
    if cfg.stated_multihoming:
        v["multihoming_log"] = np.log(prior_centre("multihoming", 1.3))
    kind, params = specs["dormant_share"][1], specs["dormant_share"][2]
    if kind == "logitnormal":
        v["dormant_logit"] = params[0]
    elif kind == "beta":
        m = params[0] / (params[0] + params[1])
        v["dormant_logit"] = float(np.log(m / (1 - m)))
    cap = data.capture
    if cap is not None:
        v["wave_effect"] = np.zeros(cap.n_waves)
        counts = np.bincount(cap.patterns[cap.group_pattern].sum(axis=1).astype(int),
                             weights=cap.group_count, minlength=3)
        f1, f2 = counts[1], counts[2]
        uncaught = f1 * f1 / (2 * f2) if f2 > 0 else max(f1, 1.0) * 2
        v["log_uncaught"] = float(np.log(max(uncaught, 1.0) * 2.0))
        if not data.aggregate:
            sub = data.subsets
            known = cap.group_subset >= 0
            if known.any():
                on = (sub[cap.group_subset[known]] * cap.group_count[known, None]).sum(axis=0)
                frac = np.clip(on / cap.group_count[known].sum(), 0.02, 0.98)
                v["registration_logit"] = np.log(frac / (1 - frac))
    else:
        decl = np.nansum(data.declared)
        aud = np.nansum(data.audience)
        guess = decl / 1.5 if decl > 0 else (aud * 3 if aud > 0 else 1000.0)
        v["log_workers"] = float(np.log(guess))
    return {k: np.asarray(x, dtype=float) for k, x in v.items()}
