"""What the report shows of the joint model: tiers, biases, checks, and what the data informed.

:func:`summarise` reads a :class:`~crowdcensus.synthesis.inference.Posterior`
and gives a :class:`JointSummary`:

* the nested tiers and the disjoint bands (posterior median and central
  interval at the study's level), nested by construction;
* each method's estimated bias (declared registrations over the workers
  registered; audience over the workers who visit in a month; the share of
  workers the experiment's platforms reach; misreporting), with intervals;
* posterior predictive checks per method: does the fitted model reproduce
  what each source saw (the declared figures, the audience figures, the
  respondents by number of answers and by answer, the waves answered per
  respondent giving each answer)? The replicated figure of a
  declared or audience figure draws the source's own error; the replicated
  count of respondents is Poisson around its expectation;
* the prior-to-posterior shift of every assumption: the prior's and the
  posterior's medians and intervals, and how much the data narrowed it
  (:math:`1 - \\text{sd}_{post}/\\text{sd}_{prior}`, on the scale of the
  parameter), so a reader sees which inputs the data informed and which rest
  on the stated ranges alone;
* how far each tier moves when one assumption's prior is made half or twice
  as strong (:mod:`crowdcensus.synthesis.sensitivity`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from crowdcensus.methods.declared import NONWORKER_SITES, NONWORKER_SPREAD
from crowdcensus.synthesis.activity import REPORT_CATEGORIES
from crowdcensus.synthesis.averaging import ODDS, draw_models, reweighted
from crowdcensus.synthesis.averaging import WEIGHT as SLOPE_PROBABILITY
from crowdcensus.synthesis.data import SynthesisData
from crowdcensus.synthesis.diagnostics import quantile_mcse
from crowdcensus.synthesis.inference import Posterior, RunOn
from crowdcensus.synthesis.model import registration_classes
from crowdcensus.synthesis.priors import Prior
from crowdcensus.synthesis.sensitivity import prior_sensitivity, weighted_median
from crowdcensus.tiers import BANDS, TIERS

#: A prior's share of the posterior sd below which an input counts as informed by the data.
INFORMED = 0.5


@dataclass(frozen=True)
class Figure:
    """A posterior median with its central interval."""

    estimate: float
    low: float
    high: float


def _figure(draws: np.ndarray, level: float) -> Figure:
    d = np.asarray(draws, dtype=float)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return Figure(float("nan"), float("nan"), float("nan"))
    a = (1 - level) / 2
    lo, med, hi = np.quantile(d, [a, 0.5, 1 - a])
    return Figure(float(med), float(lo), float(hi))


@dataclass
class JointSummary:
    """The joint model's results, ready for the report (see the module docstring)."""

    inference: str
    converged: bool
    problems: list[str]
    diagnostics: dict
    tiers: dict[str, Figure]
    bands: dict[str, Figure]
    biases: pd.DataFrame
    checks: pd.DataFrame
    shifts: pd.DataFrame
    #: Each tier's median with each assumption's prior half and twice as strong
    #: (:func:`crowdcensus.synthesis.sensitivity.prior_sensitivity`).
    prior_sensitivity: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: With the two take-up readings averaged: each tier under each reading alone and
    #: under other prior odds (:func:`readings`); empty otherwise.
    readings: pd.DataFrame = field(default_factory=pd.DataFrame)
    tier_draws: dict[str, np.ndarray] = field(default_factory=dict)
    #: Whether workers arrive and leave during the reference period in the model (else
    #: the population is closed over it).
    churn: bool = False
    #: Whether the take-up has a slope on the visit rate in the model
    #: (``experiment.take_up_slope``; with "auto", added when the fit without it failed
    #: the checks of waves answered per respondent; with "average", the draws of the
    #: model without it hold it at 0).
    take_up_slope: bool = False
    #: Each tier's interval bounds' Monte Carlo standard errors, tier -> (low, high)
    #: (:func:`bound_errors`).
    bound_errors: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def largest_bound_error(self) -> tuple[str, str, float, float] | None:
        """The tier bound whose Monte Carlo error is the largest share of the bound: (tier,
        "lower" or "upper", the bound, its error); None without errors."""
        return _largest_bound_error(self.tiers, self.bound_errors)

    @property
    def slope_probability(self) -> float | None:
        """With ``experiment.take_up_slope = "average"``: the posterior probability of the
        model with the slope against the one with a chance of seeing the task
        (:mod:`crowdcensus.synthesis.averaging`); None otherwise."""
        return self.diagnostics.get(SLOPE_PROBABILITY)


def tier_draws(samples: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Draws of the nested tiers and the disjoint bands."""
    n = np.asarray(samples["workers"], dtype=float)
    b = np.asarray(samples["band_shares"], dtype=float)
    out = {"very_active": n * b[:, 0], "regular": n * (b[:, 0] + b[:, 1]), "occasional": n}
    out.update({"band:very_active": n * b[:, 0], "band:regular_only": n * b[:, 1],
                "band:occasional_only": n * b[:, 2]})
    return out


def bound_errors(draws: dict[str, np.ndarray], chains: int, level: float,
                 tiers: Collection[str] = TIERS) -> dict[str, tuple[float, float]]:
    """Each of ``tiers``' interval bounds' Monte Carlo standard errors (:func:`~crowdcensus.
    synthesis.diagnostics.quantile_mcse`), its draws read as ``chains`` chains one after
    the other (independent draws: 1)."""
    a = (1 - level) / 2
    out = {}
    for t in (t for t in TIERS if t in tiers):
        d = np.asarray(draws[t], dtype=float)
        if d.size % chains or not np.all(np.isfinite(d)):
            continue
        d = d.reshape(chains, -1)
        out[t] = (quantile_mcse(d, a), quantile_mcse(d, 1 - a))
    return out


def _largest_bound_error(tiers: dict[str, Figure], errors: dict[str, tuple[float, float]]
                         ) -> tuple[str, str, float, float] | None:
    """:attr:`JointSummary.largest_bound_error` of these figures and errors."""
    best = None
    for t, (low_err, high_err) in errors.items():
        fig = tiers[t]
        for side, bound, err in (("lower", fig.low, low_err), ("upper", fig.high, high_err)):
            if np.isfinite(err) and bound > 0 and (
                    best is None or err / bound > best[3] / best[2]):
                best = (t, side, float(bound), float(err))
    return best


#: Share of a tier's interval bound above which its Monte Carlo error is a warning, and
#: above which ``crowdcensus run`` lets NUTS's chains run on (:func:`imprecise_bounds`).
BOUND_ERROR_WARNING = 0.05


def imprecise_bounds(level: float, limit: float = BOUND_ERROR_WARNING,
                     tiers: Collection[str] = TIERS) -> RunOn:
    """A criterion for NUTS's chains to run on (``fit_joint(run_on=...)``): while an
    interval bound at ``level`` of one of ``tiers`` (those the report prints) carries a
    Monte Carlo error above ``limit`` of itself (:func:`bound_errors`), it names that
    bound."""
    def check(grouped: dict[str, np.ndarray]) -> str | None:
        if "workers" not in grouped or "band_shares" not in grouped:
            return None
        chains = np.shape(grouped["workers"])[0]
        draws = tier_draws({k: np.reshape(grouped[k], (-1, *np.shape(grouped[k])[2:]))
                            for k in ("workers", "band_shares")})
        errors = bound_errors(draws, chains, level, tiers)
        figures = {t: _figure(draws[t], level) for t in errors}
        worst = _imprecise(_largest_bound_error(figures, errors), limit)
        return (None if worst is None else f"interval bounds' Monte Carlo error above "
                f"{100 * limit:g}% ({_named_bound(worst)})")
    return check


def _imprecise(worst: tuple[str, str, float, float] | None, limit: float
               ) -> tuple[str, str, float, float] | None:
    """``worst`` (:func:`_largest_bound_error`) where its error is above ``limit`` of its
    bound, else None."""
    return worst if worst is not None and worst[3] > limit * worst[2] else None


def _named_bound(worst: tuple[str, str, float, float]) -> str:
    tier, side, bound, err = worst
    return f"the {tier.replace('_', ' ')} tier's {side} bound, {bound:,.0f} ± {err:,.0f}"


def bound_error_warning(summary: JointSummary) -> str | None:
    """A warning where a tier's interval bound carries a Monte Carlo error above
    :data:`BOUND_ERROR_WARNING` of itself."""
    worst = _imprecise(summary.largest_bound_error, BOUND_ERROR_WARNING)
    if worst is None:
        return None
    return (f"the joint model's interval bounds carry a Monte Carlo error of up to "
            f"{100 * worst[3] / worst[2]:.0f}% ({_named_bound(worst)}): another seed could "
            "move them that much; for figures to publish, raise [synthesis] draws")


READING_COLUMNS = ["tier", "without", "without_low", "without_high", "with_slope",
                   "with_slope_low", "with_slope_high", "averaged", "probability", "odds_lower",
                   "odds_higher", "probability_lower", "probability_higher"]


def readings(draws: dict[str, np.ndarray], samples: dict, probability: float | None,
             level: float) -> pd.DataFrame:
    """With the two take-up readings averaged (``probability`` is the slope model's):
    one row per tier with its median and interval under each reading alone (NaN for a
    reading left out of the average), its averaged median, the slope reading's
    probability, and its median with the slope model's prior odds multiplied by each of
    :data:`~crowdcensus.synthesis.averaging.ODDS` instead of even, with the slope model's
    probability there (the draws reweighted, no new fit). Empty where the readings are
    not averaged."""
    models = draw_models(samples) if probability is not None else None
    if models is None:
        return pd.DataFrame(columns=READING_COLUMNS)
    moved = [reweighted(models, probability, odds=k) for k in ODDS]
    rows = []
    for tier in TIERS:
        d = np.asarray(draws[tier], dtype=float)
        ok = np.isfinite(d)
        row = {"tier": tier, "averaged": float(np.median(d[ok])),
               "probability": float(probability)}
        for key, mask in (("without", ~models), ("with_slope", models)):
            f = _figure(d[mask], level)
            row |= {key: f.estimate, f"{key}_low": f.low, f"{key}_high": f.high}
        for key, (w, p) in zip(("lower", "higher"), moved, strict=True):
            row |= {f"odds_{key}": weighted_median(d[ok], w[ok]),
                    f"probability_{key}": p}
        rows.append(row)
    return pd.DataFrame(rows, columns=READING_COLUMNS)


def _biases(s: dict, data: SynthesisData, level: float) -> pd.DataFrame:
    rows = []

    def add(method: str, quantity: str, draws, note: str = "") -> None:
        f = _figure(draws, level)
        rows.append({"method": method, "quantity": quantity, "estimate": f.estimate,
                     "low": f.low, "high": f.high, "note": note})

    names = data.platforms
    if "declared_bias" in s:
        decl = np.asarray(s["declared_expected"])
        mask = ~np.isnan(data.declared)
        active = data.declares_active
        reg = mask & ~active
        if reg.any():
            total_bias = decl[:, reg].sum(axis=1) / (decl[:, reg] / s["declared_bias"][:, reg]
                                                     ).sum(axis=1)
            add("declared", "Declared registrations / registrations of people who work",
                total_bias, "dormant accounts and inflation; 1 = no bias")
        add("declared", "Declared registrations / workers (all three together with "
            "multi-homing)", decl[:, mask].sum(axis=1) / s["workers"],
            "what the 2018 arithmetic divides by the multi-homing coefficient")
        for j in np.flatnonzero(mask):
            add("declared", f"{names[j]}: " + ("share of active accounts that are not "
                                               "workers'" if active[j] else
                                               "dormant share of accounts"),
                np.asarray(s["dormant_share"])[:, j])
            if data.priors.declaration_inflation.kind != "fixed":
                add("declared", f"{names[j]}: declaration inflation",
                    np.asarray(s["declaration_inflation"])[:, j])
    if "audience_bias" in s:
        mask = ~np.isnan(data.audience)
        aud = np.asarray(s["audience_expected"])[:, mask].sum(axis=1)
        add("audience", "Monthly unique visitors / regular workers",
            aud / tier_draws(s)["regular"],
            "what the 2018 arithmetic divides by the multi-homing coefficient")
        add("audience", "Monthly unique visitors / workers who visit in a month",
            aud / np.asarray(s["monthly_visitors"])[:, mask].sum(axis=1),
            "visitors per person / share of visitors who are workers")
    if "reachable_share" in s:
        add("experiment", "Share of workers registered where the task was posted",
            s["reachable_share"], "1 when posted on every platform")
    if "misreport" in s:
        add("experiment", "Chance of answering a neighbouring frequency", s["misreport"])
    if "random_answer_shares" in s:
        shares = np.asarray(s["random_answer_shares"])
        for k, answer in enumerate(("several times a week", "weekly", "monthly",
                                    "less often")):
            add("experiment", f"Answers given at random: share answering {answer}",
                shares[:, k], "the histories and the answers of those who failed the "
                "attention check tell it; 0.25 each: alike")
    if "takeup_logit" in s:
        add("experiment", "Chance of taking the task when seen (first time)",
            1 / (1 + np.exp(-np.asarray(s["takeup_logit"]))))
        add("experiment", "Odds ratio of answering again after a first answer",
            np.exp(s["after_answer"]), "< 1: survey aversion or exclusion of past participants")
    if "takeup_slope" in s:
        averaged = ("; averaged over the models with and without the slope, 1 in the "
                    "latter's draws" if "log_sight" in s else "")
        add("experiment", "Odds ratio of taking the task for ten times the visits",
            np.power(10.0, np.asarray(s["takeup_slope"])),
            "> 1: the most active take a task they see more readily (the take-up above is "
            f"at one visit a week){averaged}")
    if "arrival_share" in s:
        add("experiment", "Share of workers arriving during the reference period",
            s["arrival_share"])
        add("experiment", "Share of workers leaving during the reference period",
            s["departure_share"])
    add("all", "Platforms per worker (multi-homing)", s["platforms_per_worker"])
    if "band_platforms" in s:
        for b, band in enumerate(("at least weekly", "monthly, not weekly",
                                  "less than monthly")):
            add("all", f"Platforms per worker visiting {band}",
                np.asarray(s["band_platforms"])[:, b])
    return pd.DataFrame(rows, columns=["method", "quantity", "estimate", "low", "high", "note"])


def _tail(observed: float, replicated: np.ndarray) -> float:
    """Two-sided posterior predictive p-value: 2 min(P(rep <= obs), P(rep >= obs))."""
    r = np.asarray(replicated, dtype=float)
    return float(min(1.0, 2 * min(np.mean(r <= observed), np.mean(r >= observed))))


def _figure_label(data: SynthesisData, method: str, j: int) -> str:
    """How the predictive checks name platform ``j``'s declared or audience figure."""
    if method == "audience":
        what = "monthly unique visitors"
    elif data.declares_active[j]:
        what = f"declared accounts active in the last {data.declared_window[j]:g} days"
    else:
        what = "declared registrations"
    return f"{data.platforms[j]}: {what}"


def _checks(s: dict, data: SynthesisData, level: float, rng: np.random.Generator
            ) -> pd.DataFrame:
    rows = []

    def add(method: str, what: str, observed: float, replicated: np.ndarray) -> None:
        f = _figure(replicated, level)
        rows.append({"method": method, "observed_figure": what, "observed": observed,
                     "replicated": f.estimate, "low": f.low, "high": f.high,
                     "p_value": _tail(observed, replicated)})

    for key, method, values, sds in (("declared_expected", "declared", data.declared,
                                      data.declared_sd),
                                     ("audience_expected", "audience", data.audience,
                                      data.audience_sd)):
        if key not in s:
            continue
        exp = np.asarray(s[key])
        for j in np.flatnonzero(~np.isnan(values)):
            rep = exp[:, j] * np.exp(sds[j] * rng.standard_normal(len(exp)))
            add(method, _figure_label(data, method, j), float(values[j]), rep)
    cap = data.capture
    if cap is not None and "expected_by_answers" in s and cap.n_waves <= 8:
        counts = cap.patterns[cap.group_pattern].sum(axis=1).astype(int)
        observed = np.bincount(counts, weights=cap.group_count, minlength=cap.n_waves + 1)
        exp = np.asarray(s["expected_by_answers"])
        for k in range(1, cap.n_waves + 1):
            rep = rng.poisson(np.clip(exp[:, k - 1], 0, None))
            add("experiment", f"respondents who answered {k} wave{'s' if k > 1 else ''}",
                float(observed[k]), rep)
    if (cap is not None and "expected_by_answers_arrived" in s and cap.n_waves <= 8
            and cap.reads_start_answers):
        _waves_by_start(add, s, cap, rng)
    if cap is not None and "expected_by_report" in s and cap.reads_start_answers:
        # (whatever the number of waves: it reads the answers alone)
        timing = arrival_timing(cap, rng)
        if timing is not None:
            add("experiment", ARRIVAL_TIMING, timing[0], timing[1])
    if cap is not None and "expected_by_report" in s:
        observed = np.bincount(cap.group_report, weights=cap.group_count, minlength=5)
        # the respondents whose answer is not known (failed the attention check) are taken
        # as any others: the answers expected are those of the known share
        known = observed[:4].sum() / max(observed.sum(), 1.0)
        exp = np.asarray(s["expected_by_report"]) * known
        for r, cat in enumerate(REPORT_CATEGORIES):
            rep = rng.poisson(np.clip(exp[:, r], 0, None))
            add("experiment", f"respondents answering '{cat.replace('_', ' ')}'",
                float(observed[r]), rep)
        if "expected_by_answers_report" in s and cap.n_waves <= 8:
            _waves_by_report(add, s, cap, known, rng)
    return pd.DataFrame(rows, columns=["method", "observed_figure", "observed", "replicated",
                                       "low", "high", "p_value"])


#: The start of the labels of the checks whose figure is a mean (shown with decimals),
#: not a count.
MEAN_CHECK = "waves answered per respondent"
#: The label of the checks of waves answered by the respondents giving each answer.
WAVES_PER_RESPONDENT = f"{MEAN_CHECK} answering"


def is_mean_check(label: str) -> bool:
    """Whether the predictive check named ``label`` reads a mean, not a count."""
    return label.startswith(MEAN_CHECK) or label == ARRIVAL_TIMING


#: The label of the check of when the respondents who arrived before the waves arrived.
ARRIVAL_TIMING = ("when those who began during the period before the waves began (mean "
                  "share of the time from its start to the waves)")


def _month_days(days: np.ndarray, start: date) -> np.ndarray:
    """Each day of the period (from ``start``) as its month's 15th day, the day a month
    answer is read as."""
    when = np.datetime64(start, "D") + np.floor(days).astype("timedelta64[D]")
    return ((when.astype("datetime64[M]").astype("datetime64[D]") + np.timedelta64(14, "D"))
            - np.datetime64(start, "D")).astype(float)


def arrival_timing(cap, rng: np.random.Generator, draws: int = 1000
                   ) -> tuple[float, np.ndarray, int] | None:
    """When the respondents who said they began during the period, before the first wave,
    began: the mean of their days as a share of the time to the first wave, and its
    replication where arrivals come at a uniform time, as the joint model assumes
    (``draws`` means of as many uniform days, read as the answers were); and how many
    there are. None where fewer than 20 began before the first wave, or the waves' dates
    are not known.

    Every worker who arrived before the first wave faces all the waves, so those seen
    began at a uniform time before it if arrivals come at a uniform time, whatever their
    chance of being seen. Arrivals that come mostly early in the period (or late) show
    here, where the other checks, which read the waves answered, do not: the joint model
    then carries too many (too few) arrivals after the waves, and the tiers come out too
    high (too low; docs/validation.md). Answers given as months (every day a month's 15th)
    are compared up to the first day of the first wave's month, and replicated as months.
    """
    if cap.start_days is None or cap.wave_starts is None or not len(cap.wave_starts):
        return None
    days = np.asarray(cap.start_days, dtype=float)
    end = float(cap.wave_starts[0])
    start = cap.reference_start
    months = start is not None and bool(np.all(days == np.floor(days))) and bool(
        np.all(_month_days(days, start) == days))
    if months:   # up to the first day of the first wave's month
        first_month = (np.datetime64(start, "D") + np.timedelta64(int(end), "D")).astype(
            "datetime64[M]").astype("datetime64[D]")
        end = float((first_month - np.datetime64(start, "D")).astype(int))
    if end <= 0:
        return None
    mine = days[(days > 0) & (days < end)]
    if len(mine) < 20:
        return None
    rep = rng.uniform(0.0, end, (draws, len(mine)))
    if months:
        rep = _month_days(rep, start)
    return float(mine.mean() / end), rep.mean(axis=1) / end, len(mine)


#: Respondents below which a check of the mean waves answered is left out (too few to
#: read a mean from).
MEAN_WAVES_MIN = 20


def _enough_for_mean(cap, mine: np.ndarray) -> bool:
    """Whether the groups ``mine`` hold enough respondents to read a mean from."""
    return cap.group_count[mine].sum() >= MEAN_WAVES_MIN


def _add_mean_waves(add, label: str, cap, mine: np.ndarray, counts: np.ndarray) -> None:
    """The check ``label``: the mean number of waves answered by the respondents of the
    groups ``mine``, observed, and replicated from each draw's counts by number of
    answers, ``counts`` (draws, K)."""
    k = cap.patterns[cap.group_pattern].sum(axis=1)
    total = counts.sum(axis=1)
    rep = (counts @ np.arange(1, cap.n_waves + 1))[total > 0] / total[total > 0]
    n = cap.group_count[mine].sum()
    add("experiment", label, float((k[mine] * cap.group_count[mine]).sum() / n), rep)


def _waves_by_report(add, s: dict, cap, known: float, rng: np.random.Generator) -> None:
    """The mean number of waves answered by the respondents giving each answer, observed
    and replicated (each draw's counts by number of answers and answer Poisson around
    their expectation): where take-up differs by activity beyond the visits, the frequent
    answer more waves than the model expects and the rare fewer."""
    exp = np.asarray(s["expected_by_answers_report"]) * known                # (draws, K, 4)
    for r, cat in enumerate(REPORT_CATEGORIES):
        mine = cap.group_report == r
        if not _enough_for_mean(cap, mine):
            continue
        counts = rng.poisson(np.clip(exp[:, :, r], 0, None))                 # (draws, K)
        _add_mean_waves(add, f"{WAVES_PER_RESPONDENT} '{cat.replace('_', ' ')}'", cap, mine,
                        counts)


#: The label of the checks of the respondents' answers on when they began micro-work.
BEGAN_DURING = "respondents who said they began during the period"


def _waves_by_start(add, s: dict, cap, rng: np.random.Generator) -> None:
    """The respondents who said they began micro-work during the period, and the mean
    number of waves answered by them and by those who began before it, observed and
    replicated. Those who arrived can answer only the waves after their arrival, which
    these read where the waves span much of the period; when they run in a few weeks
    neither arrivals that come early or late nor starts misdated into the period show
    here (docs/validation.md; :func:`arrival_timing` reads the former). The expected
    counts are those of the share of respondents who answered the question (the others'
    answers taken as alike)."""
    answered = cap.start_answers / max(float(cap.group_count.sum()), 1.0)
    arrived = np.asarray(s["expected_by_answers_arrived"]) * answered        # (draws, K)
    before = np.clip(np.asarray(s["expected_by_answers"]) * answered - arrived, 0, None)
    counts = rng.poisson(np.clip(arrived, 0, None))
    add("experiment", BEGAN_DURING, float(cap.started_during), counts.sum(axis=1))
    for code, expected, who in ((1, counts, "who began during the period"),
                                (0, rng.poisson(before), "who began before it")):
        mine = cap.group_started == code
        if _enough_for_mean(cap, mine):
            _add_mean_waves(add, f"{MEAN_CHECK} {who}", cap, mine, expected)


#: A predictive check below this two-sided p-value gets a warning. The report's table
#: reads p < 0.05 as a misfit; with 14 to 24 checks a study, the warning asks for more
#: (on 16 simulated studies of the eight shipped scenarios, whose assumptions hold, the
#: smallest p-value was 0.04; of the waves answered per respondent by answer, 0.072).
CHECK_WARNING_P = 0.01


def uneven_take_up(post: Posterior, data: SynthesisData, level: float, seed: int = 0
                   ) -> pd.DataFrame:
    """The checks of waves answered per respondent, by answer, that a fit without the
    take-up slope fails (p below :data:`CHECK_WARNING_P`): the sign that the take-up rises
    or falls with activity (``experiment.take_up_slope = "auto"`` then adds the slope).
    ``post`` must hold the predictive sites."""
    rows = _checks(post.samples | post.predictive, data, level, _rngs(seed)[0])
    mine = rows["observed_figure"].str.startswith(WAVES_PER_RESPONDENT)
    return rows[mine & (rows["p_value"] < CHECK_WARNING_P)].sort_values("p_value",
                                                                       kind="stable")


def _listed(checks: pd.DataFrame) -> str:
    """The checks named with their observed and replicated figures and p-values."""
    def fmt(x: float, mean: bool) -> str:
        return f"{x:,.2f}" if mean else f"{x:,.0f}"

    return "; ".join(
        f"{r.observed_figure}: {fmt(r.observed, m)} observed, {fmt(r.low, m)}-"
        f"{fmt(r.high, m)} replicated, p {_p(r.p_value)}"
        for r in checks.itertuples()
        for m in [is_mean_check(r.observed_figure)])


def slope_added_note(failed: pd.DataFrame) -> str:
    """One line saying that the take-up slope was added, and on what evidence."""
    said = _listed(failed)
    return ("the take-up was fitted with a slope on the visit rate (experiment.take_up_slope "
            f"= \"auto\"): without it the joint model did not reproduce {said}, the sign of "
            "a take-up that rises or falls with activity, which a model without the slope "
            "reads as too few or too many rarely active workers (on simulated countries "
            "whose take-up odds rise threefold for ten times the visits, occasional 29% low "
            "with intervals that all missed); take_up_slope = false fits without it")


def slope_average_note(probability: float) -> str | None:
    """One line when the model with the take-up slope is the more probable of the two that
    ``experiment.take_up_slope = "average"`` fits; None otherwise."""
    if probability < 0.5:
        return None
    return (f"the waves answered read as a take-up that rises or falls with activity: the "
            f"model with a take-up slope on the visit rate has a posterior probability of "
            f"{_percent(probability)} against the one where a visit may not show the task, "
            "and the figures average the two by it (experiment.take_up_slope = "
            "\"average\"; see the odds ratio in the bias table)")


#: Where both readings are in the average and a tier's two readings differ by at least
#: this share of its averaged median, the report's warnings say the tier rests on which
#: reading holds.
READINGS_DIFFER = 0.05


def readings_warning(table: pd.DataFrame) -> str | None:
    """One line naming the tiers whose two take-up readings differ by
    :data:`READINGS_DIFFER` or more of the average (both readings in it), with each
    reading's figure, the probability the data give the slope's, and the average at even
    prior odds and at odds four times lower and higher; None otherwise."""
    if table.empty or table["without"].isna().any() or table["with_slope"].isna().any():
        return None
    gap = (table["with_slope"] - table["without"]).abs() / table["averaged"]
    hit = table[gap >= READINGS_DIFFER]
    if hit.empty:
        return None
    p = float(hit["probability"].iloc[0])

    def fig(x, lo, hi):
        return f"{x:,.0f} ({lo:,.0f}-{hi:,.0f})"

    rows = list(hit.itertuples())

    def each(say) -> str:
        return "; ".join(f"{r.tier.replace('_', ' ')} {say(r)}" for r in rows)

    return (f"the two readings of the waves give different figures: with a visit that may "
            f"not show the task, {each(lambda r: fig(r.without, r.without_low, r.without_high))}"
            f"; with a take-up that rises or falls with activity, "
            f"{each(lambda r: fig(r.with_slope, r.with_slope_low, r.with_slope_high))}; the "
            f"data give the second {_percent(p)} from even prior odds and the figures average "
            f"the two: {each(lambda r: f'{r.averaged:,.0f}')}, or "
            f"{each(lambda r: f'{r.odds_lower:,.0f} and {r.odds_higher:,.0f}')} with the "
            f"second's prior odds four times lower or higher; these tiers rest in part on "
            f"which reading holds (the report's table of the two readings)")


def _percent(p: float) -> str:
    """A probability in words that never rounds to 0% or 100%."""
    if p > 0.999:
        return "over 99.9%"
    return f"{p:.1%}" if p > 0.99 else f"{p:.0%}"


def check_warning(checks: pd.DataFrame) -> str | None:
    """One line naming the figures the fitted model does not reproduce, if any."""
    bad = checks[checks["p_value"] < CHECK_WARNING_P].sort_values("p_value", kind="stable")
    if bad.empty:
        return None
    listed = _listed(bad.head(3))
    more = f"; and {len(bad) - 3} more" if len(bad) > 3 else ""
    n = f"{len(bad)} of the figures" if len(bad) > 1 else "one of the figures"
    return (f"the joint model does not reproduce {n} the sources report ({listed}{more}): "
            "an assumption about that source fails, or the figure is not what the study "
            "takes it for (see the predictive checks)")


def below_replication_warnings(checks: pd.DataFrame, data: SynthesisData) -> list[str]:
    """One line for the declared figures read as registrations, and one for the audience
    figures, that fall below what the fitted model replicates (p below
    :data:`CHECK_WARNING_P`): both biases of either source can only overstate the workers
    unless the study says otherwise, and each line names the likeliest reading the study
    can state (a figure of the accounts active in a window; a panel that misses visits)."""
    below = checks[(checks["p_value"] < CHECK_WARNING_P) & (checks["observed"] < checks["low"])]
    out = []
    for method, which, reading in (
            ("declared", data.declares_registrations, "the declared figures of {} fall below the "
             "registrations the other sources put there ({}); a declared figure that counts "
             "only the accounts active in a recent window reads so: give that platform's "
             "declared_active_days, or the tiers come out low"),
            ("audience", np.ones(data.n_platforms, dtype=bool), "the monthly visitors of {} "
             "fall below the workers the other sources put there ({}); a traffic panel that "
             "misses some visits (an app it does not measure) reads so: state "
             "assumptions.visitors_per_person with a range below 1, or the tiers come out "
             "low")):
        labels = {_figure_label(data, method, j): name
                  for j, name in enumerate(data.platforms) if which[j]}
        low = below[(below["method"] == method) & below["observed_figure"].isin(labels)]
        if not low.empty:
            names = ", ".join(labels[f] for f in low["observed_figure"])
            out.append(reading.format(names, _listed(low)))
    return out


def arrival_timing_warning(checks: pd.DataFrame) -> str | None:
    """One line where the respondents who began during the period before the waves began
    earlier or later in that time than arrivals at a uniform time would (the check
    :data:`ARRIVAL_TIMING`, p below :data:`CHECK_WARNING_P`): which way the tiers lean."""
    rows = checks[(checks["observed_figure"] == ARRIVAL_TIMING)
                  & (checks["p_value"] < CHECK_WARNING_P)]
    if rows.empty:
        return None
    r = rows.iloc[0]
    early = r["observed"] < r["replicated"]
    return (f"the respondents who began micro-work during the period, before the waves, "
            f"began on average {r['observed']:.2f} of the way to them, where arrivals at a "
            f"uniform time would give {r['low']:.2f}-{r['high']:.2f} (p {_p(r['p_value'])}): "
            f"workers arrived {'earlier' if early else 'later'} in the period than the joint "
            "model assumes, and it carries the arrivals after the waves at the rate of those "
            "before them, "
            f"so the tiers are likely {'too high' if early else 'too low'} (on simulated "
            f"countries, {'5-6% high' if early else '8% low'}; docs/validation.md)")


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def _shifts(s: dict, data: SynthesisData, level: float, rng: np.random.Generator
            ) -> pd.DataFrame:
    rows = []
    for prior in data.priors.all():
        if prior.kind == "fixed":
            continue
        key = prior.name
        columns = None
        if key == "declaration_inflation" and "inflation_common" in s:
            key = "inflation_common"  # the stated prior is the country's inflation
        elif key in NONWORKER_SITES:
            # one site holds both, per platform: the dormant share where a platform declares
            # registrations, the other where it declares accounts active in a window
            active = data.declares_active
            columns = np.flatnonzero(active if key == "active_nonworker_share" else ~active)
            key = "dormant_share"
        if key not in s:
            continue
        post = np.asarray(s[key], dtype=float)
        draws = prior.draw(rng, 4000)
        if columns is not None and post.ndim > 1 and post.shape[1] > 1:
            # each platform's share is the centre's, moved by its own deviation on the logit
            logit = np.log(draws) - np.log1p(-draws) + NONWORKER_SPREAD * rng.standard_normal(
                draws.size)
            draws = 1 / (1 + np.exp(-logit))
        low_end, high_end = open_ends(prior)
        if post.ndim == 1:
            series = [(None, post)]
        else:
            series = [(j, post[:, j]) for j in (range(post.shape[1]) if columns is None
                                                 else columns)]
        for j, p in series:
            label = (prior.label if j is None or post.shape[1] == 1
                     else f"{prior.label}: {data.platforms[j]}")
            fp, fq = _figure(draws, level), _figure(p, level)
            narrowed = _narrowed(prior, draws, p)
            beyond = (high_end and fq.estimate > fp.high) or (low_end and fq.estimate < fp.low)
            rows.append({"assumption": label, "origin": prior.origin, "status": prior.status,
                         "prior": fp.estimate, "prior_low": fp.low, "prior_high": fp.high,
                         "posterior": fq.estimate, "posterior_low": fq.low,
                         "posterior_high": fq.high, "narrowed": narrowed,
                         "informed_by_data": narrowed >= INFORMED,
                         "beyond_prior": bool(beyond)})
    return pd.DataFrame(rows, columns=["assumption", "origin", "status", "prior", "prior_low",
                                       "prior_high", "posterior", "posterior_low",
                                       "posterior_high", "narrowed", "informed_by_data",
                                       "beyond_prior"])


def _narrowed(prior: Prior, before: np.ndarray, after: np.ndarray) -> float:
    """1 - the posterior's sd over the prior's: of a factor's logarithm, on which its prior
    is normal (an odds ratio's log-normal prior with sd 1 has a long right tail that would
    make any posterior look narrow), of a share itself.

    >>> p = Prior("answer_again", "", "lognormal", (0.0, 1.0))
    >>> z = np.random.default_rng(0).standard_normal(100_000)
    >>> round(_narrowed(p, np.exp(z), np.exp(0.5 * z)), 2)
    0.5
    """
    if prior.kind.startswith("lognormal"):
        before, after = np.log(before), np.log(after)
    spread = float(np.std(before))
    return 1 - float(np.std(after)) / spread if spread > 0 else 0.0


def open_ends(prior: Prior) -> tuple[bool, bool]:
    """Whether a posterior median below (first) or above (second) the prior's interval is a
    conflict with the prior: not at the end where the source has no bias (no dormant
    account, no misreported answer, one visitor per person, every visitor a worker),
    where data that put the parameter there say only that this bias is small.

    >>> open_ends(Prior("misreport", "", "beta", (1.5, 10.0)))
    (False, True)
    >>> open_ends(Prior("worker_share_0", "", "beta", (6.0, 1.5)))
    (True, False)
    >>> open_ends(Prior("visitors_per_person", "", "lognormal", (-0.4, 0.2)))
    (True, True)
    """
    if prior.kind == "lognormal":   # a factor stated on both sides of 1
        return True, True
    if prior.name.startswith("worker_share"):
        return True, False
    return False, True


def prior_conflict_warning(shifts: pd.DataFrame, data: SynthesisData) -> str | None:
    """One line naming the assumptions whose posterior median the data put beyond their
    prior's interval (``beyond_prior``), if any: the model explains what it sees through
    those biases, so a structure it lacks, or a wrong stated range, may lie behind them.
    Where they all belong to platforms the task was not posted on, the line says what
    reads so there."""
    bad = shifts[shifts["beyond_prior"].astype(bool)] if len(shifts) else shifts
    if bad.empty:
        return None
    listed = "; ".join(
        f"{r.assumption[0].lower() + r.assumption[1:]} {_g(r.posterior)} "
        f"({_g(r.posterior_low)}-{_g(r.posterior_high)}) against a prior of "
        f"{_g(r.prior_low)}-{_g(r.prior_high)}"
        for r in bad.head(4).itertuples())
    more = f"; and {len(bad) - 4} more" if len(bad) > 4 else ""
    said = (f"the data put {len(bad)} assumption{'s' if len(bad) > 1 else ''} beyond "
            f"{'their' if len(bad) > 1 else 'its'} prior's range ({listed}{more}): the model "
            "explains what the sources report through these biases, so an assumption that "
            "fails or a stated range that is wrong may lie behind them, and the tiers rest "
            "on it")
    unposted = [name for name, on in zip(data.platforms, data.posted, strict=True) if not on]
    named = [name for name in data.platforms
             if bad["assumption"].str.endswith(f": {name}").any()]
    if unposted and named and set(named) <= set(unposted):
        said += (f"; all on platforms the task was not posted on ({', '.join(named)}): "
                 "workers who keep to those platforms, rarely registered where it was, read "
                 "so (the respondents' lists then carry too few workers to them): "
                 + ("post the task there too" if registration_classes(data) else
                    "leave experiment.registration_classes out (two classes of "
                    "registrations), or post the task there too"))
    return said


def _g(x: float) -> str:
    return f"{x:.2f}" if abs(x) < 10 else f"{x:,.0f}"


def _rngs(seed: int) -> list[np.random.Generator]:
    """The predictive checks' and the prior-to-posterior table's generators for ``seed``
    (the checks that decide the take-up slope draw as the report's do)."""
    return np.random.default_rng(seed).spawn(2)


def summarise(post: Posterior, data: SynthesisData, level: float, seed: int = 0,
              checks: bool = True, reported: Collection[str] = TIERS) -> JointSummary:
    """The report's view of a fitted joint model (see the module docstring);
    ``checks=False`` leaves the predictive checks' and the prior sensitivity's tables
    empty (validation reads neither); ``reported``: the tiers the report prints, whose
    interval bounds' Monte Carlo errors are kept (:attr:`JointSummary.bound_errors`)."""
    checks_rng, shifts_rng = _rngs(seed)
    s = post.samples
    draws = tier_draws(s)
    tiers = {t: _figure(draws[t], level) for t in TIERS}
    bands = {b: _figure(draws[f"band:{b}"], level) for b in BANDS}
    return JointSummary(
        inference=post.method, converged=post.converged, problems=list(post.problems),
        diagnostics=post.diagnostics, tiers=tiers, bands=bands,
        biases=_biases(s, data, level),
        checks=_checks(s | post.predictive if checks else {}, data, level, checks_rng),
        shifts=_shifts(s, data, level, shifts_rng),
        prior_sensitivity=(prior_sensitivity(s, data.priors, draws,
                                             post.diagnostics.get(SLOPE_PROBABILITY))
                           if checks else pd.DataFrame()),
        readings=readings(draws, s, post.diagnostics.get(SLOPE_PROBABILITY), level),
        tier_draws=draws,
        churn="arrival_share" in s, take_up_slope="takeup_slope" in s,
        bound_errors=bound_errors(draws, int(post.diagnostics.get("chains", 1))
                                  if post.method == "nuts" else 1, level, reported))
