"""Method 3: at-least-monthly workers from the platforms' web audience.

.. math:: \\hat N_{regular} = \\frac{\\sum_i V_i \\, s_i}{m}

where :math:`V_i` is the monthly unique visitors from the country that a
traffic panel measures on platform :math:`i`'s worker site, :math:`s_i` the
share of those visitors who are workers (not clients or the curious; 1 when
the study gives none) and :math:`m` the multi-homing coefficient: a person
who visits two platforms in the month is two visitors.

References
----------
Le Ludec, C., Tubaro, P. and Casilli, A. A. (2019), see
:mod:`crowdcensus.methods.declared`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from crowdcensus.sources.figures import PlatformFigures


def worker_visitors(values: Mapping[str, np.ndarray], figures: PlatformFigures) -> np.ndarray:
    """:math:`\\sum_i V_i s_i`, the monthly visitors who are workers, summed over platforms."""
    total = 0.0
    for fig in figures.audience:
        v = np.asarray(values[fig.visitors], dtype=float)
        if fig.worker_share is not None:
            v = v * np.asarray(values[fig.worker_share], dtype=float)
        total = total + v
    return total


def audience_regular(
    values: Mapping[str, np.ndarray], figures: PlatformFigures, multihoming: np.ndarray
) -> np.ndarray:
    """Regular (at least monthly) workers: :math:`\\sum_i V_i s_i / m`."""
    return worker_visitors(values, figures) / np.asarray(multihoming, dtype=float)


class WebAudience:
    """Method 3 as an observation model of the joint model (:mod:`crowdcensus.synthesis`).

    .. math:: \\log V_j \\sim N\\Big(\\log \\frac{U_j\\, v}{w_j},\\ s_j^2\\Big)

    :math:`U_j` the workers who visit platform :math:`j` at least once in a month
    (from the latent population's visit rates: a worker of rate :math:`\\lambda`
    registered on :math:`|R|` platforms visits each with probability
    :math:`1 - e^{-\\lambda (52/12)/|R|}` in a month, times the share of the year
    workers are present), :math:`v \\ge 1` the visitors a panel counts per
    person (devices, cookies), :math:`w_j` the share of the visitors who are
    workers (clients, requesters and the curious visit too), :math:`s_j` the
    panel's log-scale error (a quarter of the stated log range). A month's
    unique visitors are not the regular workers: occasional workers who come by
    that month count, regular ones who skip it do not; the model counts
    exactly those who visit.
    """

    name = "audience"
    label = "Web audience"
    tiers = ("regular",)

    @staticmethod
    def arithmetic(values: Mapping[str, np.ndarray], figures: PlatformFigures,
                   multihoming: np.ndarray) -> dict[str, np.ndarray]:
        """The method on its own (the 2018 arithmetic): worker visitors / multi-homing."""
        return {"regular": audience_regular(values, figures, multihoming)}

    @staticmethod
    def observe(cfg, a: dict, pop, specs: dict) -> None:
        """The audience figures' likelihood given the latent population ``pop``."""
        import jax.numpy as jnp
        import numpyro
        import numpyro.distributions as dist

        from crowdcensus.synthesis.population import prior_site

        if not any(cfg.audience_mask):
            return
        mask = np.array(cfg.audience_mask)
        per_person = prior_site("visitors_per_person", specs["visitors_per_person"])
        shares = jnp.stack([prior_site(f"worker_share_{i}", specs[f"worker_share_{i}"])
                            if m else jnp.asarray(1.0) for i, m in enumerate(cfg.audience_mask)])
        bias = numpyro.deterministic("audience_bias", per_person / shares)
        expected = jnp.log(pop.monthly) + jnp.log(bias)
        numpyro.deterministic("audience_expected", jnp.exp(expected))
        numpyro.deterministic("monthly_visitors", pop.monthly)
        numpyro.sample("audience", dist.Normal(expected[mask], a["audience_sd"][mask]),
                       obs=a["audience"][mask])
