"""The latent population of the joint model.

:func:`latent_population` draws (as NumPyro sample sites) everything the three
observation models share:

* the expected number of workers in each bin of weekly visit rates
  (:mod:`~crowdcensus.synthesis.activity`), :math:`N_g = N \\pi_g`: log counts
  with a nearly flat prior on their level (so the total :math:`N` is
  scale-invariant a priori) and a second-order random-walk prior on the log
  density (second differences :math:`N(0, 1)`, bins about 0.3 wide on the log
  scale), so that the distribution is smooth but free in shape; the scale is
  fixed rather than estimated, which keeps the posterior free of the funnel a
  hierarchical scale creates, and counts rather than shares keep the poorly
  known rare workers from dragging the well-known frequent ones;
* registrations: with :math:`q_{gj} = 1 - \\exp(-e^{a_j + c\\,x_g})` (:math:`x_g` the
  centred log rate of bin :math:`g`: the chance of at least one sign-up when their
  number is Poisson with a mean that is a power of the visit rate), a mixture of two ways of
  holding accounts: a share :math:`\\rho` of the workers picks a first
  platform (weights :math:`w`, Dirichlet(1) prior) and adds each other
  platform :math:`j` with chance :math:`q_{gj}`; the others are registered on
  each platform independently with chance :math:`q_{gj}`, given at least one
  (:math:`\\rho` has a uniform prior: the respondents' sets of platforms tell
  the two apart, weakly, and they extrapolate differently to the platforms the
  task was not posted on); there, each platform's slope :math:`c + e_j` departs from
  the common one (:math:`e_j \\sim N(0, 0.15^2)`), since the lists say how steeply the
  other platforms' registrations rise with activity, not the posted platforms' own;
  every worker splits their visits over their
  platforms in proportion to platform weights (Dirichlet(2) prior) that the
  platforms respondents answered on inform (and their capture rates, when the
  task was posted on some platforms only), evenly on one platform; or, when no
  respondent says where they are registered, the stated multi-homing
  coefficient as the number of registrations per worker;
* churn, when the waves span months: a share :math:`\\alpha` of the workers
  arrives and a share :math:`\\delta` leaves at a uniform time of the
  reference period.

It returns the derived quantities the observation models read
(:class:`Population`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from crowdcensus.synthesis.activity import (
    MONTHLY,
    N_BINS,
    TAIL_POINTS,
    TAIL_SCALE,
    TAIL_SCALE_SD,
    WEEKS_PER_MONTH,
    tail_rates,
)

#: Centre of the log rate in the registration model (a visit every three weeks).
RATE_CENTRE = float(np.log(0.33))
#: Scale of the second differences of the activity distribution's log density per bin...
SMOOTHNESS = 1.0
#: ...and below the monthly threshold (the occasional-only band), where a posting of a few
#: weeks catches few workers, a smaller one: the density of rarely active workers continues
#: the trend of the others. (Below 0.03 only, until 2026-12-02: where activity varies
#: within classes the band's lower bins then held too few workers, the occasional tier
#: 6-8% low; docs/validation-notebook.md, "What the rare bins' smoothness changed".)
RARE_RATE, RARE_SMOOTHNESS = MONTHLY, 0.5
#: The nearly flat prior of each bin's log count of workers.
LEVEL_CENTRE, LEVEL_SD = 7.0, 10.0
#: The bin whose log density is the reference (0) when the shape is sampled apart.
MIDDLE_BIN = 10
#: Scale of each platform's departure from the common slope of registrations in the log
#: visit rate, where the task was posted on some platforms only (fixed, not estimated: a
#: hierarchical scale would add a funnel; 0.3 made the one-posted-platform intervals
#: wider than 0.6 of the estimate for a gain of 1.6 points).
PLATFORM_SLOPE_SD = 0.15


@dataclass
class Population:
    """Quantities of the latent population (JAX arrays) that the methods observe."""

    total: Any                 # N, the workers
    log_pi: Any                # (G,) log share of each activity bin
    pi: Any
    bands: Any                 # (3,) shares of very active, regular only, occasional only
    registered: Any            # (J,) workers registered on each platform
    monthly: Any               # (J,) workers who visit each platform in a month
    log_pr: Any = None         # (S, G) log P(registered on exactly set s | bin g)
    platforms_per_worker: Any = None
    presence: Any = 1.0        # mean share of the reference period a worker is present
    churn: Any = None          # (arrive, leave) shares, when modelled
    posted_share: Any = None   # (S,) or (S, T): share of visits to posted platforms
    split: Any = None          # (S, J) share of a set's visits to each platform, when estimated
    points: Any = None         # (Q,) rates at which the experiment is evaluated (bin_points)
    point_logw: Any = None     # (Q,) log share of its bin's workers at each of these rates
    active: Any = None         # (J,) workers who visit each platform in its declared window


def truncated_log(mu, sd, z):
    """The quantile of N(mu, sd^2) truncated at 0 at the standard normal quantile ``z``:
    :math:`\\mu - \\sigma\\,\\Phi^{-1}\\big(\\Phi(\\mu/\\sigma)\\,\\Phi(-z)\\big)` (through the
    upper tail, equal to 0 as ``z`` goes to minus infinity).

    :math:`\\Phi` and :math:`\\Phi^{-1}` are written with XLA's own ``erfc`` and ``erf_inv``
    (:math:`\\Phi^{-1}(p) = \\sqrt 2\\,\\operatorname{erf}^{-1}(2p - 1)`): differentiated
    twice, JAX's ``ndtr`` and ``ndtri`` make the programs that hold the Hessian compile
    seconds longer. Within 1e-8 (relative) of ``ndtri``
    for ``z`` up to 6 (``p`` down to 1e-9); it loses digits beyond, where no prior or
    posterior of these factors goes."""
    from jax import lax

    root2 = np.sqrt(2.0)
    p = 0.25 * lax.erfc(-mu / sd / root2) * lax.erfc(z / root2)     # Phi(mu/sd) Phi(-z)
    return mu - sd * root2 * lax.erf_inv(2.0 * p - 1.0)


def factor_log_site(name: str, spec: tuple, shape: tuple = ()):
    """The logarithm of a factor whose prior is log-normal (kind ``"lognormal"``, a stated
    range below 1: whole; ``"lognormal_ge1"``: truncated at 0), sampled through the
    standard normal quantile of its prior (site ``{name}_z``; see :func:`prior_site`)."""
    import numpyro
    import numpyro.distributions as dist

    _, kind, params = spec
    z = numpyro.sample(f"{name}_z", dist.Normal(0.0, 1.0).expand(shape))
    if kind == "lognormal_ge1":
        return truncated_log(params[0], params[1], z)
    return params[0] + params[1] * z


def prior_site(name: str, spec: tuple, shape: tuple = ()):
    """Sample a parameter from its prior spec ``(name, kind, params)`` (shares in (0, 1);
    factors >= 1 through their logarithm, a normal truncated at 0).

    A share whose prior is Beta(1, b) (kind ``"beta1"``, :attr:`Prior.model_kind`: the
    default dormant share's) is sampled the same way, through the standard normal quantile
    of its prior (site ``{name}_z``): the quantile is :math:`1 - (1 - u)^{1/b}`. Its
    density is highest at 0, so on its logit, where the data say little, it has a long
    left tail (NUTS: an effective sample size of 69 in 4,000 draws on the France example).

    A factor's sampled coordinate (site ``{name}_z``) is the standard normal quantile of its
    prior, mapped to the logarithm by :func:`truncated_log`: where the data say little about
    a factor, the posterior of that coordinate is close to N(0, 1). Sampled through the log
    of its logarithm (what a truncated normal's support gives), a factor that may be 1 has a
    long left tail that neither NUTS's mass matrix nor the normal approximation follows."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    _, kind, params = spec
    if kind == "fixed":
        return jnp.full(shape, params[0]) if shape else jnp.asarray(params[0])
    if kind == "beta1":  # Beta(1, b): through z, u = Phi(z), log(1 - x) = log Phi(-z) / b
        from jax import lax

        z = numpyro.sample(f"{name}_z", dist.Normal(0.0, 1.0).expand(shape))
        log_rest = jnp.log(0.5 * lax.erfc(z / np.sqrt(2.0))) / params[1]
        return numpyro.deterministic(name, -jnp.expm1(log_rest))
    if kind == "beta":
        d = dist.Beta(params[0], params[1])
    elif kind == "logitnormal":
        d = dist.TransformedDistribution(dist.Normal(params[0], params[1]),
                                         dist.transforms.SigmoidTransform())
    elif kind in ("lognormal_ge1", "lognormal"):
        return numpyro.deterministic(name, jnp.exp(factor_log_site(name, spec, shape)))
    else:  # pragma: no cover - guarded by Prior
        raise ValueError(kind)
    if shape:
        d = d.expand(shape)
    return numpyro.sample(name, d)


def turnover_site(spec: tuple):
    """A share of workers arriving or leaving: sampled from its Beta prior on its logit,
    whatever the Beta's first parameter (the coordinates the churn model was validated in),
    or held at a stated value, kept as a deterministic site for the report."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    name, kind, params = spec
    if kind == "fixed":
        return numpyro.deterministic(name, jnp.asarray(params[0], dtype=float))
    return numpyro.sample(name, dist.Beta(params[0], params[1]))


def presence_share(arrive, leave):
    """Mean share of the reference period a worker is present (uniform arrival/departure)."""
    return ((1 - arrive) * (1 - leave) + arrive * (1 - leave) / 2 + (1 - arrive) * leave / 2
            + arrive * leave / 3)


def window_presence(start, end, churn):
    """Mean share of the window from ``start`` to ``end`` (shares of the reference period)
    that a worker is present, where ``churn`` = (arrive, leave) shares arrive and leave on
    uniform days (both: present between the two days); 1 without churn. It is the mean
    over the window of the chance of being present on a day x (a share of the period),
    (1 - a)(1 - l) + a (1 - l) x + (1 - a) l (1 - x) + a l 2 x (1 - x); over the whole
    period it is :func:`presence_share`.

    >>> round(float(window_presence(0.0, 1.0, (0.3, 0.2))), 6) == round(
    ...     presence_share(0.3, 0.2), 6)
    True
    """
    import jax.numpy as jnp

    if churn is None:
        return 1.0
    arrive, leave = churn
    s, e = start, end
    one, two, three = e - s, (e * e - s * s) / 2, (e ** 3 - s ** 3) / 3
    # a window of no length (a platform whose figure has none) gives 0, not 0/0, so that
    # no NaN reaches the gradient through the platforms it does not serve
    return ((1 - arrive) * (1 - leave) * one + arrive * (1 - leave) * two
            + (1 - arrive) * leave * (one - two) + arrive * leave * 2 * (two - three)
            ) / jnp.maximum(one, 1e-12)


def present_while(start, end, churn):
    """Share of the reference period's workers present at some time between ``start`` and
    ``end`` (shares of the period, ``start <= end``), where ``churn`` = (arrive, leave)
    shares arrive and leave on uniform days (both: present between the earlier and the
    later of two uniform days); 1 without churn:
    (1 - a)(1 - l) + a (1 - l) e + (1 - a) l (1 - s) + a l (1 - (1 - e)^2 - s^2).
    Over the whole period it is 1; at one day, the chance of being present that day.

    >>> round(float(present_while(0.0, 1.0, (0.3, 0.2))), 12)
    1.0
    >>> round(float(present_while(140 / 364, 182 / 364, (0.2, 0.2))), 4)
    0.8425
    """
    if churn is None:
        return 1.0
    arrive, leave = churn
    s, e = start, end
    return ((1 - arrive) * (1 - leave) + arrive * (1 - leave) * e
            + (1 - arrive) * leave * (1 - s) + arrive * leave * (1 - (1 - e) ** 2 - s * s))


def arrived_by(day, churn):
    """Share of the workers who have started by ``day`` (a share of the reference period):
    all but the arrivals still to come; 1 without churn. Someone who both arrives and
    leaves starts at the earlier of the two days.

    >>> float(arrived_by(1.0, (0.3, 0.2))), float(arrived_by(0.0, (0.3, 0.2)))
    (1.0, 0.7)
    """
    if churn is None:
        return 1.0
    arrive, leave = churn
    return 1 - arrive + arrive * (1 - leave) * day + arrive * leave * (2 * day - day * day)


def latent_population(cfg, a: dict, specs: dict) -> Population:
    """Sample the latent population (see the module docstring)."""
    import jax
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    from jax.scipy.special import logsumexp

    lam = a["lam"]
    if cfg.has_capture:
        # expected workers per bin as free log counts, so that the rarely caught bins do
        # not drag the well-measured ones; the level is nearly flat (scale-invariant total)
        log_counts = numpyro.sample("activity_log_counts",
                                    dist.Normal(LEVEL_CENTRE, LEVEL_SD).expand([N_BINS]))
        ell = log_counts - jnp.log(a["log_width"])
        log_total = logsumexp(log_counts)
        log_pi = log_counts - log_total
    else:
        # no experiment: the total (which the declared figures measure) and the shape apart
        log_total = numpyro.sample("log_workers", dist.Normal(LEVEL_CENTRE + 3.0, LEVEL_SD))
        free = numpyro.sample("activity_shape", dist.Normal(0.0, 5.0).expand([N_BINS - 1]))
        ell = jnp.concatenate([free[:MIDDLE_BIN], jnp.zeros(1), free[MIDDLE_BIN:]])
        log_pi = jax.nn.log_softmax(ell + jnp.log(a["log_width"]))
    # second-order random-walk prior of fixed scale on the log density (counts / bin width)
    second = ell[2:] - 2 * ell[1:-1] + ell[:-2]
    numpyro.factor("activity_smoothness",
                   jnp.sum(dist.Normal(0.0, a["smoothness"]).log_prob(second)))
    pi = jnp.exp(log_pi)
    total = jnp.exp(log_total)
    numpyro.deterministic("activity", pi)
    numpyro.deterministic("workers", total)
    def by_band(per_bin):  # (G,) -> (3,): sums over each band's bins
        return jnp.stack([jnp.sum(jnp.where(a["bin_band"] == b, per_bin, 0.0))
                          for b in range(3)])

    bands = by_band(pi)
    numpyro.deterministic("band_shares", bands)
    # the rates inside the bins at which the experiment is evaluated, and the log share of
    # its bin's workers at each (activity.bin_points): where respondents give hours, the
    # open bin's share at 3 visits a week and the mean of its tail, which the hours inform
    points, point_logw = a["lam"], jnp.zeros(N_BINS)
    if cfg.has_hours:
        tail = numpyro.sample("top_rate_scale",
                              dist.LogNormal(np.log(TAIL_SCALE), TAIL_SCALE_SD))
        at3 = numpyro.sample("open_point_share", dist.Beta(1.0, 1.0))
        points = jnp.concatenate([points, tail_rates(tail, jnp.exp)])
        point_logw = jnp.concatenate([jnp.zeros(N_BINS - 1), jnp.log(at3)[None], jnp.full(
            TAIL_POINTS, jnp.log1p(-at3) - np.log(TAIL_POINTS))])

    presence, churn = 1.0, None
    if cfg.churn:
        from crowdcensus.synthesis.priors import DEFAULT_ARRIVALS, DEFAULT_DEPARTURES

        # the defaults for priors built without the study's (tests)
        arrive, leave = (turnover_site(specs.get(d.name, (d.name, d.kind, d.params)))
                         for d in (DEFAULT_ARRIVALS, DEFAULT_DEPARTURES))
        presence, churn = presence_share(arrive, leave), (arrive, leave)

    j = cfg.n_platforms
    log_pr = posted_share = split = None
    if not cfg.aggregate:
        reg_a = numpyro.sample("registration_level", dist.Normal(-1.0, 1.5).expand([j]))
        reg_c = numpyro.sample("registration_activity", dist.Normal(0.0, 0.5))
        if j > 1 and cfg.posted_on_subset:
            # each platform's own rise with activity, around the common one: the lists of
            # the posted platforms' respondents tell it for the other platforms, but not
            # for a posted platform whose workers all answer there (one posted platform:
            # its share of the workers by activity is what carries the experiment to the
            # others, and a slope shared with the others held it where the lists put
            # theirs, very active 10-15% low with 11-14 of 20 covering; docs/validation-notebook.md)
            reg_c = reg_c + numpyro.sample("registration_activity_platform",
                                           dist.Normal(0.0, PLATFORM_SLOPE_SD).expand([j]))
        x = jnp.clip(jnp.log(lam), np.log(0.01), np.log(10.0)) - RATE_CENTRE
        sub = a["subsets"]                                                  # (S, J)

        def holding(levels):
            """log q, log(1 - q) (G, J), and log P(set) with every platform held
            independently, (S, G): the chance of holding platform j is that of at least
            one sign-up of a Poisson number whose mean is a power of the visit rate,
            exp(a_j) lam^c (complementary log-log link)."""
            log_1mq = -jnp.exp(levels[None, :] + reg_c * x[:, None])   # reg_c: () or (J,)
            log_q = jnp.log(-jnp.expm1(log_1mq))
            return log_q, log_1mq, sub @ log_q.T + (1 - sub) @ log_1mq.T

        def given_some(log_1mq, base):   # independent registrations, given at least one
            return base - jnp.log1p(-jnp.exp(jnp.sum(log_1mq, axis=1)))[None, :]

        log_q, log_1mq, base = holding(reg_a)
        # independent registrations, given at least one...
        log_indep = given_some(log_1mq, base)
        # ...or a first platform (weights w), then each other one with chance q:
        # P(s) = sum_{j in s} w_j prod_{k in s, k != j} q_k prod_{k not in s} (1 - q_k).
        # The mixture serves to say who is registered where the task was posted; when it
        # was posted everywhere nobody is out of reach, the registration marginals are
        # what the other methods read, and the mixture's weights are barely identified
        # (NUTS's chains then disagree on them): independent registrations alone
        if j > 1 and cfg.posted_on_subset:
            # The share m on the first-platform path and its weights w are one simplex,
            # (m w_1, ..., m w_J, 1 - m) ~ Dirichlet(1, ..., 1, J): w keeps its uniform
            # Dirichlet(1) prior and m is Beta(J, J), independent of w. Sampled apart (m
            # uniform), w was free wherever m was small, a funnel that NUTS's chains crossed
            # slowly; the likelihood reads only the products m w_j
            path = numpyro.sample("first_platform_path", dist.Dirichlet(
                jnp.concatenate([jnp.ones(j), jnp.full(1, float(j))])))
            mix = numpyro.deterministic("first_platform_share", 1.0 - path[j])
            numpyro.deterministic("first_platform", path[:j] / mix)
            via_first = jnp.log(jnp.clip(sub @ jnp.exp(jnp.log(path[:j])[None, :] - log_q).T,
                                         1e-300))                           # (S, G)
            if cfg.registration_classes:
                # Those registered independently form two classes: a share 1 - k with the
                # levels a_j - k d_j, and a share k with a_j + (1 - k) d_j (workers who
                # keep to some platforms, a language, a region: independent registrations
                # within a class, dependent across the whole). The lists say how far each
                # class keeps to the platforms the task reached, and the classes carry
                # each to the platforms out of reach; with one class the lists' overlap is
                # carried alike to every worker. The levels are centred on a_j (their
                # mean over the workers), so that k and d do not move a_j, and k is the
                # smaller class (below 1/2), so that the labels cannot swap: with the
                # levels a_j and a_j + d_j and k ~ Beta(1, 1), NUTS took 4.5 times the
                # leapfrog steps per draw on a grouped country and had not finished one
                # without groups after 25 minutes (221 s now; docs/validation-notebook.md)
                gap = numpyro.sample("registration_class_gap",
                                     dist.Normal(0.0, 1.0).expand([j]))
                share_b = numpyro.sample("registration_class_share", dist.Uniform(0.0, 0.5))
                _, log_1mq_a, base_a = holding(reg_a - share_b * gap)
                _, log_1mq_b, base_b = holding(reg_a + (1 - share_b) * gap)
                log_indep = jnp.logaddexp(jnp.log1p(-share_b) + given_some(log_1mq_a, base_a),
                                          jnp.log(share_b) + given_some(log_1mq_b, base_b))
            log_pr = jnp.logaddexp(base + via_first, jnp.log(path[j]) + log_indep)
        else:  # one platform, or posted on every platform
            log_pr = log_indep
        p_on = jnp.exp(log_pr).T @ sub                                      # P(j in R | g)
        per_bin = jnp.sum(p_on, axis=1)                                     # (G,)
        per_worker = jnp.sum(pi * per_bin)
        numpyro.deterministic("band_platforms", by_band(pi * per_bin) / bands)
        registered = total * (pi @ p_on)
        if cfg.visit_weights:
            # visits split over a worker's platforms in proportion to platform weights
            weight = numpyro.sample("visit_weights", dist.Dirichlet(jnp.full(j, 2.0)))
            split = sub * weight[None, :] / (sub @ weight)[:, None]         # (S, J)
            if cfg.posting_varies:   # each set's share in each wave, (S, T)
                posted_share = numpyro.deterministic(
                    "posted_visit_share", (split @ a["posted"].T)[:, a["wave_class"]])
            elif cfg.posted_on_subset:
                posted_share = numpyro.deterministic("posted_visit_share",
                                                     split @ jnp.atleast_2d(a["posted"])[0])
            vis = -jnp.expm1(-lam[None, None, :] * WEEKS_PER_MONTH * split[:, :, None])
            monthly = total * presence * jnp.einsum("g,sg,sjg->j", pi, jnp.exp(log_pr), vis)
        else:
            vis = -jnp.expm1(-lam[None, :] * WEEKS_PER_MONTH / a["subset_size"][:, None])
            monthly = total * presence * jnp.einsum("g,sg,sj,sg->j", pi, jnp.exp(log_pr), sub,
                                                    vis)
        if cfg.stated_multihoming:
            _, kind, params = specs["multihoming"]
            mu, sd = (jnp.log(params[0]), 0.02) if kind == "fixed" else (params[0], params[1])
            numpyro.sample("multihoming_stated", dist.Normal(jnp.log(per_worker), sd),
                           obs=mu)
    else:
        per_worker = (prior_site("multihoming", specs["multihoming"])
                      if cfg.stated_multihoming else jnp.asarray(1.0))
        platform_share = (numpyro.sample("platform_split", dist.Dirichlet(jnp.ones(j)))
                          if j > 1 else jnp.ones(1))
        registered = total * per_worker * platform_share
        vis = per_worker * -jnp.expm1(-lam * WEEKS_PER_MONTH / per_worker)
        monthly = total * presence * jnp.sum(pi * vis) * platform_share
    numpyro.deterministic("platforms_per_worker", per_worker)
    active = None
    if any(cfg.declared_active):
        # the workers who visit each platform in the window its declared figure counts
        # (weeks per platform), as the monthly visitors are counted over a month
        weeks = a["declared_weeks"]
        if cfg.aggregate:
            vis = per_worker * -jnp.expm1(-lam[:, None] * weeks[None, :] / per_worker)
            seen = jnp.sum(pi[:, None] * vis, axis=0) * platform_share
        elif split is not None:
            vis = -jnp.expm1(-lam[None, None, :] * weeks[None, :, None] * split[:, :, None])
            seen = jnp.einsum("g,sg,sjg->j", pi, jnp.exp(log_pr), vis)
        else:
            vis = -jnp.expm1(-lam[None, None, :] * weeks[None, :, None]
                             / a["subset_size"][:, None, None])
            seen = jnp.einsum("g,sg,sj,sjg->j", pi, jnp.exp(log_pr), a["subsets"], vis)
        active = numpyro.deterministic(
            "declared_active_workers",
            total * window_presence(a["window_start"], a["declared_taken"], churn) * seen)
    return Population(total, log_pi, pi, bands, registered, monthly, log_pr, per_worker,
                      presence, churn, posted_share, split, points, point_logw, active)
