"""The chance of a capture history given a worker's activity, for the joint model.

A worker of weekly visit rate :math:`\\lambda` who sends a share :math:`s` of
their visits to the platforms the task is posted on sees it during wave
:math:`t` (:math:`o_t` days) with probability :math:`1 - e^{-\\theta\\lambda s
o_t/7}` (:math:`\\theta`: the chance that a visit shows the task, a scale
between visits and sightings) and takes it with probability

.. math:: \\kappa_t = \\operatorname{logit}^{-1}(\\alpha + u_t + \\sigma z
          + \\beta\\,1\\{\\text{answered before}\\}),

a wave effect :math:`u_t \\sim N(0, 0.5^2)`, individual heterogeneity
:math:`z \\sim N(0, 1)` integrated by Gauss--Hermite quadrature, and a
behavioural effect :math:`\\beta` (survey aversion, or platforms that exclude
past participants: :math:`\\beta < 0`). With churn, a worker is present at the
waves between their arrival and their departure (whole waves: present when
the wave's middle day falls in their stay); a history with an answer outside
the stay has probability zero, and the stay is summed over.

With worker IDs per platform a history is one platform's answers of a worker
(the share :math:`a_t` of the worker's answers in wave :math:`t` goes there),
while "answered before" is the worker's: before the platform's first answer
the worker may have answered on another platform, unseen in this history, and
the two states are summed over (:func:`pair_waves`).

:func:`history_log_prob` returns :math:`\\log P(h \\mid g, s)` for every
distinct history :math:`h`, share class :math:`s` and activity bin :math:`g`.
"""

from __future__ import annotations


def stay_factors(arrive, leave, mids, length, split=False):
    """The chance of each stay (first and last wave present) in factored form.

    A share ``arrive`` of the workers arrives at a uniform time of the reference
    period ``[0, length]``, a share ``leave`` leaves at one (a worker who does both
    stays between the two times); a worker is present at a wave when its middle day
    (``mids``) falls in their stay. The stay from wave ``i`` to wave ``j`` has chance
    ``arrival[0, i] * departure[0, j] + arrival[1, i] * departure[1, j]``: the first
    term stays to the end (``departure[0]`` is 1 at the last wave, 0 elsewhere), the
    second leaves in the gap after wave ``j``. Returns ``(arrival, departure,
    log_none)``, both (2, T), and the log chance of being present at no wave. With
    ``split``, ``arrival`` is (3, 2, T): the stays of every worker, of those present from
    the period's start, and of those who arrived during it (the first is the sum of the
    other two).
    """
    import jax.numpy as jnp

    t = mids.shape[0]
    edges = jnp.concatenate([jnp.zeros(1), mids, jnp.reshape(length, (1,))])
    gap = jnp.diff(edges) / length                    # the T+1 gaps between middle days
    at_start = jnp.zeros(t + 1).at[0].set(1.0)       # present from the start
    present = jnp.stack([(1 - arrive) * (1 - leave) * at_start,
                         (1 - arrive) * leave * at_start])[:, :t]
    arrived = jnp.stack([arrive * (1 - leave) * gap, 2 * arrive * leave * gap])[:, :t]
    arrival = present + arrived
    if split:
        arrival = jnp.stack([arrival, present, arrived])
    departure = jnp.stack([jnp.zeros(t).at[-1].set(1.0), gap[1:]])
    # no wave: arriving after the last, leaving before the first, or both in one gap
    none = (arrive * (1 - leave) * gap[-1] + (1 - arrive) * leave * gap[0]
            + arrive * leave * jnp.sum(gap * gap))
    return arrival, departure, jnp.log(jnp.clip(none, 1e-300))


def history_log_prob(a: dict, params: dict, churn=None, rates=None, started=False):
    """:math:`\\log P(h \\mid s, g)`, shape (histories, share classes, bins); see the module doc.

    ``rates``: the weekly visit rate of each bin (default ``a["lam"]``); the joint model
    passes the rates of :func:`~crowdcensus.synthesis.activity.bin_points`, several in the
    open bin, so that G counts rates rather than bins.

    ``params``: ``sight`` (:math:`\\theta`), ``takeup`` (:math:`\\alpha`), ``slope``
    (:math:`\\gamma`, the take-up's slope on the log rate; none by default), ``wave``
    (:math:`u_t`), ``het`` (:math:`\\sigma`), ``after`` (:math:`\\beta`), and
    optionally ``shares``, the share classes' :math:`s` (default ``a["share_values"]``),
    (U,), or (T, U) when the waves were posted on different platforms, and
    ``answer_here``, the log chance that an answer goes to the class's platform (same
    shapes: with IDs per platform a class is a set of platforms and one of them, whose
    respondents are a worker's answers there).
    ``churn``: None, or ``(arrive, leave)`` shares with ``a["wave_mid"]`` and
    ``a["reference_days"]``. With ``started`` (and churn), each row's
    ``a["row_started"]`` says what its respondents answered on when they began: -1 the
    history's chance whatever the stay, 0 its chance and a stay from the period's start,
    1 its chance and a stay that began during the period (the two sum to the first).
    With ``params["misdated"]``, that share of those there from the start answer 1.
    """
    import jax
    import jax.numpy as jnp
    from jax.scipy.special import logsumexp

    shares = params.get("shares", a["share_values"])     # (U,), or (T, U) by wave
    lam = a["lam"] if rates is None else rates
    rate = params["sight"] * lam * shares[..., None]                      # (U, G) or (T, U, G)
    if rate.ndim == 2:
        rate = rate[None]
    see = -jnp.expm1(-rate * a["wave_days"][:, None, None] / 7.0)               # (T, U, G)
    log_see = jnp.log(jnp.clip(see, 1e-300, 1.0))[..., None]                    # (T,U,G,1)
    seen_here = log_see
    here = None
    if "answer_here" in params:  # the log chance that an answer goes to the class's platform
        here = params["answer_here"]                                    # (U,) or (T, U)
        here = (here[None] if here.ndim == 1 else here)[..., None, None]        # (T|1,U,1,1)
        seen_here = log_see + here
    # the take-up before any answer, by wave, rate (1 without a slope) and node
    slope = params.get("slope")
    tilt = 0.0 if slope is None else (slope * jnp.log(lam))[None, :, None]
    logit0 = (params["takeup"] + params["wave"][:, None, None] + tilt
              + params["het"] * a["het_nodes"][None, None, :])                   # (T,G|1,Z)
    h, c = a["H"], a["C"]
    # log P(h | wave-by-wave) is linear in the four per-wave logs (answered or not, before
    # or after a first answer): one contraction over waves instead of a broadcast
    pick = jnp.stack([h * (1 - c), (1 - h) * (1 - c), h * c, (1 - h) * c], axis=-1)  # (P,T,4)
    logs = []
    for after in (0.0, 1.0):
        log_p = seen_here + jax.nn.log_sigmoid(logit0 + after * params["after"])[:, None]
        logs += [log_p, _log1m_exp(log_p)]
    logs = jnp.stack(logs, axis=1)                                               # (T,4,U,G,Z)
    logw = a["het_logw"]
    if churn is None and here is not None:
        # present from the first wave: the openings, and no answer here at all
        start = jnp.zeros((1, logs.shape[0])).at[0, 0].set(1.0)
        opens, quiet = pair_waves(start, log_see, here, logit0, logs)
        opening = jnp.log(jnp.maximum(jnp.concatenate([opens[0], quiet[0, -1:]]),
                                      1e-300))                                  # (T+1,U,G,Z)
        # each history's row of the openings, picked by its one-hot row in the same
        # contraction as the waves after (a gather and its scattered gradient, or a
        # contraction of its own, took longer)
        onehot = (a["first_caught"][:, None] == jnp.arange(opening.shape[0])[None])
        rows = jnp.concatenate([pick[..., 2:].reshape(pick.shape[0], -1),
                                onehot.astype(opening.dtype)], axis=1)
        terms = jnp.concatenate([logs[:, 2:].reshape((-1,) + logs.shape[2:]), opening])
        return logsumexp(jnp.einsum("pk,kugz->pugz", rows, terms) + logw, axis=-1)
    if here is None:
        total = jnp.einsum("ptk,tkugz->pugz", pick, logs)      # closed population (P,U,G,Z)
    else:
        # one platform of a worker's (IDs per platform): before this platform's first
        # answer the worker may have answered on another, so the waves up to it are a sum
        # over the worker's state (pair_waves); from it on, the state after an answer
        total = jnp.einsum("ptk,tkugz->pugz", pick[..., 2:], logs[:, 2:])
    if churn is None:
        return logsumexp(total + logw, axis=-1)                                  # (P, U, G)
    # With churn, a history answered from wave f to wave l has its closed chance times
    # X_0[f] + X_1[f] Y[l]. The chance of a stay from wave i to wave j is
    # a_0[i] 1{j = T-1} + a_1[i] gap[j+1] (stay_factors), and the waves the stay misses
    # before f and after l make the sum over stays prefix sums over i (X_r) and suffix
    # sums over j (Y): linear in the waves, where summing every stay of every history
    # grows with their square (per gradient,
    # 11 waves and 1,792 histories: 0.15 s -> 0.0075 s; 12 waves, 2,048 histories and
    # three share classes: 1.7 s -> 0.07 s; the closed population: 0.0045 and 0.020 s).
    t = h.shape[1]
    arrival, departure, log_none = stay_factors(churn[0], churn[1], a["wave_mid"],
                                                a["reference_days"], split=started)
    if started and "misdated" in params:
        # a share of those there from the start say they began during the period: the
        # stays the answer "during" stands for gain them, those of "from the start" lose
        # them (every row is linear in the stays, so the mixture is exact)
        rho = params["misdated"]
        arrival = jnp.stack([arrival[0], (1 - rho) * arrival[1],
                             arrival[2] + rho * arrival[1]])
    # the stays each row's respondents may have had (by their answer on when they began)
    kind = (a["row_started"] + 1) if started else None
    log_gap = jnp.log(departure[1])[:, None, None, None]                        # (T,1,1,1)
    zero = jnp.zeros_like(logs[:1, 1])
    missed = jnp.concatenate([zero, jnp.cumsum(logs[:, 3], axis=0)])  # misses after 1st
    # prefix (i <= f) and suffix (j >= l) log-sums, cumulated along the waves
    y = jax.lax.cumlogsumexp(log_gap + missed[1:] - missed[t:], axis=0, reverse=True)
    first = jnp.clip(a["first_caught"], 0, t - 1)
    last = jnp.clip(a["last_caught"], 0, t - 1)
    if here is None:
        never = jnp.concatenate([zero, jnp.cumsum(logs[:, 1], axis=0)])  # misses before 1st
        log_a = jnp.log(jnp.clip(arrival, 1e-300))[..., None, None, None]   # ([3],2,T,1,1,1)
        x = jax.lax.cumlogsumexp(log_a - never[:t], axis=log_a.ndim - 4)     # ([3],2,T,U,G,Z)
        # X_1 / X_0 is at most about 2 x leave / (1 - leave), Y at most 1: the nodes are
        # summed as chances, each history's scaled by its largest node (a shift held out
        # of the gradient), one exponential per history and node (float64 logs and exps
        # are most of this function's cost)
        stay_on = jnp.exp(y)                                                   # (T,U,G,Z)
        if started:   # each row's kind of stay (kind 0, any, is x[0])
            ratio = jnp.exp(x[:, 1] - x[:, 0])[kind, first]                    # (P,U,G,Z)
            x_first, x = x[:, 0][kind, first], x[0]
        else:
            ratio, x_first = jnp.exp(x[1] - x[0])[first], x[0][first]
        nodes = total + x_first + logw                                         # (P,U,G,Z)
        top = jax.lax.stop_gradient(jnp.max(nodes, axis=-1))
        top = jnp.where(jnp.isfinite(top), top, 0.0)
        caught = top + jnp.log(jnp.sum(jnp.exp(nodes - top[..., None])
                                       * (1 + ratio * stay_on[last]), axis=-1))
        # no answer: present at some waves and missed at each, or at none
        unseen = jnp.logaddexp(never[t] + x[0, t - 1],
                               logsumexp(log_gap + never[1:] + x[1], axis=0))  # (U,G,Z)
    else:
        # the two ways of staying (to the end; leaving after the last answer here) as
        # arrivals carried wave by wave, with the worker's state (pair_waves)
        if started:
            # the stays of those there from the start and of those who arrived, carried
            # together; pair_waves is linear in the arrivals, so every worker's are the sum
            opens, quiet = pair_waves(arrival[1:].reshape(4, t), log_see, here, logit0, logs)
            opens = opens.reshape((2, 2) + opens.shape[1:])
            opens = jnp.concatenate([opens.sum(axis=0, keepdims=True), opens])   # (3,2,T,...)
            open_0, open_1 = opens[:, 0][kind, first], opens[:, 1][kind, first]
            quiet = quiet[:2] + quiet[2:]
        else:
            opens, quiet = pair_waves(arrival, log_see, here, logit0, logs)    # (2,T,...)
            open_0, open_1 = opens[0][first], opens[1][first]
        caught = logsumexp(total + logw + jnp.log(jnp.maximum(
            open_0 + open_1 * jnp.exp(y[last]), 1e-300)), axis=-1)
        gap = departure[1][:, None, None, None]
        unseen = jnp.log(jnp.maximum(quiet[0, t - 1] + jnp.sum(gap * quiet[1], axis=0),
                                     1e-300))
    # caught (P, U, G): each history's chance, summed over the nodes; unseen by node
    empty = a["first_caught"] >= t
    present = jnp.where(empty[:, None, None], logsumexp(unseen + logw, axis=-1)[None],
                        caught)                                                 # (P, U, G)
    absent = jnp.where(empty, log_none, -jnp.inf)[:, None, None]
    return jnp.logaddexp(present, absent)


def _log1m_exp(x):
    """log(1 - e^x) for x <= 0, kept finite (1 - e^x at least 1e-12)."""
    import jax.numpy as jnp

    return jnp.log1p(-jnp.clip(jnp.exp(x), 0.0, 1 - 1e-12))


def pair_waves(arrival, log_see, here, logit0, logs):
    """With IDs per platform, one platform's waves before its first answer, wave by wave.

    The behavioural effect is the worker's: the pair (worker, platform) may enter a wave
    with the worker having answered already, on another of their platforms, which its own
    history does not show. From their arrival, each wave leaves the worker as they were
    (no answer anywhere: chance :math:`1 - p_t\\kappa_t`), or turns them into a past
    respondent (an answer elsewhere: :math:`p_t \\kappa_t (1 - a_t)`, ``here`` being
    :math:`\\log a_t`), who then misses this platform with the chance of the state after
    an answer. The two states are carried as chances, a few products a wave (the same
    sums as log-space prefix sums over the waves, which cost about twice as much with
    their gradient and agree to 2e-14).

    ``arrival`` (R, T): the chance of arriving at each wave, for each of R ways of
    staying (:func:`stay_factors`; a closed population: 1 at the first wave);
    ``log_see`` (T, U, G, 1): the worker's log chance of seeing the task; ``logit0`` (T,
    G or 1, Z): the take-up before any answer; ``logs``: the per-wave logs of
    :func:`history_log_prob` (answered here / not, before and after a first answer).
    Returns ``opens`` (R, T, U, G, Z), the chance of arriving by wave ``f`` and answering
    here first at ``f``, and ``quiet``, of arriving by wave ``f`` and no answer here
    through ``f``.
    """
    import jax
    import jax.numpy as jnp

    took = jnp.exp(log_see + jax.nn.log_sigmoid(logit0)[:, None])  # anywhere
    elsewhere = took * -jnp.expm1(here)
    first_here, again_here = jnp.exp(logs[:, 0]), jnp.exp(logs[:, 2])
    come = arrival.reshape(arrival.shape + (1,) * (took.ndim - 1))
    never = answered = jnp.zeros((arrival.shape[0],) + took.shape[1:])
    opens, quiet = [], []
    for f in range(logs.shape[0]):
        never = never + come[:, f]
        opens.append(never * first_here[f] + answered * again_here[f])
        answered = answered * (1 - again_here[f]) + never * elsewhere[f]
        never = never * (1 - took[f])
        quiet.append(never + answered)
    return jnp.stack(opens, axis=1), jnp.stack(quiet, axis=1)


#: Below this, a product of exponentials in :func:`pair_log_sums` is taken to have
#: underflowed (float64 keeps about 16 digits down to 1e-308).
PAIR_SUM_FLOOR = 1e-280


def gathered_log_sums(left, right, rows, cols):
    """:func:`pair_log_sums` the direct way: each pair's two rows gathered and added, and
    their log-sum-exp taken (shape: that of ``rows`` and ``cols`` broadcast)."""
    from jax.scipy.special import logsumexp

    return logsumexp(left[rows] + right[cols], axis=-1)


def pair_log_sums(left, right, rows, cols, needed=None, table=True):
    """:math:`\\log \\sum_g \\exp(\\text{left}_{ig} + \\text{right}_{jg})` for the pairs
    ``(rows, cols)`` (integer arrays of one shape, or that broadcast); ``left`` is (I, G),
    ``right`` (J, G).

    The experiment's likelihood needs this log-sum-exp over the rates for every kind of
    respondent, whose terms are the sum of a (history, platform set) row and an (answer,
    hours) row. Gathering a row of G terms per kind, and scattering G gradients per kind
    back, cost most of an evaluation; here each row is exponentiated once, shifted by its
    maximum, and one product of the two tables gives every pair's sum at once, so that one
    number per kind is gathered. Where a pair's terms are all negligible beside both rows'
    maxima (their product underflows: rows whose peaks lie hundreds of log units apart, as
    far from the mode as a search may wander), the result is :func:`gathered_log_sums`;
    both agree to rounding. ``needed``: a boolean mask of the pairs whose value matters
    (the others may underflow to -inf). ``table=False``: the gathered form only (where
    the table would have more rows than there are pairs to pick).
    """
    import jax
    import jax.numpy as jnp

    if not table:
        return gathered_log_sums(left, right, rows, cols)

    def shift(x):
        top = jax.lax.stop_gradient(jnp.max(x, axis=1))
        return jnp.where(jnp.isfinite(top), top, 0.0)

    lo, ro = shift(left), shift(right)
    product = jnp.exp(left - lo[:, None]) @ jnp.exp(right - ro[:, None]).T     # (I, J)
    picked = product[rows, cols]
    fine = picked > PAIR_SUM_FLOOR
    fast = jnp.where(fine, jnp.log(jnp.where(fine, picked, 1.0)) + lo[rows] + ro[cols],
                     -jnp.inf)
    enough = fine if needed is None else fine | ~needed
    return jax.lax.cond(jnp.all(enough), lambda: fast,
                        lambda: gathered_log_sums(left, right, rows, cols))
