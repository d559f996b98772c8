"""How far each tier moves when one assumption's prior is made weaker or stronger.

Where the data say little, a tier follows the priors of the assumptions it rests
on; the prior-to-posterior table (:mod:`crowdcensus.synthesis.summary`) shows
which assumptions the data informed, not which tier each one moves, nor by how
much. Power-scaling (Kallioinen, Paananen, Bürkner and Vehtari 2023) answers
that without a new fit: the prior :math:`p_k(\\theta_k)` of one assumption is
raised to a power :math:`\\alpha` (0.5: half as strong; 2: twice as strong,
e.g. the default dormant share's Beta(1, 3) becomes Beta(1, 2) and Beta(1, 5)),
and the posterior draws are reweighted by :math:`p_k(\\theta_{k,i})^{\\alpha - 1}`
(self-normalised importance weights). A tier's weighted median under each power
is set beside its median, for each assumption and for all of them at once.

The weights are reliable only while they stay even enough: their effective
sample size, :math:`(\\sum w)^2 / \\sum w^2`, is reported, and a row whose
smaller effective size falls below :data:`MIN_ESS_SHARE` of the draws says so
(the posterior sits where the prior is steep; a refit with the stated prior
changed would be needed). The density raised to the power is the one that
defines the prior (:func:`log_density`); its normalising constant cancels in
the weights.

References
----------
Kallioinen, N., Paananen, T., Bürkner, P.-C. and Vehtari, A. (2023). Detecting
and diagnosing prior and likelihood sensitivity with power-scaling.
*Statistics and Computing* 34, 57.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from crowdcensus.methods.experiment import LOG_SIGHT_SD, TAKEUP_SLOPE_SD
from crowdcensus.synthesis.averaging import draw_models, reweighted
from crowdcensus.synthesis.priors import Prior, Priors
from crowdcensus.tiers import TIERS

#: The powers of the prior: half as strong and twice as strong.
ALPHAS = (0.5, 2.0)
#: Below this share of the draws, the weights' effective sample size is too small to read.
MIN_ESS_SHARE = 0.1

#: A tier that moves by at least this share, with a default prior half or twice as
#: strong, is said in the report's warnings to rest on that prior.
RESTS_ON = 0.05

COLUMNS = ["tier", "assumption", "parameter", "origin", "estimate", "weaker", "stronger",
           "change_weaker", "change_stronger", "ess_share", "reliable"]


def log_density(prior: Prior, x: np.ndarray) -> np.ndarray:
    """The log density (up to a constant) by which ``prior`` is defined, at the values
    ``x`` of the assumption: a Beta's on the share; a normal's on the logit of a share
    (``logitnormal``) or on the logarithm of a factor (``lognormal``; ``lognormal_ge1``,
    truncated at 0, so a factor below 1 has none). Raising the latter to a power scales
    the normal's sd by one over the power's square root.

    >>> p = Prior("d", "", "beta", (1.0, 3.0))
    >>> float(np.round(log_density(p, np.array([0.5]))[0] - log_density(p, np.array([0.0]))[0], 6))
    -1.386294
    """
    x = np.asarray(x, dtype=float)
    if prior.kind == "beta":
        return stats.beta.logpdf(x, *prior.params)
    with np.errstate(divide="ignore", invalid="ignore"):
        if prior.kind == "logitnormal":
            return stats.norm.logpdf(np.log(x) - np.log1p(-x), *prior.params)
        if prior.kind == "lognormal":
            return stats.norm.logpdf(np.log(x), *prior.params)
        if prior.kind == "lognormal_ge1":
            y = np.log(x)
            return np.where(y >= 0, stats.norm.logpdf(y, *prior.params), -np.inf)
    raise ValueError(f"no density for a {prior.kind} prior")


def _site(prior: Prior, samples: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """The draws of the quantity the prior is put on, or None if the model has none."""
    from crowdcensus.methods.declared import NONWORKER_SITES

    prefix = NONWORKER_SITES.get(prior.name)
    key = {"declaration_inflation": "inflation_common"}.get(
        prior.name, prior.name if prefix is None else f"{prefix}_centre")
    if key in samples:
        values = np.asarray(samples[key], dtype=float)
        return values if values.ndim == 1 else None
    if prefix is not None and f"{prefix}_logit" in samples:
        return 1 / (1 + np.exp(-np.asarray(samples[f"{prefix}_logit"], dtype=float)))
    return None


def weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """The median of ``values`` under the (non-negative) ``weights``; with even weights,
    :func:`numpy.median` (the two middle values averaged).

    >>> weighted_median(np.array([1.0, 2.0, 3.0, 4.0]), np.ones(4))
    2.5
    >>> weighted_median(np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.0, 0.0, 1.0, 1.0]))
    3.0
    """
    if np.ptp(weights) <= 1e-12 * np.max(weights):
        return float(np.median(values))
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, 0.5 * cum[-1])])


def power_weights(log_prior: np.ndarray, alpha: float) -> np.ndarray:
    """Self-normalised weights of the draws under the prior raised to ``alpha``."""
    lw = (alpha - 1.0) * np.asarray(log_prior, dtype=float)
    lw = np.where(np.isfinite(lw), lw, -np.inf)
    if not np.isfinite(lw).any():
        return np.full(lw.shape, 1.0 / lw.size)
    w = np.exp(lw - lw.max())
    return w / w.sum()


def effective_share(weights: np.ndarray) -> float:
    """The weights' effective sample size over the number of draws."""
    w = np.asarray(weights, dtype=float)
    return float(1.0 / np.sum(w * w) / w.size)


#: The ``parameter`` of the row that scales every prior at once.
ALL = "all"
ALL_LABEL = "Every assumption's prior at once"


def _rows(label: str, parameter: str, origin: str, lp: np.ndarray,
          tiers: Mapping[str, np.ndarray]) -> list[dict]:
    """One row per tier for the draws' log prior density ``lp`` scaled by each power."""
    return _weighted_rows(label, parameter, origin, [power_weights(lp, a) for a in ALPHAS],
                          tiers)


def _weighted_rows(label: str, parameter: str, origin: str, ws: list[np.ndarray],
                   tiers: Mapping[str, np.ndarray]) -> list[dict]:
    """One row per tier: its median, and its weighted medians under the weights ``ws``
    (the prior weaker, then stronger)."""
    ess = min(effective_share(w) for w in ws)
    rows = []
    for tier in TIERS:
        if tier not in tiers:
            continue
        draws = np.asarray(tiers[tier], dtype=float)
        ok = np.isfinite(draws)
        base = float(np.median(draws[ok]))
        weaker, stronger = (weighted_median(draws[ok], w[ok]) for w in ws)
        rows.append({"tier": tier, "assumption": label, "parameter": parameter,
                     "origin": origin, "estimate": base, "weaker": weaker,
                     "stronger": stronger,
                     "change_weaker": weaker / base - 1 if base else float("nan"),
                     "change_stronger": stronger / base - 1 if base else float("nan"),
                     "ess_share": ess, "reliable": ess >= MIN_ESS_SHARE})
    return rows


#: ``origin`` of the rows of the two take-up readings' own priors (not study assumptions).
MODEL_ORIGIN = "model"

#: The two take-up readings' own priors: site, whether it is the slope model's, its
#: normal prior's sd, and the row's label.
READING_PRIORS = (
    ("takeup_slope", True, TAKEUP_SLOPE_SD,
     f"Take-up slope: prior N(0, {TAKEUP_SLOPE_SD:g}\u00b2) on log10 of the odds ratio"),
    ("log_sight", False, LOG_SIGHT_SD,
     f"Chance of seeing the task: prior N(0, {LOG_SIGHT_SD:g}\u00b2) on its log"),
)


def normal_power_log_ratio(x: np.ndarray, sd: float, alpha: float) -> np.ndarray:
    """The log of N(0, sd\u00b2/alpha)'s density over N(0, sd\u00b2)'s at ``x``: a
    centred normal prior raised to the power ``alpha`` and normalised again.

    >>> float(np.round(normal_power_log_ratio(np.array([0.0]), 1.0, 4.0)[0], 6))
    0.693147
    """
    x = np.asarray(x, dtype=float)
    return 0.5 * np.log(alpha) - (alpha - 1.0) * x * x / (2.0 * sd * sd)


def reading_prior_rows(samples: Mapping[str, np.ndarray], tiers: Mapping[str, np.ndarray],
                       probability: float | None) -> list[dict]:
    """Rows for the priors of the take-up slope and of the chance of seeing the task,
    each half and twice as strong. Where the two models are averaged
    (:mod:`crowdcensus.synthesis.averaging`), a model's own prior also sets its marginal
    likelihood: a wider prior spreads it over values the data refuse and lowers it, so
    the weights carry the change of the model's probability as well
    (:func:`~crowdcensus.synthesis.averaging.reweighted`). The rows' ``origin`` is
    :data:`MODEL_ORIGIN`: no study field states these priors."""
    models = draw_models(dict(samples))
    if models is None:
        return []
    p = float(models.all()) if probability is None else float(probability)
    rows = []
    for site, slope, sd, label in READING_PRIORS:
        mine = models if slope else ~models
        if site not in samples or not mine.any():
            continue
        x = np.asarray(samples[site], dtype=float)
        ws = []
        for alpha in ALPHAS:
            ratio = normal_power_log_ratio(x, sd, alpha)
            ws.append(reweighted(models, p, log_ratio=(None, ratio) if slope
                                 else (ratio, None))[0])
        rows += _weighted_rows(label, site, MODEL_ORIGIN, ws, tiers)
    return rows


def prior_sensitivity(samples: Mapping[str, np.ndarray], priors: Priors,
                      tiers: Mapping[str, np.ndarray],
                      slope_probability: float | None = None) -> pd.DataFrame:
    """One row per tier and assumption with a prior (fixed ones have none to scale): the
    tier's median, its weighted medians with that prior half and twice as strong, their
    relative changes, the smaller effective sample share of the weights and whether it is
    enough to read them (:data:`MIN_ESS_SHARE`). Where two or more priors are scaled, each
    tier's first row scales them all at once (``parameter`` :data:`ALL`); the others
    follow, sorted by the larger change, largest first. The priors of the two take-up
    readings follow the assumptions' (:func:`reading_prior_rows`; ``slope_probability``
    is the averaged slope model's probability), and are not in the row of all at once."""
    rows, total, n = [], 0.0, 0
    for prior in priors.all():
        if prior.kind == "fixed":
            continue
        theta = _site(prior, samples)
        if theta is None:
            continue
        lp = log_density(prior, theta)
        total, n = total + lp, n + 1
        rows += _rows(prior.label, prior.name, prior.origin, lp, tiers)
    rows += reading_prior_rows(samples, tiers, slope_probability)
    singles = pd.DataFrame(rows, columns=COLUMNS)
    if singles.empty:
        return singles
    singles = singles.iloc[np.argsort(-_move(singles), kind="stable")]
    if n > 1:
        everything = pd.DataFrame(_rows(ALL_LABEL, ALL, ALL, total, tiers), columns=COLUMNS)
        singles = pd.concat([everything, singles], ignore_index=True)
    rank = singles["tier"].map({t: i for i, t in enumerate(TIERS)}).to_numpy()
    return singles.iloc[np.argsort(rank, kind="stable")].reset_index(drop=True)


def _move(table: pd.DataFrame) -> np.ndarray:
    """Each row's larger relative change, either way."""
    return np.maximum(table["change_weaker"].abs(), table["change_stronger"].abs()).to_numpy()


def study_field(parameter: str) -> str:
    """Where a study file states the prior of ``parameter``."""
    if parameter.startswith("worker_share_"):
        return f"platforms[{parameter.rsplit('_', 1)[1]}].audience.worker_share"
    return f"assumptions.{parameter}"


def prior_warning(table: pd.DataFrame) -> list[str]:
    """One line per default prior that moves a tier by :data:`RESTS_ON` or more (where the
    weights can be read), naming the tiers, their moves and the study field to state."""
    if table.empty:
        return []
    hit = table[(table["origin"] == "default") & table["reliable"] & (_move(table) >= RESTS_ON)]
    out = []
    for parameter, rows in hit.groupby("parameter", sort=False):
        tiers = [t.replace("_", " ") for t in rows["tier"]]
        moves = ", ".join(f"{t} {r.change_weaker:+.1%} and {r.change_stronger:+.1%}"
                          for t, r in zip(tiers, rows.itertuples(), strict=True))
        said = " and ".join(tiers)
        out.append(f"the {said} tier{'s' if len(tiers) > 1 else ''} rest"
                   f"{'' if len(tiers) > 1 else 's'} on the default prior of the "
                   f"assumption '{rows['assumption'].iloc[0]}' (docs/synthesis.md): with it "
                   f"half or twice as strong, {moves}; state "
                   f"{study_field(str(parameter))} in the study file if a source tells it")
    return out


#: A tier whose posterior median moves by at least this share across the 95% interval of
#: the odds ratio of answering again (countries of the 20,000-worker shipped scenarios:
#: 0-7.8%; a take-up of 5% or 15%, or a country of 3,000 workers: 18-26% for the tier
#: that moves most) is said in the report's warnings to lean on it.
LEANS_ON = 0.10


def answer_again_warning(samples: Mapping[str, np.ndarray], tiers: Mapping[str, np.ndarray],
                         prior: Prior | None, level: float = 0.95) -> str | None:
    """One line when the tiers move with the odds ratio of answering again after a first
    answer more than :data:`LEANS_ON` across its posterior interval, and the study left that
    ratio to its default prior; None otherwise.

    Where few respondents answer twice, the histories tell the workers times that odds
    ratio far better than either (fewer repeat answers mean more workers, or an aversion
    to answering again), and the draws of the two lie along a ridge. The move is read off
    the posterior draws: the slope of each tier's logarithm on the ratio's, times the width
    of the ratio's interval on the log scale. Power-scaling the prior
    (:func:`prior_sensitivity`) does not see it: the default prior is flat over that
    interval, and the tiers rest on what the other sources pull along the ridge.

    >>> rng = np.random.default_rng(0)
    >>> beta = 0.3 * rng.standard_normal(4000)
    >>> ridge = {t: 1000 * np.exp(0.5 * beta + 0.01 * rng.standard_normal(4000))
    ...          for t in TIERS}
    >>> prior = Prior("answer_again", "odds", "lognormal", (0.0, 1.0))
    >>> said = answer_again_warning({"after_answer": beta}, ridge, prior)
    >>> said[:60]
    'the histories place the odds ratio of answering again after '
    >>> answer_again_warning({"after_answer": beta}, {t: 1000 + 0 * beta for t in TIERS},
    ...                      prior) is None
    True
    """
    if prior is None or prior.origin != "default" or "after_answer" not in samples:
        return None
    beta = np.ravel(np.asarray(samples["after_answer"], dtype=float))
    if not np.std(beta) > 0:
        return None
    low, high = np.quantile(beta, [(1 - level) / 2, (1 + level) / 2])
    moves = {}
    for tier in TIERS:
        y = np.log(np.ravel(np.asarray(tiers[tier], dtype=float)))
        if y.shape != beta.shape or not np.isfinite(y).all():
            continue
        slope = np.cov(y, beta)[0, 1] / np.var(beta, ddof=1)
        moves[tier] = float(np.expm1(slope * (high - low)))
    hit = [(t, moves[t]) for t in reversed(TIERS) if abs(moves.get(t, 0.0)) >= LEANS_ON]
    if not hit:
        return None
    said = ", ".join(f"{t.replace('_', ' ')} {m:+.0%}" for t, m in hit)
    return (f"the histories place the odds ratio of answering again after a first answer "
            f"loosely ({np.exp(low):.2g}-{np.exp(high):.2g}, from its default prior), and the "
            f"tiers move with it across that range ({said}): with few respondents answering "
            "twice, they tell the workers times that ratio better than either; state "
            "assumptions.answer_again if the study knows it (1: no reason for aversion; "
            "small: past participants kept from the task)")
