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

:func:`history_log_prob` returns :math:`\\log P(h \\mid g, s)` for every
distinct history :math:`h`, share class :math:`s` and activity bin :math:`g`.
"""

from __future__ import annotations

import numpy as np


def stay_probabilities(arrive, leave, mids, length):
    """Log chance of each stay (first, last wave present) and of no wave at all.

    A share ``arrive`` of the workers arrives at a uniform time of the reference
    period ``[0, length]``, a share ``leave`` leaves at one (a worker who does
    both stays between the two times). ``mids`` are the waves' middle days.
    Returns ``(log_p, first, last, log_none)``: the log chance of each stay, its
    first and last wave (0-based, ``first <= last``), and the log chance of
    being present at no wave.
    """
    import jax.numpy as jnp

    t = mids.shape[0]
    edges = jnp.concatenate([jnp.zeros(1), mids, jnp.reshape(length, (1,))])
    gap = jnp.diff(edges) / length                    # the T+1 gaps between middle days
    first_gap = np.zeros(t + 1)
    first_gap[0] = 1.0
    last_gap = np.zeros(t + 1)
    last_gap[-1] = 1.0
    # joint chance that arrival falls in gap i and departure in gap k (i <= k)
    both = 2 * jnp.outer(gap, gap)
    both = jnp.triu(both, 1) + jnp.diag(gap * gap)
    p = ((1 - arrive) * (1 - leave) * np.outer(first_gap, last_gap)
         + arrive * (1 - leave) * jnp.outer(gap, last_gap)
         + (1 - arrive) * leave * jnp.outer(first_gap, gap)
         + arrive * leave * both)                      # (T+1, T+1) over (arrive gap, leave gap)
    firsts, lasts = [], []
    for i in range(t):
        for k in range(i + 1, t + 1):                  # present at waves i .. k-1
            firsts.append(i)
            lasts.append(k - 1)
    fi, la = np.array(firsts), np.array(lasts)
    stays = p[fi, la + 1]
    none = jnp.sum(jnp.tril(p))                        # arrival and departure in one gap
    return jnp.log(jnp.clip(stays, 1e-300)), fi, la, jnp.log(jnp.clip(none, 1e-300))


def history_log_prob(a: dict, params: dict, churn=None):
    """:math:`\\log P(h \\mid s, g)`, shape (histories, share classes, bins); see the module doc.

    ``params``: ``sight`` (:math:`\\theta`), ``takeup`` (:math:`\\alpha`), ``wave``
    (:math:`u_t`), ``het`` (:math:`\\sigma`), ``after`` (:math:`\\beta`), and
    optionally ``shares``, the share classes' :math:`s` (default ``a["share_values"]``).
    ``churn``: None, or ``(arrive, leave)`` shares with ``a["wave_mid"]`` and
    ``a["reference_days"]``.
    """
    import jax
    import jax.numpy as jnp
    from jax.scipy.special import logsumexp

    shares = params.get("shares", a["share_values"])
    rate = params["sight"] * a["lam"][None, :] * shares[:, None]               # (U, G)
    see = -jnp.expm1(-rate[None] * a["wave_days"][:, None, None] / 7.0)          # (T, U, G)
    log_see = jnp.log(jnp.clip(see, 1e-300, 1.0))[..., None]                    # (T,U,G,1)
    logit0 = (params["takeup"] + params["wave"][:, None]
              + params["het"] * a["het_nodes"][None, :])                         # (T, Z)
    h, c = a["H"], a["C"]
    # log P(h | wave-by-wave) is linear in the four per-wave logs (answered or not, before
    # or after a first answer): one contraction over waves instead of a broadcast
    pick = jnp.stack([h * (1 - c), (1 - h) * (1 - c), h * c, (1 - h) * c], axis=-1)  # (P,T,4)
    logs = []
    for after in (0.0, 1.0):
        log_p = log_see + jax.nn.log_sigmoid(logit0 + after * params["after"])[:, None, None, :]
        logs += [log_p, jnp.log1p(-jnp.clip(jnp.exp(log_p), 0.0, 1 - 1e-12))]
    logs = jnp.stack(logs, axis=1)                                               # (T,4,U,G,Z)
    logw = a["het_logw"]
    if churn is None:
        total = jnp.einsum("ptk,tkugz->pugz", pick, logs)
        return logsumexp(total + logw, axis=-1)                                  # (P, U, G)
    log_stay, first, last, log_none = stay_probabilities(churn[0], churn[1], a["wave_mid"],
                                                         a["reference_days"])
    waves = np.arange(h.shape[1])
    window = ((waves[None, :] >= first[:, None]) & (waves[None, :] <= last[:, None])
              ).astype(float)                                                    # (F, T)
    within = jnp.einsum("ptk,ft,tkugz->pfugz", pick, window, logs)               # (P,F,U,G,Z)
    fits = (a["first_caught"][:, None] >= first[None, :]) & \
        (a["last_caught"][:, None] <= last[None, :])                             # (P, F)
    stay_term = jnp.where(fits[:, :, None, None, None], within, -jnp.inf) + \
        log_stay[None, :, None, None, None]
    present = logsumexp(stay_term + logw, axis=(1, 4))                           # (P, U, G)
    empty = a["first_caught"] >= a["H"].shape[1]                                 # no answer
    absent = jnp.where(empty, log_none, -jnp.inf)[:, None, None]
    return jnp.logaddexp(present, absent)
