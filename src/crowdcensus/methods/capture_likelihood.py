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
the two states are summed over (:func:`pair_prefix`).

:func:`history_log_prob` returns :math:`\\log P(h \\mid g, s)` for every
distinct history :math:`h`, share class :math:`s` and activity bin :math:`g`.
"""

from __future__ import annotations

import numpy as np


def stay_factors(arrive, leave, mids, length):
    """The chance of each stay (first and last wave present) in factored form.

    A share ``arrive`` of the workers arrives at a uniform time of the reference
    period ``[0, length]``, a share ``leave`` leaves at one (a worker who does both
    stays between the two times); a worker is present at a wave when its middle day
    (``mids``) falls in their stay. The stay from wave ``i`` to wave ``j`` has chance
    ``arrival[0, i] * departure[0, j] + arrival[1, i] * departure[1, j]``: the first
    term stays to the end (``departure[0]`` is 1 at the last wave, 0 elsewhere), the
    second leaves in the gap after wave ``j``. Returns ``(arrival, departure,
    log_none)``, both (2, T), and the log chance of being present at no wave.
    """
    import jax.numpy as jnp

    t = mids.shape[0]
    edges = jnp.concatenate([jnp.zeros(1), mids, jnp.reshape(length, (1,))])
    gap = jnp.diff(edges) / length                    # the T+1 gaps between middle days
    at_start = jnp.zeros(t + 1).at[0].set(1.0)       # present from the start
    arrival = jnp.stack([(1 - arrive) * (1 - leave) * at_start + arrive * (1 - leave) * gap,
                         (1 - arrive) * leave * at_start + 2 * arrive * leave * gap])[:, :t]
    departure = jnp.stack([jnp.zeros(t).at[-1].set(1.0), gap[1:]])
    # no wave: arriving after the last, leaving before the first, or both in one gap
    none = (arrive * (1 - leave) * gap[-1] + (1 - arrive) * leave * gap[0]
            + arrive * leave * jnp.sum(gap * gap))
    return arrival, departure, jnp.log(jnp.clip(none, 1e-300))


def history_log_prob(a: dict, params: dict, churn=None, rates=None):
    """:math:`\\log P(h \\mid s, g)`, shape (histories, share classes, bins); see the module doc.

    ``rates``: the weekly visit rate of each bin (default ``a["lam"]``); the joint model
    passes the rates of :func:`~crowdcensus.synthesis.activity.bin_points`, several in the
    open bin, so that G counts rates rather than bins.

    ``params``: ``sight`` (:math:`\\theta`), ``takeup`` (:math:`\\alpha`), ``wave``
    (:math:`u_t`), ``het`` (:math:`\\sigma`), ``after`` (:math:`\\beta`), and
    optionally ``shares``, the share classes' :math:`s` (default ``a["share_values"]``),
    (U,), or (T, U) when the waves were posted on different platforms, and
    ``answer_here``, the log chance that an answer goes to the class's platform (same
    shapes: with IDs per platform a class is a set of platforms and one of them, whose
    respondents are a worker's answers there).
    ``churn``: None, or ``(arrive, leave)`` shares with ``a["wave_mid"]`` and
    ``a["reference_days"]``.
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
    logit0 = (params["takeup"] + params["wave"][:, None]
              + params["het"] * a["het_nodes"][None, :])                         # (T, Z)
    h, c = a["H"], a["C"]
    # log P(h | wave-by-wave) is linear in the four per-wave logs (answered or not, before
    # or after a first answer): one contraction over waves instead of a broadcast
    pick = jnp.stack([h * (1 - c), (1 - h) * (1 - c), h * c, (1 - h) * c], axis=-1)  # (P,T,4)
    logs = []
    for after in (0.0, 1.0):
        log_p = seen_here + jax.nn.log_sigmoid(logit0 + after * params["after"])[:, None, None, :]
        logs += [log_p, _log1m_exp(log_p)]
    logs = jnp.stack(logs, axis=1)                                               # (T,4,U,G,Z)
    logw = a["het_logw"]
    if here is None:
        total = jnp.einsum("ptk,tkugz->pugz", pick, logs)      # closed population (P,U,G,Z)
    else:
        # one platform of a worker's (IDs per platform): before this platform's first
        # answer the worker may have answered on another, so the waves up to it are a sum
        # over the worker's state (pair_prefix); from it on, the state after an answer
        total = jnp.einsum("ptk,tkugz->pugz", pick[..., 2:], logs[:, 2:])
        never, missed, start = pair_prefix(log_see, here, logit0, logs)
    if churn is None:
        if here is not None:
            opening = first_answer_log_probs(never, missed, start, logs)  # (T+1,U,G,Z)
            # each history's row, as a product with its one-hot row (a gather and its
            # scattered gradient took longer)
            onehot = a["first_caught"][:, None] == jnp.arange(opening.shape[0])[None]
            total = total + jnp.einsum("pf,fugz->pugz", onehot.astype(opening.dtype), opening)
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
                                                a["reference_days"])
    log_a = jnp.log(jnp.clip(arrival, 1e-300))[:, :, None, None, None]        # (2,T,1,1,1)
    log_gap = jnp.log(departure[1])[:, None, None, None]                        # (T,1,1,1)
    zero = jnp.zeros_like(logs[:1, 1])
    if here is None:
        never = jnp.concatenate([zero, jnp.cumsum(logs[:, 1], axis=0)])  # misses before 1st
        missed = jnp.concatenate([zero, jnp.cumsum(logs[:, 3], axis=0)])  # misses after it
    # prefix (i <= f) and suffix (j >= l) log-sums as masked sums over a (T, T) square
    upto = np.tril(np.ones((t, t), dtype=bool))[:, :, None, None, None]
    x = logsumexp(jnp.where(upto[None], (log_a - never[None, :t])[:, None], -jnp.inf),
                  axis=2)                                                        # (2,T,U,G,Z)
    y = logsumexp(jnp.where(upto.transpose(1, 0, 2, 3, 4),
                            (log_gap + missed[1:] - missed[t:])[None], -jnp.inf), axis=1)
    first = jnp.clip(a["first_caught"], 0, t - 1)
    last = jnp.clip(a["last_caught"], 0, t - 1)
    if here is None:
        # X_1 / X_0 is at most about 2 x leave / (1 - leave), Y at most 1: one log per
        # history and node (float64 logs and exps are most of this function's cost)
        ratio, stay_on = jnp.exp(x[1] - x[0]), jnp.exp(y)                      # (T,U,G,Z)
        caught = total + x[0][first] + jnp.log1p(ratio[first] * stay_on[last])  # (P,U,G,Z)
        # no answer: present at some waves and missed at each, or at none
        unseen = jnp.logaddexp(never[t] + x[0, t - 1],
                               logsumexp(log_gap + never[1:] + x[1], axis=0))  # (U,G,Z)
    else:
        # the worker arrives at wave i and answers elsewhere at wave e (i <= e < f): a
        # prefix sum over e of the arrivals' prefix sums
        late = jnp.concatenate([jnp.full_like(x[:, :1], -1e4),
                                prefix_log_sums(start[None] + x, axis=1)], axis=1)  # (2,T+1,...)
        phi = jnp.logaddexp(never[None, :t] + logs[None, :, 0] + x,
                            logs[None, :, 2] + missed[None, :t] + late[:, :t])
        caught = total + jnp.logaddexp(phi[0][first], phi[1][first] + y[last])
        quiet = jnp.logaddexp(never[1:] + x, missed[1:] + late[:, 1:])          # (2,T,...)
        unseen = jnp.logaddexp(quiet[0, t - 1], logsumexp(log_gap + quiet[1], axis=0))
    empty = (a["first_caught"] >= t)[:, None, None, None]
    per_node = jnp.where(empty, unseen[None], caught)
    present = logsumexp(per_node + logw, axis=-1)                               # (P, U, G)
    absent = jnp.where(empty[:, 0, 0, 0], log_none, -jnp.inf)[:, None, None]
    return jnp.logaddexp(present, absent)


def _log1m_exp(x):
    """log(1 - e^x) for x <= 0, kept finite (1 - e^x at least 1e-12)."""
    import jax.numpy as jnp

    return jnp.log1p(-jnp.clip(jnp.exp(x), 0.0, 1 - 1e-12))


def pair_prefix(log_see, here, logit0, logs):
    """With IDs per platform, what comes before one platform's first answer.

    The behavioural effect is the worker's: the pair (worker, platform) may enter a wave
    with the worker having answered already, on another of their platforms, which its own
    history does not show. Before the platform's first answer each wave leaves the worker
    as they were (no answer: chance :math:`1 - p_t\\kappa_t`), or turns them into a past
    respondent (an answer elsewhere: :math:`p_t \\kappa_t (1 - a_t)`, ``here`` being
    :math:`\\log a_t`), who then misses this platform with the chance of the state after
    an answer. ``log_see`` (T, U, G, 1): the worker's log chance of seeing the task;
    ``logit0`` (T, Z): the take-up before any answer; ``logs``: the per-wave logs of
    :func:`history_log_prob` (answered here / not, before and after a first answer).

    Returns, each (waves, U, G, Z): ``never`` (T + 1), the log chance of no answer
    anywhere in the waves before each; ``missed`` (T + 1), the cumulated log chances of
    missing this platform in the state after an answer; ``start`` (T), for each wave
    ``e``, ``never[e]`` + log(an answer elsewhere at ``e``) - ``missed[e + 1]``, so that
    having answered elsewhere at ``e`` and missed here until ``f`` is
    ``start[e] + missed[f]``.
    """
    import jax
    import jax.numpy as jnp

    took = log_see + jax.nn.log_sigmoid(logit0)[:, None, None, :]      # answers anywhere
    elsewhere = took + jnp.log(jnp.clip(-jnp.expm1(here), 1e-300, 1.0))
    zero = jnp.zeros_like(took[:1])
    never = jnp.concatenate([zero, jnp.cumsum(_log1m_exp(took), axis=0)])
    missed = jnp.concatenate([zero, jnp.cumsum(logs[:, 3], axis=0)])
    return never, missed, never[:-1] + elsewhere - missed[1:]


def prefix_log_sums(x, axis=0):
    """The log-sum-exp of ``x`` over its first ``k + 1`` entries along ``axis``, for each
    ``k``: one shifted exponential and a product with a triangle of ones (a masked
    log-sum-exp over the square, or ``jax.lax.cumlogsumexp``, took longer with their
    gradients). The shift is each slice's largest entry; a prefix whose terms all lie
    700 log units below it is taken as 1e-300 times the shift."""
    import jax
    import jax.numpy as jnp

    top = jax.lax.stop_gradient(jnp.max(x, axis=axis, keepdims=True))
    upto = np.tril(np.ones((x.shape[axis],) * 2))
    sums = jnp.moveaxis(jnp.tensordot(upto, jnp.moveaxis(jnp.exp(x - top), axis, 0),
                                      axes=1), 0, axis)
    return jnp.log(jnp.maximum(sums, 1e-300)) + top


def first_answer_log_probs(never, missed, start, logs):
    """In a closed population, the log chance that one platform's answers start at wave
    ``f`` (a first answer there at ``f``, none before), for ``f`` = 0..T-1, and of no
    answer there at all (``f`` = T): shape (T + 1, U, G, Z), from :func:`pair_prefix`.
    The chance of having answered elsewhere before ``f`` is a prefix sum over the waves,
    so no history is listed."""
    import jax.numpy as jnp

    t = logs.shape[0]
    before = prefix_log_sums(start) + missed[1:]
    # (before[f - 1]: the worker answered elsewhere before wave f)
    answered = jnp.concatenate([jnp.full_like(never[:1], -1e4), before])        # (T+1,...)
    first = jnp.logaddexp(never[:t] + logs[:, 0], answered[:t] + logs[:, 2])
    return jnp.concatenate([first, jnp.logaddexp(never[t], answered[t])[None]])


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
