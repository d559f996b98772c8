"""Method 1: registered workers declared by the platforms, de-duplicated.

.. math:: \\hat N_{occasional} = \\frac{\\sum_i D_i}{m}

where :math:`D_i` is the number of workers in the country that platform
:math:`i` declares as registered and :math:`m` the multi-homing coefficient
(mean number of platforms a worker is registered on). Dividing by :math:`m`
turns registrations into people, if every person's registrations are counted
in the :math:`D_i` and :math:`m` is the mean over the same people.

References
----------
Le Ludec, C., Tubaro, P. and Casilli, A. A. (2019). *Combien de personnes
micro-travaillent en France ? Estimer l'ampleur d'une nouvelle forme de
travail.* i3 Working Papers 19-SES-02 (DiPLab).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from crowdcensus.sources.figures import PlatformFigures


def declared_registrations(
    values: Mapping[str, np.ndarray], figures: PlatformFigures
) -> np.ndarray:
    """:math:`\\sum_i D_i`, the registrations summed over platforms."""
    return sum(np.asarray(values[path], dtype=float) for _, path in figures.declared)


def declared_occasional(
    values: Mapping[str, np.ndarray], figures: PlatformFigures, multihoming: np.ndarray
) -> np.ndarray:
    """Occasional (registered) workers: :math:`\\sum_i D_i / m`."""
    return declared_registrations(values, figures) / np.asarray(multihoming, dtype=float)


#: Spread, on the log scale, of a platform's log inflation around the country's.
INFLATION_SPREAD = 0.3


def _inflation(spec: tuple, j: int):
    """The declaration inflation of each of ``j`` platforms: the study's stated inflation
    is the country's (one common factor), and each platform's log inflation is the
    country's times :math:`e^{\\eta_j}`, :math:`\\eta_j \\sim N(0, 0.3^2)`.

    Independent priors per platform would make the average inflation of a study with
    more platforms ever better known a priori (its spread falls as one over the square
    root of their number), though nothing measured it; with a common factor, the prior of
    the average is as wide as the study states."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    from crowdcensus.synthesis.population import prior_site

    _, kind, params = spec
    if kind == "fixed":
        return numpyro.deterministic("declaration_inflation", jnp.full(j, params[0]))
    common = prior_site("inflation_common", spec)
    if j == 1:
        return numpyro.deterministic("declaration_inflation", jnp.reshape(common, (1,)))
    eta = numpyro.sample("inflation_platform", dist.Normal(0.0, INFLATION_SPREAD).expand([j]))
    return numpyro.deterministic("declaration_inflation",
                                 jnp.exp(jnp.log(common) * jnp.exp(eta)))


#: Spread, on the logit scale, of a platform's share of accounts that are not workers'
#: around the country's centre.
NONWORKER_SPREAD = 0.3
#: The two shares of accounts that are not workers' (dormant among registrations, other
#: accounts among those counted active), by prior name: the prefix of their sample sites
#: (``{prefix}_centre`` or ``{prefix}_logit``, ``{prefix}_platform``). Both land in the
#: per-platform site ``dormant_share``.
NONWORKER_SITES = {"dormant_share": "dormant", "active_nonworker_share": "active_nonworker"}


def _nonworker_logit(prefix: str, spec: tuple, j: int):
    """The logit of the share of ``j`` platforms' counted accounts that are not workers':
    a common centre with the prior ``spec`` (sites ``{prefix}_centre`` or
    ``{prefix}_logit``), plus a N(0, 0.3^2) deviation per platform (``{prefix}_platform``)
    unless the share is fixed."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    from crowdcensus.synthesis.population import prior_site

    _, kind, params = spec
    if kind == "fixed":
        return jnp.full(j, jnp.log(params[0] / (1 - params[0])))
    if kind in ("beta", "beta1"):
        centre = prior_site(f"{prefix}_centre", spec)
        logit_c = jnp.log(centre) - jnp.log1p(-centre)
    else:  # logit-normal
        logit_c = numpyro.sample(f"{prefix}_logit", dist.Normal(params[0], params[1]))
    if j == 1:
        return jnp.full(j, logit_c)
    return logit_c + numpyro.sample(f"{prefix}_platform",
                                    dist.Normal(0.0, NONWORKER_SPREAD).expand([j]))


class DeclaredRegistrations:
    """Method 1 as an observation model of the joint model (:mod:`crowdcensus.synthesis`).

    .. math:: \\log D_j \\sim N\\Big(\\log \\frac{\\phi_j W_j}{1 - d_j},\\ s_j^2\\Big)

    :math:`W_j` the workers registered on platform :math:`j` (from the latent
    population), :math:`d_j` the share of its accounts that are dormant (people
    who do not work: on the logit scale, a common centre with the stated
    prior plus a N(0, 0.3^2) deviation per platform), :math:`\\phi_j \\ge 1` the declaration's
    inflation (test and duplicate accounts, other countries; the country's, with a
    deviation per platform: :func:`_inflation`), :math:`s_j` the
    log-scale error of the declared figure (a quarter of its stated log range).
    Both biases can only overstate the workers, so the declared figures bound
    the population from above; the dormant share and the inflation are what
    no other source here reveals, and their priors carry that.

    A platform whose figure counts the accounts active in the last :math:`t`
    days of the reference period (``declared_active_days``) declares
    :math:`\\phi_j A_j(t) / (1 - a_j)` instead, :math:`A_j(t)` the workers who visit it
    in that window (counted as the audience's monthly visitors are, over
    :math:`t` days, times the share of the window the workers are present) and
    :math:`a_j` the share of the accounts active then that are not workers' (sign-ups
    who never finish a task, test accounts: built as :math:`d_j` is, with its own
    prior, ``active_nonworker_share``); no dormant account is active. A figure
    taken on a day before the period's end (``declared_day``) counts the
    registrations of the workers who had started by then, and its window ends on
    that day.
    """

    name = "declared"
    label = "Declared registrations"
    tiers = ("occasional",)

    @staticmethod
    def arithmetic(values: Mapping[str, np.ndarray], figures: PlatformFigures,
                   multihoming: np.ndarray) -> dict[str, np.ndarray]:
        """The method on its own (the 2018 arithmetic): registrations / multi-homing."""
        return {"occasional": declared_occasional(values, figures, multihoming)}

    @staticmethod
    def observe(cfg, a: dict, pop, specs: dict) -> None:
        """The declared figures' likelihood given the latent population ``pop``."""
        import jax
        import jax.numpy as jnp
        import numpyro

        if not any(cfg.declared_mask):
            return
        j = cfg.n_platforms
        mask = np.array(cfg.declared_mask)
        active = np.array(cfg.declared_active or (False,) * j)
        # the share of the counted accounts that are not workers': dormant accounts among
        # registrations, other accounts among those counted active in a window
        nonworker = None
        if (mask & ~active).any():
            nonworker = _nonworker_logit(NONWORKER_SITES["dormant_share"],
                                         specs["dormant_share"], j)
        if (mask & active).any():
            logit_a = _nonworker_logit(NONWORKER_SITES["active_nonworker_share"],
                                       specs["active_nonworker_share"], j)
            nonworker = logit_a if nonworker is None else jnp.where(active, logit_a, nonworker)
        nonworker = numpyro.deterministic("dormant_share", jax.nn.sigmoid(nonworker))
        inflation = _inflation(specs["declaration_inflation"], j)
        counted = pop.registered
        if cfg.declared_early:
            # a figure taken before the period's end misses the workers who came later
            from crowdcensus.synthesis.population import arrived_by

            counted = counted * arrived_by(a["declared_taken"], pop.churn)
        if active.any():
            # a figure of the accounts active in a window counts the workers who visit the
            # platform in that window (no dormant account), and the other accounts active
            counted = jnp.where(active, pop.active, counted)
        DeclaredRegistrations._expect(a, mask, counted, inflation / (1 - nonworker))

    @staticmethod
    def _expect(a: dict, mask: np.ndarray, counted, bias) -> None:
        """The declared figures' likelihood: ``counted`` workers per platform times ``bias``."""
        import jax.numpy as jnp
        import numpyro
        import numpyro.distributions as dist

        bias = numpyro.deterministic("declared_bias", bias)
        expected = jnp.log(counted) + jnp.log(bias)
        numpyro.deterministic("declared_expected", jnp.exp(expected))
        numpyro.sample("declared", dist.Normal(expected[mask], a["declared_sd"][mask]),
                       obs=a["declared"][mask])
