"""Bayesian thresholding of interactions (Silverman 2020), as MultipleSystemsEstimation does it.

The model is the Poisson log-linear model of :mod:`crowdcensus.capture.mse.loglinear`
over all ``2**L - 1`` observable capture patterns (zero counts included).
Priors: flat on the intercept and the main effects; on every interaction,
either ``N(0, prior_variance)`` (``prior="proper"``, default variance 1) or
flat (``prior="improper"``).

1. Fit the model with every two-list interaction. Keep the interactions whose
   threshold statistic ``|posterior mean| / posterior sd`` is at least
   ``threshold`` (default 2).
2. With ``max_order=3``, a three-list interaction is *eligible* when its three
   pairs were all kept; fit the kept pairs with every eligible triple and keep
   the triples that pass the same threshold (the kept pairs stay whatever
   their new statistics).
3. Refit the retained model. Its intercept ``theta_0`` gives the unobserved
   cell: the population's posterior is ``n + exp(theta_0)``; the estimate is
   its median, with the 2.5, 10, 50, 90 and 97.5 % quantiles.

Improper priors need two more things. An interaction whose margin (its
sufficient statistic) is zero has its posterior at ``-inf``: it is removed
with the patterns containing it before fitting (reported as
``minus_infinity``; any higher-order term containing it goes too), and the
later fits use that reduced table. And a flat prior gives a proper posterior
only where the maximum-likelihood estimate exists: the model with every pair
must pass :func:`~crowdcensus.capture.mse.loglinear.check_model` (otherwise the method
stops), and with ``max_order=3`` so must the kept pairs plus the eligible
triples (otherwise the three-list step is skipped, with a note). With proper
priors these checks are not needed (Forster 2010); the flat prior on the
intercept and main effects still needs the data to pin those down -- when they
do not, the posterior has no mode and the method says so.

The posterior is sampled by :func:`~crowdcensus.capture.mse.posterior.sample_posterior`
(Hamiltonian Monte Carlo on 40 chains, whitened by the exact mode), where R calls
``MCMCpack::MCMCpoisson`` (random-walk Metropolis, 10,000 draws after 1,000 of
burn-in, with the flat priors replaced by ``N(0, 10^4)``).

References
----------
Silverman, B. W. (2020). Multiple-systems analysis for the quantification of
modern slavery: classical and Bayesian approaches. *Journal of the Royal
Statistical Society A* 183, 691-736.

Forster, J. J. (2010). Bayesian inference for Poisson and multinomial
log-linear models. *Statistical Methodology* 7, 210-224.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from crowdcensus.capture.mse.loglinear import (
    HierarchicalModel,
    OverlapTable,
    bits,
    check_model,
    describe_check,
    design,
    popcount,
)
from crowdcensus.capture.mse.posterior import Posterior, sample_posterior
from crowdcensus.errors import InputError, NotIdentifiableError

PRIORS = ("proper", "improper")
#: Posterior quantiles reported, as R's ``estimate_population_bayesthresh``.
QUANTILES = (0.025, 0.1, 0.5, 0.9, 0.975)
DEFAULT_DRAWS = 20_000
DEFAULT_SEED = 1


@dataclass(frozen=True)
class Stage:
    """One posterior fit of the procedure."""

    n_lists: int
    effects: tuple[int, ...]  # interactions estimated (bit masks)
    kept: np.ndarray  # cells used (boolean over the table's cells)
    removed: tuple[int, ...]  # interactions at -inf (improper prior only)
    posterior: Posterior

    def undecided(self, order: int, threshold: float) -> list[int]:
        """Interactions whose statistic Monte Carlo error could put on the other side of
        the threshold: ``|r - threshold| < 3 se(r)`` with ``se(r)^2 ~ (1 + r^2/2) / ESS``
        (the delta-method error of a mean over a standard deviation)."""
        first = 1 + self.n_lists
        ess = self.posterior.effective_sizes()[first:]
        return [e for (e, r), n in zip(self.statistics_all().items(), ess, strict=True)
                if popcount(e) == order and abs(r - threshold) < 3 * np.sqrt((1 + r * r / 2) / n)]

    def statistics_all(self) -> dict[int, float]:
        first = 1 + self.n_lists
        mean, sd = self.posterior.mean[first:], self.posterior.sd[first:]
        return {e: float(abs(m) / s) if s > 0 else float("inf")
                for e, m, s in zip(self.effects, mean, sd, strict=True)}

    def statistics(self, order: int) -> dict[int, float]:
        """``|posterior mean| / posterior sd`` of the interactions of one order."""
        return {e: r for e, r in self.statistics_all().items() if popcount(e) == order}


@dataclass(frozen=True)
class BayesThreshResult:
    """Outcome of :func:`bayes_threshold`.

    Attributes
    ----------
    retained, retained_triples : list of str
        Kept two- and three-list interactions, named ``"b:c"`` from the lists' names.
    threshold_statistics, triple_threshold_statistics : dict
        ``|posterior mean| / sd`` of each candidate interaction.
    eligible_triples : list of str
    minus_infinity : list of str
        Interactions at ``-inf`` (improper prior, zero margin).
    notes : list of str
        What the procedure had to skip.
    total : ndarray
        Posterior draws of the population, ``n + exp(theta_0)``.
    ess, rhat : float
        Effective sample size of the population and largest R-hat of the final fit.
    """

    lists: tuple[str, ...]
    n_observed: float
    prior: str
    prior_variance: float
    threshold: float
    max_order: int
    retained: list[str]
    threshold_statistics: dict[str, float]
    eligible_triples: list[str]
    retained_triples: list[str]
    triple_threshold_statistics: dict[str, float]
    minus_infinity: list[str]
    notes: list[str]
    total: np.ndarray
    ess: float
    rhat: float
    model: str

    def quantiles(self, probs=QUANTILES) -> dict[float, float]:
        """Posterior quantiles of the population (R's default rule, type 7)."""
        q = np.quantile(self.total, probs)
        return {float(p): float(v) for p, v in zip(probs, q, strict=True)}

    @property
    def median(self) -> float:
        return self.quantiles((0.5,))[0.5]

    @property
    def mean(self) -> float:
        return float(self.total.mean())

    @property
    def sd(self) -> float:
        return float(self.total.std(ddof=1))


def _name(mask: int, lists: tuple[str, ...]) -> str:
    return ":".join(lists[i] for i in bits(mask))


def _effects(n_lists: int, order: int) -> list[int]:
    """Interactions of one order in R's order: (1,2), (1,3), (2,3), (1,4), ... = by mask."""
    return sorted(sum(1 << i for i in c) for c in itertools.combinations(range(n_lists), order))


def _fit(table: OverlapTable, kept: np.ndarray, effects: list[int], prior: str,
         prior_variance: float, prune: bool, n_draws: int, rng: np.random.Generator) -> Stage:
    L = table.n_lists
    removed: list[int] = []
    if prune:
        zero = [e for e in effects if table.margin(e) == 0]
        # a term containing one at -inf goes with it (hierarchy)
        removed = [e for e in effects if any(e & z == z for z in zero)]
        effects = [e for e in effects if e not in removed]
        kept = kept.copy()
        for z in zero:
            kept &= (table.cells & z) != z
    params = (0, *(1 << i for i in range(L)), *effects)
    X = design(table.cells[kept], params)
    precision = np.zeros(len(params))
    if prior == "proper":
        precision[1 + L:] = 1.0 / prior_variance
    try:
        posterior = sample_posterior(X, table.counts[kept], precision, n_draws, rng)
    except NotIdentifiableError:
        names = ", ".join(_name(e, table.lists) for e in effects) or "main effects only"
        raise NotIdentifiableError(
            f"the data do not determine the number of people on no list (model with "
            f"{names}): with flat priors on the intercept and main effects the posterior has "
            "no mode -- some list overlaps too little with the others; no estimate or "
            "interval is given") from None
    return Stage(L, tuple(effects), kept, tuple(removed), posterior)


def unseen_unbounded(X: np.ndarray, y: np.ndarray) -> bool:
    """Whether the likelihood leaves the intercept free in some direction.

    True when a direction ``d`` with ``d_0 = +1`` or ``-1`` changes no expected
    count of a cell with people (``X_+ d = 0``) and does not raise any of an
    empty cell (``X_0 d <= 0``): along it the likelihood never falls, so only
    the priors on the interactions hold the number of people on no list --
    the data say nothing about it. Two small linear programs decide.
    """
    pos = y > 0
    p = X.shape[1]
    for sign in (1.0, -1.0):
        a_eq = np.vstack([X[pos], np.eye(1, p)])
        b_eq = np.r_[np.zeros(int(pos.sum())), sign]
        a_ub = X[~pos] if (~pos).any() else None
        b_ub = np.zeros(int((~pos).sum())) if (~pos).any() else None
        res = linprog(np.zeros(p), A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq,
                      bounds=[(None, None)] * p, method="highs")
        if res.status == 0:
            return True
    return False


def _thresholded_fit(table, kept, effects, prior, prior_variance, prune, n_draws, rng, order,
                     threshold, notes) -> Stage:
    """A fit whose threshold statistics decide: when one sits within Monte Carlo error
    of the threshold, the fit is redone with four times the draws; if one still does,
    a note says that the retained set hangs on it."""
    stage = _fit(table, kept, effects, prior, prior_variance, prune, n_draws, rng)
    if stage.undecided(order, threshold):
        stage = _fit(table, kept, effects, prior, prior_variance, prune, 4 * n_draws, rng)
        stats = stage.statistics(order)
        for e in stage.undecided(order, threshold):
            notes.append(
                f"the statistic of {_name(e, table.lists)} ({stats[e]:.3f}) is within Monte "
                f"Carlo error of the threshold {threshold:g}: whether it is retained depends "
                "on the draws (try other seeds)")
    return stage


def bayes_threshold(
    table: OverlapTable,
    prior: str = "proper",
    prior_variance: float = 1.0,
    threshold: float = 2.0,
    max_order: int = 2,
    seed: int | None = DEFAULT_SEED,
    n_draws: int = DEFAULT_DRAWS,
) -> BayesThreshResult:
    """Silverman's Bayesian thresholding (see the module docstring).

    Raises
    ------
    InputError
        Bad options.
    NotIdentifiableError
        Improper prior and the model with every pair fails the existence or
        identifiability check; or the posterior of the final model has no mode
        or cannot be sampled reliably (the data do not determine the
        population).
    """
    if prior not in PRIORS:
        raise InputError(f"--prior must be proper or improper (got {prior!r})")
    if not prior_variance > 0:
        raise InputError(f"--prior-variance must be positive (got {prior_variance})")
    if not threshold >= 0:
        raise InputError(f"--threshold must be zero or positive (got {threshold})")
    if max_order not in (2, 3):
        raise InputError(f"--max-order must be 2 or 3 for Bayesian thresholding "
                         f"(got {max_order})")
    L = table.n_lists
    if max_order == 3 and L < 3:
        raise InputError("three-list interactions need at least three lists")
    if n_draws < 1000:
        raise InputError("at least 1,000 posterior draws are needed")
    rng = np.random.default_rng(seed)
    improper = prior == "improper"
    lists = table.lists
    pairs = _effects(L, 2)
    if improper:
        code = check_model(table, HierarchicalModel.from_terms(L, pairs))
        if code:
            raise NotIdentifiableError(
                "Bayesian thresholding with improper priors cannot start: "
                + describe_check(code, HierarchicalModel.from_terms(L, pairs))
                + " (use --prior proper)")
    every = np.ones(table.cells.shape[0], dtype=bool)
    notes: list[str] = []
    stage1 = _thresholded_fit(table, every, pairs, prior, prior_variance, improper, n_draws,
                              rng, 2, threshold, notes)
    pair_stats = stage1.statistics(2)
    kept_pairs = [e for e in stage1.effects if pair_stats[e] >= threshold]
    refit_cells = stage1.kept if improper else every
    eligible: list[int] = []
    triple_stats: dict[int, float] = {}
    kept_triples: list[int] = []
    removed = list(stage1.removed)
    final = None
    if max_order == 3:
        eligible = [t for t in _effects(L, 3)
                    if all((t & ~(1 << b)) in kept_pairs for b in bits(t))]
        if eligible and improper:
            model = HierarchicalModel.from_terms(L, kept_pairs + eligible)
            code = check_model(table, model)
            if code:
                notes.append("the kept pairs with every eligible three-list interaction fail "
                             "the existence check (" + describe_check(code, model).split(": ", 1)[1]
                             + "); three-list interactions were not considered")
                eligible_ok = False
            else:
                eligible_ok = True
        else:
            eligible_ok = True
        if eligible and eligible_ok:
            stage3 = _thresholded_fit(table, refit_cells, kept_pairs + eligible, prior,
                                      prior_variance, improper, n_draws, rng, 3, threshold,
                                      notes)
            removed += [e for e in stage3.removed if popcount(e) == 3]
            triple_stats = stage3.statistics(3)
            kept_triples = [e for e in stage3.effects
                            if popcount(e) == 3 and triple_stats[e] >= threshold]
            final = _fit(table, stage3.kept, kept_pairs + kept_triples, prior, prior_variance,
                         False, n_draws, rng)
    if final is None:
        final = _fit(table, refit_cells, kept_pairs, prior, prior_variance, False, n_draws, rng)
    params = (0, *(1 << i for i in range(L)), *final.effects)
    if unseen_unbounded(design(table.cells[final.kept], params), table.counts[final.kept]):
        names = ", ".join(_name(e, lists) for e in final.effects) or "main effects only"
        raise NotIdentifiableError(
            f"the data do not determine the number of people on no list under the retained "
            f"model ({names}): the likelihood leaves it free and only the prior on the "
            "interactions would set the interval (lists that never or hardly overlap); no "
            "estimate or interval is given")
    post = final.posterior
    total = table.n_observed + np.exp(np.minimum(post.draws[:, 0], 700.0))
    model = HierarchicalModel.from_terms(L, [*kept_pairs, *kept_triples, *removed])
    return BayesThreshResult(
        lists=lists,
        n_observed=table.n_observed,
        prior=prior,
        prior_variance=prior_variance,
        threshold=threshold,
        max_order=max_order,
        retained=[_name(e, lists) for e in kept_pairs],
        threshold_statistics={_name(e, lists): v for e, v in pair_stats.items()},
        eligible_triples=[_name(e, lists) for e in eligible],
        retained_triples=[_name(e, lists) for e in kept_triples],
        triple_threshold_statistics={_name(e, lists): v for e, v in triple_stats.items()},
        minus_infinity=[_name(e, lists) for e in removed] if improper else [],
        notes=notes,
        total=total,
        ess=post.ess,
        rhat=post.rhat,
        model=str(model),
    )
