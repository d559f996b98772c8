"""Method 2: the task-posting experiment.

Two steps.

1. **How many workers the postings could reach.** The waves are the
   occasions of a closed-population capture--recapture design; every model
   of Rcapture's family (:func:`crowdcensus.capture.closed.fit_closed_models`)
   is fitted, and the choice between them is accounted for by AIC-weight
   model averaging (Buckland, Burnham and Augustin, 1997):

   .. math::

      w_k = \\frac{\\exp(-\\Delta_k/2)}{\\sum_j \\exp(-\\Delta_j/2)},\\quad
      \\Delta_k = AIC_k - \\min_j AIC_j,\\qquad
      \\bar N = \\sum_k w_k \\hat N_k,

      \\widehat{se}(\\bar N) = \\sum_k w_k \\sqrt{\\widehat{var}(\\hat N_k)
      + (\\hat N_k - \\bar N)^2}.

   The unconditional standard error adds the spread between models to each
   model's own variance, so the interval widens when the data cannot choose.
   The interval is Chao's (1987) log-normal one for the uncaught
   :math:`f_0 = \\bar N - n`: :math:`[n + f_0/C,\\ n + f_0 C]` with
   :math:`C = \\exp(z \\sqrt{\\log(1 + se^2/f_0^2)})`; the Monte Carlo draws
   :math:`N = n + f_0 \\exp(\\sigma Z)` with the same :math:`\\sigma`.
   Models whose fit failed, is unbounded or degenerate (status other than ``ok``
   or a ``boundary`` of Chao's constraints) or whose estimate is not finite take
   no part, and a fit reached under two names counts once
   (:func:`crowdcensus.capture.closed.comparison.distinct_usable_models`).

2. **Tier sizes.** Each respondent's reported frequency is weighted by the
   inverse of their reach (:mod:`crowdcensus.tiers`); the weighted shares of
   the tier bands times :math:`\\bar N` give the tiers. The multi-homing
   coefficient, when the study says ``"estimate"``, is the mean number of
   platforms respondents report being registered on, with the same weights:
   :math:`\\hat m = \\sum_i k_i / r_i \\big/ \\sum_i 1/r_i`.

Sampling uncertainty of the shares and of :math:`\\hat m` enters the Monte
Carlo by resampling respondents (a nonparametric bootstrap) in every draw.

References
----------
Buckland, S. T., Burnham, K. P. and Augustin, N. H. (1997). Model selection:
an integral part of inference. *Biometrics* 53, 603-618.
Chao, A. (1987). Estimating the population size for capture-recapture data
with unequal catchability. *Biometrics* 43, 783-791.
Baillargeon, S. and Rivest, L.-P. (2007). Rcapture: loglinear models for
capture-recapture in R. *Journal of Statistical Software* 19(5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np
import pandas as pd
from scipy import stats

from crowdcensus.capture.histories import CaptureHistories
from crowdcensus.errors import ModelError, NotIdentifiableError
from crowdcensus.tiers import (
    FREQUENCY_CATEGORIES,
    band_shares,
    nested_from_bands,
    reach_probability,
)


class FittedModel(Protocol):
    """What :func:`model_average` reads from a fitted closed-population model."""

    name_: str
    abundance_: float
    stderr_: float
    aic_: float
    status_: str


@dataclass(frozen=True)
class ModelAverage:
    """AIC-weighted average of closed-population models.

    Attributes
    ----------
    estimate, stderr : float
        :math:`\\bar N` and its unconditional standard error.
    n_captured : int
        Distinct workers who answered at least once.
    selected : str
        The model with the smallest AIC.
    table : DataFrame
        One row per model: model, abundance, stderr, aic, delta_aic, weight, status, used.
    """

    estimate: float
    stderr: float
    n_captured: int
    selected: str
    table: pd.DataFrame

    @property
    def sigma(self) -> float:
        """Log-scale spread of the uncaught :math:`f_0` (Chao 1987)."""
        f0 = self.estimate - self.n_captured
        if f0 <= 0:
            return 0.0
        return math.sqrt(math.log1p((self.stderr / f0) ** 2))

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """Chao's log-normal interval :math:`[n + f_0/C, n + f_0 C]`."""
        z = stats.norm.ppf(0.5 + level / 2)
        f0 = self.estimate - self.n_captured
        c = math.exp(z * self.sigma)
        return self.n_captured + f0 / c, self.n_captured + f0 * c

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Monte Carlo draws :math:`n + f_0 \\exp(\\sigma Z)`."""
        f0 = self.estimate - self.n_captured
        return self.n_captured + f0 * np.exp(self.sigma * rng.standard_normal(size))


def model_average(models: list[FittedModel], n_captured: int) -> ModelAverage:
    """Average fitted closed-population models by their AIC weights.

    Parameters
    ----------
    models : list
        Fitted models with ``name_``, ``abundance_``, ``stderr_``, ``aic_`` and
        ``status_``. Only the usable, distinct ones are averaged
        (:func:`crowdcensus.capture.closed.comparison.distinct_usable_models`: degenerate,
        failed and unbounded fits are left out, and a fit reached under two names --
        Mh Chao with every eta at 0 is M0 -- counts once).
    n_captured : int
        Number of distinct individuals caught.
    """
    from crowdcensus.capture.closed.comparison import distinct_usable_models

    kept, left_out = distinct_usable_models(models)
    kept_ids = {id(m) for m in kept}
    rows = []
    for m in models:
        status = str(getattr(m, "status_", "ok"))
        ok = id(m) in kept_ids and m.abundance_ >= n_captured
        name = getattr(m, "name_", None) or getattr(m, "name", "?")
        if left_out.get(str(name), status) != status:
            status = f"{status}; {left_out[str(name)]}"
        rows.append({"model": str(name), "abundance": float(m.abundance_),
                     "stderr": float(m.stderr_), "aic": float(m.aic_),
                     "status": status, "used": bool(ok)})
    table = pd.DataFrame(rows, columns=["model", "abundance", "stderr", "aic", "status", "used"])
    used = table[table["used"]]
    if used.empty:
        raise NotIdentifiableError(
            "no closed-population model gave a usable estimate from the responses "
            "(too few workers answered in more than one wave?)"
        )
    delta = used["aic"] - used["aic"].min()
    raw = np.exp(-0.5 * delta)
    weights = raw / raw.sum()
    table["delta_aic"] = np.nan
    table["weight"] = 0.0
    table.loc[used.index, "delta_aic"] = delta
    table.loc[used.index, "weight"] = weights
    n_bar = float((weights * used["abundance"]).sum())
    se = float((weights * np.sqrt(used["stderr"] ** 2 + (used["abundance"] - n_bar) ** 2)).sum())
    selected = str(used.loc[used["aic"].idxmin(), "model"])
    table = table[["model", "abundance", "stderr", "aic", "delta_aic", "weight", "status", "used"]]
    return ModelAverage(n_bar, se, int(n_captured), selected, table.reset_index(drop=True))


def fit_capture(histories: CaptureHistories) -> ModelAverage:
    """Fit every closed-population model to the waves and average them by AIC."""
    try:
        from crowdcensus.capture.closed.model import fit_closed_models
    except ImportError as exc:  # pragma: no cover - only before the closed models exist
        raise ModelError(
            "the experiment needs the closed-population models (crowdcensus.capture.closed.model), "
            "which this installation lacks"
        ) from exc
    table = fit_closed_models(histories)
    return model_average(list(table.models), histories.n_captured)


@dataclass(frozen=True)
class RespondentArrays:
    """Respondents as arrays: category index (into ``categories``) and platforms registered."""

    categories: tuple[str, ...]
    category: np.ndarray
    n_registered: np.ndarray

    @classmethod
    def from_frame(cls, respondents: pd.DataFrame) -> RespondentArrays:
        """The respondents whose answer is known (not those who failed the attention
        check: the shares of the answers are read among the others)."""
        respondents = respondents[respondents["category"].notna()]
        present = set(respondents["category"].unique())
        cats = tuple(c for c in FREQUENCY_CATEGORIES if c in present)
        index = {c: j for j, c in enumerate(cats)}
        return cls(cats, respondents["category"].map(index).to_numpy(dtype=np.int64),
                   respondents["n_registered"].to_numpy(dtype=float))

    @cached_property
    def _cells(self) -> tuple[np.ndarray, np.ndarray]:
        """The distinct (category, platforms registered or -1) answers and their counts
        (computed once: the sensitivity analysis evaluates the methods dozens of times)."""
        k0 = np.where(np.isnan(self.n_registered), -1.0, self.n_registered)
        return np.unique(np.stack([self.category, k0], axis=1), axis=0, return_counts=True)

    def summaries(
        self, rng: np.random.Generator | None, size: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per category: respondents, sum of platforms registered, respondents reporting it.

        With ``rng``, each of the ``size`` rows is a bootstrap resample of the
        respondents; without, every row is the observed data. Arrays are (size, C).
        A resample only matters through how many times it holds each distinct
        (category, platforms registered) answer, so those counts are drawn directly
        (multinomial, as resampling n respondents with replacement gives them).
        """
        n, c = len(self.category), len(self.categories)
        cells, observed = self._cells
        if rng is None:
            drawn = np.broadcast_to(observed.astype(float), (size, len(cells)))
        else:
            drawn = rng.multinomial(n, observed / n, size=size).astype(float)
        onehot = np.zeros((len(cells), c))
        onehot[np.arange(len(cells)), cells[:, 0].astype(int)] = 1.0
        answered = cells[:, 1] >= 0
        return (drawn @ onehot, drawn @ (onehot * np.where(answered, cells[:, 1], 0.0)[:, None]),
                drawn @ (onehot * answered[:, None]))


def reach_matrix(
    values: dict[str, np.ndarray], categories: tuple[str, ...], weeks: float, size: int
) -> np.ndarray:
    """Reach of each category in each draw, (size, C), from ``experiment.reach.p_week.*``."""
    cols = []
    for cat in categories:
        key = f"experiment.reach.p_week.{cat}"
        if key not in values:
            raise ModelError(f"experiment.reach.p_week.{cat}: is required (respondents answered "
                             f"{cat!r})")
        cols.append(np.broadcast_to(np.asarray(values[key], dtype=float), (size,)))
    return reach_probability(np.stack(cols, axis=1), weeks)


def experiment_tiers(
    n_active: np.ndarray,
    counts: np.ndarray,
    reach: np.ndarray,
    categories: tuple[str, ...],
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Tier sizes :math:`\\bar N \\times` reach-weighted shares.

    Returns the nested tiers and the weighted band shares.
    """
    w = counts / reach
    shares = w / w.sum(axis=1, keepdims=True)
    bands = band_shares(shares, categories)
    nested = nested_from_bands(bands)
    return {t: np.asarray(n_active) * s for t, s in nested.items()}, bands


def weighted_multihoming(k_sum: np.ndarray, k_n: np.ndarray, reach: np.ndarray) -> np.ndarray:
    """:math:`\\hat m = \\sum_i k_i/r_i \\big/ \\sum_i 1/r_i`, over respondents who gave ``k``.

    ``k_sum`` and ``k_n`` are (draws, C): per category, the summed ``k`` and the
    number of respondents who reported it; ``reach`` is (draws, C).
    """
    num = (k_sum / reach).sum(axis=1)
    den = (k_n / reach).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


@dataclass(frozen=True)
class StratifiedCapture:
    """Capture--recapture fitted separately in each band of reported frequency.

    Post-stratification (``experiment.capture = "by_band"``): the respondents
    are split by the disjoint band of their answer (very active, regular only,
    occasional only) and the closed models are fitted and AIC-averaged in each
    band, where catchability varies far less than across all respondents;
    the tiers are the nested sums of the band estimates,

    .. math:: \\hat N_{very\\,active} = \\hat N_{va},\\quad
              \\hat N_{regular} = \\hat N_{va} + \\hat N_{ro},\\quad
              \\hat N_{occasional} = \\hat N_{va} + \\hat N_{ro} + \\hat N_{oo}.

    Pooling strata whose capture probabilities differ by an order of magnitude
    makes the heterogeneity models extrapolate the uncaught from the frequent
    workers' recaptures, which under-counts the rare ones (Chao's estimator
    is a lower bound); stratifying by a covariate that explains
    catchability removes most of that heterogeneity (Seber 1982, sec. 4.1.3;
    Chao 1987). The reach model is then not needed for the tiers (it still
    weights the multi-homing estimate). The bands' fits are independent, so
    their variances add up.

    Attributes
    ----------
    strata : dict
        Band name -> :class:`ModelAverage` of that band's respondents.
    """

    strata: dict[str, ModelAverage]
    #: Respondents / respondents whose answer is known: each band's estimate counts those
    #: who answered it, and is scaled by this to stand for those whose answer is not
    #: known (failed the attention check), taken as unrelated to activity.
    scale: float = 1.0

    @property
    def estimate(self) -> float:
        return float(sum(m.estimate for m in self.strata.values()))

    @property
    def stderr(self) -> float:
        return float(math.sqrt(sum(m.stderr ** 2 for m in self.strata.values())))

    def band(self, name: str, level: float = 0.95
             ) -> tuple[float, tuple[float, float], object]:
        """A band's estimate, interval and sampler, scaled (see :attr:`scale`)."""
        fit, s = self.strata[name], self.scale
        lo, hi = fit.interval(level)
        return fit.estimate * s, (lo * s, hi * s), lambda rng, size: fit.draw(rng, size) * s

    @property
    def n_captured(self) -> int:
        return int(sum(m.n_captured for m in self.strata.values()))

    @property
    def selected(self) -> str:
        return "; ".join(f"{band}: {m.selected}" for band, m in self.strata.items())

    @property
    def table(self) -> pd.DataFrame:
        parts = []
        for band, m in self.strata.items():
            t = m.table.copy()
            t["model"] = band + ": " + t["model"]
            parts.append(t)
        return pd.concat(parts, ignore_index=True)

    @property
    def sigma(self) -> float:
        return ModelAverage(self.estimate, self.stderr, self.n_captured, "", self.table).sigma

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """Chao's log-normal interval for the summed estimate."""
        return ModelAverage(self.estimate, self.stderr, self.n_captured, "",
                            self.table).interval(level)

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Draws of the total: the sum of independent draws of every band."""
        return sum(m.draw(rng, size) for m in self.strata.values())


def fit_capture_by_band(events: pd.DataFrame, respondents: pd.DataFrame,
                        occasions: list[str]) -> StratifiedCapture:
    """Fit the closed models in every band of reported frequency (see :class:`StratifiedCapture`).

    ``events`` has one row per (worker, wave); ``respondents`` gives each
    worker's ``category``.
    """
    from crowdcensus.tiers import BANDS, CATEGORY_BAND

    band_of = respondents["category"].map(CATEGORY_BAND)   # none where not known
    event_band = events["worker"].map(band_of)
    strata: dict[str, ModelAverage] = {}
    for band in BANDS:
        n_band = int((band_of == band).sum())
        if n_band == 0:
            continue
        sub = events[(event_band == band).to_numpy()]
        hist = CaptureHistories.from_events(sub, "worker", "wave", occasions=occasions)
        try:
            strata[band] = fit_capture(hist)
        except NotIdentifiableError as exc:
            raise NotIdentifiableError(
                f"capture-recapture by band: the {band.replace('_', ' ')} respondents "
                f"({n_band}) give no usable estimate ({exc}); use experiment.capture "
                "= \"pooled\"") from exc
    known = int(band_of.notna().sum())
    return StratifiedCapture(strata, scale=len(band_of) / known if known else 1.0)


def _sum_of_fits(parts: list[tuple[str, float, ModelAverage]]) -> ModelAverage:
    """:math:`\\sum_j w_j \\bar N_j` over independent fits (``(label, w_j, fit)``), as a
    :class:`ModelAverage`: variances add up with the weights squared, the caught count
    is the weighted one, and each fit's models are listed under its label."""
    estimate = float(sum(w * m.estimate for _, w, m in parts))
    stderr = float(math.sqrt(sum((w * m.stderr) ** 2 for _, w, m in parts)))
    caught = int(round(sum(w * m.n_captured for _, w, m in parts)))
    tables = []
    for label, _, m in parts:
        t = m.table.copy()
        t["model"] = label + ": " + t["model"]
        tables.append(t)
    return ModelAverage(estimate, stderr, caught,
                        "; ".join(f"{label}: {m.selected}" for label, _, m in parts),
                        pd.concat(tables, ignore_index=True))


def share_of_worker(held, posted: set, own) -> float:
    """The share of a worker that one of their respondents stands for when the worker
    IDs are per platform: one over the platforms of ``posted`` the worker holds (``held``,
    the platforms they say they are registered on), the one answered on (``own``)
    included. The collection service's live census reads the same rule."""
    return 1.0 / len(set(held) & posted | {own})


def platform_shares(events: pd.DataFrame, respondents: pd.DataFrame,
                    keys: dict[str, int] | None = None) -> pd.DataFrame:
    """With worker IDs per platform: each respondent's platform and the share of the
    worker they stand for.

    A worker registered on ``m`` of the platforms the answers come from belongs to the
    population each of those platforms' answers measure, so ``m`` times over; each of
    their respondents stands for ``1/m`` of them. ``m`` counts the platforms the
    respondent says they are registered on among those (names matched in lower case,
    through ``keys``, the study's names and codes, where given), and the platform
    answered on; NaN where they do not say. Returns ``platform`` and ``share`` by
    respondent.
    """
    def canon(name: str) -> object:
        return keys.get(name, name) if keys else name

    names = events["platform"].astype(str).str.strip().str.lower()
    own = names.groupby(events["worker"]).first().reindex(respondents.index)
    own_key = own.map(canon)
    answered = set(own_key.dropna().unique())
    share = []
    for regs, mine in zip(respondents["registered"], own_key, strict=True):
        if not isinstance(regs, frozenset | set | tuple | list):
            share.append(np.nan)
            continue
        share.append(share_of_worker({canon(r) for r in regs}, answered, mine))
    return pd.DataFrame({"platform": own, "share": share}, index=respondents.index)


def _mean_share(shares: pd.Series) -> float:
    """The mean share of those who say their platforms (1 when nobody does)."""
    said = shares.dropna()
    return float(said.mean()) if len(said) else 1.0


def fit_capture_per_platform(events: pd.DataFrame, respondents: pd.DataFrame,
                             occasions: list[str], by_band: bool,
                             keys: dict[str, int] | None = None,
                             posted: set[tuple[str, str]] | None = None
                             ) -> ModelAverage | StratifiedCapture:
    """The experiment's own capture--recapture where the worker IDs are per platform.

    Each platform's respondents are a capture--recapture study of their own (pooled, or by
    band as :func:`fit_capture_by_band`); a worker registered on several of the platforms
    is in several of these populations, so each platform's estimate is weighted by the
    mean share of a worker its respondents stand for (:func:`platform_shares`; by band
    when by band), and the weighted estimates add up. A worker who answers on one
    platform and misses another is a miss there, which the closed models read as
    heterogeneity or a behavioural effect. ``posted``: the (wave, platform in lower case)
    pairs the study says were posted (:func:`~crowdcensus.synthesis.data.stated_postings`);
    each platform's histories then hold its own waves only (None: every wave).
    """
    from crowdcensus.tiers import BANDS, CATEGORY_BAND

    shares = platform_shares(events, respondents, keys)
    band_of = respondents["category"].map(CATEGORY_BAND)
    ev_platform = events["worker"].map(shares["platform"])
    by_platform: dict[str, list[tuple[str, float, ModelAverage]]] = {}
    pooled: list[tuple[str, float, ModelAverage]] = []
    for name in sorted(shares["platform"].dropna().unique()):
        mine = (shares["platform"] == name).to_numpy()
        sub_events = events[(ev_platform == name).to_numpy()]
        waves = (occasions if posted is None else
                 [w for w in occasions if (str(w), name) in posted])
        try:
            if by_band:
                fit = fit_capture_by_band(sub_events, respondents[mine], waves)
                for band, stratum in fit.strata.items():
                    w = _mean_share(shares["share"][mine & (band_of == band).to_numpy()])
                    by_platform.setdefault(band, []).append((name, w, stratum))
            else:
                hist = CaptureHistories.from_events(sub_events, "worker", "wave",
                                                    occasions=waves)
                pooled.append((name, _mean_share(shares["share"][mine]), fit_capture(hist)))
        except NotIdentifiableError as exc:
            raise NotIdentifiableError(f"platform {name}: {exc}") from exc
    if not by_band:
        return _sum_of_fits(pooled)
    known = int(band_of.notna().sum())
    return StratifiedCapture({band: _sum_of_fits(by_platform[band]) for band in BANDS
                              if band in by_platform},
                             scale=len(band_of) / known if known else 1.0)


#: The sd of the take-up slope's prior, normal around 0: the log10 of the factor on the
#: take-up odds for ten times the visits (0.5: within x1/10 and x10 at two sd).
TAKEUP_SLOPE_SD = 0.5
#: The sd of the normal prior, around 0, of the log of the chance that a visit shows the task.
LOG_SIGHT_SD = 0.75

#: The experiment's sums over rates come from the table of every (history, platform set)
#: row paired with every (answer, hours) row
#: (:func:`~crowdcensus.methods.capture_likelihood.pair_log_sums`) where that table has at
#: most this many rows per kind of respondent; with more (many waves: 11 make 2,048
#: histories), gathering each kind's rows costs less.
PAIR_ROWS_PER_KIND = 1.0


def _answer_share(split, a):
    """The share of a set's visits to the posted platforms that goes to each, per posting
    (``a["posted"]``, (W, J): the sets of platforms the waves were posted on), as (S, W, J);
    0 where no visit goes (a platform outside the set or not posted, a set with no posted
    platform). ``split``: each set's visits split over its platforms (None: evenly)."""
    import jax.numpy as jnp

    if split is None:
        split = a["subsets"] / a["subset_size"][:, None]
    posted = split[:, None, :] * jnp.atleast_2d(a["posted"])[None]                # (S, W, J)
    total = jnp.sum(posted, axis=2, keepdims=True)
    return posted / jnp.where(total > 0, total, 1.0)


def _log_answer_share(split, a):
    """log :func:`_answer_share`, as (S, W * J) (columns as
    :attr:`~crowdcensus.synthesis.data.CaptureData.answer_platforms`). Where no visit goes
    the value is 0, log 1: no answer can come from there, and a count of 0 times it adds
    nothing to the likelihood or its gradient (no 0/0, no log 0).
    """
    import jax.numpy as jnp

    where = _answer_share(split, a)
    return jnp.log(jnp.where(where > 0, where, 1.0)).reshape(where.shape[0], -1)


def _weighted_sum(counts, logs):
    """The sum of ``counts * logs`` over the cells with a count (a cell without one may
    hold -inf, and 0 x -inf is not 0)."""
    import jax.numpy as jnp

    return jnp.sum(jnp.where(counts > 0, counts * logs, 0.0))


def _groups_fit(count, left, right, rows, cols):
    """The respondents' groups' log-likelihood, ``count`` times the log-sum-exp over the
    rates of ``left[rows] + right[cols]`` for each group (by pairs of rows where the
    table of rows is small enough to be worth it: :data:`PAIR_ROWS_PER_KIND`)."""
    from crowdcensus.methods.capture_likelihood import pair_log_sums

    return _weighted_sum(count, pair_log_sums(
        left, right, rows, cols, count > 0,
        left.shape[0] <= PAIR_ROWS_PER_KIND * count.shape[0]))


def _silent_sets_fit(a, sets, right, n_hours):
    """The term of the respondents who do not say their set of platforms: for each
    combination, the log-sum over the sets that could be theirs (``c_mask``) of ``sets``
    (C, S, G), then as :func:`_groups_fit` over their groups."""
    import jax.numpy as jnp
    from jax.scipy.special import logsumexp

    combo = logsumexp(jnp.where(a["c_mask"][:, :, None] > 0, sets, -jnp.inf), axis=1)  # (C, G)
    return _groups_fit(a["u_count"], combo, right, a["u_combo"],
                       a["u_report"] * n_hours + a["u_hours"])


def _listed_sets_fit(a, left, where, right, n_hours):
    """As :func:`_silent_sets_fit`, over the (combination, set) pairs listed in ``p_combo``
    and ``p_set``: ``left`` (P, S, G) each history's and set's terms, ``where`` (C, S) each
    combination's own term for each set. Each combination's log-sum over its sets is taken
    by segments, shifted by their largest term (a shift that changes no value, held out of
    the gradient)."""
    import jax
    import jax.numpy as jnp

    combo_of, set_of = a["p_combo"], a["p_set"]
    n_combos = a["c_pattern"].shape[0]
    terms = left[a["c_pattern"][combo_of], set_of] + where[combo_of, set_of][:, None]  # (M, G)
    top = jax.lax.stop_gradient(jax.ops.segment_max(terms, combo_of, num_segments=n_combos))
    top = jnp.where(jnp.isfinite(top), top, 0.0)
    total = jax.ops.segment_sum(jnp.exp(terms - top[combo_of]), combo_of,
                                num_segments=n_combos)
    combo = jnp.log(total) + top                                                   # (C, G)
    return _groups_fit(a["u_count"], combo, right, a["u_combo"],
                       a["u_report"] * n_hours + a["u_hours"])


def _left_out(x, within, extra, omit):
    """Each named set's terms when respondents leave out platforms they hold.

    ``x`` (P, S, G) holds the log terms of the true sets (or (set, platform) pairs);
    a respondent who names ``U`` holds ``U`` or any set ``S`` that contains it
    (``within[U, S]`` 1), having left out the ``extra[U, S]`` platforms of ``S`` not in
    ``U``, each with chance ``omit``. Returns the log of the sum over ``S`` of
    ``exp(x[:, S]) * omit ** extra[U, S]``, (P, U, G): a weighted sum over sets, taken on
    the terms scaled by their largest. The chance of naming the platforms that were named
    is one factor of the whole likelihood (``platforms_named``)."""
    import jax.numpy as jnp

    top = jnp.max(x, axis=1, keepdims=True)
    weight = jnp.where(within > 0, omit ** extra, 0.0)                       # (U, S)
    summed = jnp.einsum("us,psg->pug", weight, jnp.exp(x - top))
    return jnp.log(jnp.clip(summed, 1e-300)) + top


#: The odds ratio of answering again the model holds for ``assumptions.answer_again = 0``:
#: finite, so that no gradient meets an infinity, and small enough that a repeat answer
#: is as good as impossible.
KEPT_AWAY_ODDS = 1e-12


def _after_answer(specs: dict):
    """The change of the take-up's log odds after a first answer (site ``after_answer``),
    from the prior of its odds ratio ``specs["answer_again"]`` (without one, the default):
    the logarithm of a log-normal factor
    (:func:`~crowdcensus.synthesis.population.factor_log_site`, site ``answer_again_z``),
    or held at a stated value.
    """
    import jax.numpy as jnp
    import numpyro

    from crowdcensus.synthesis.population import factor_log_site
    from crowdcensus.synthesis.priors import DEFAULT_ANSWER_AGAIN

    spec = specs.get("answer_again", ("answer_again", DEFAULT_ANSWER_AGAIN.kind,
                                      DEFAULT_ANSWER_AGAIN.params))
    if spec[1] == "fixed":   # held; at 0 (past participants kept away), at odds of 1e-12
        after = jnp.log(jnp.maximum(jnp.asarray(spec[2][0]), KEPT_AWAY_ODDS))
    else:
        after = factor_log_site("answer_again", spec)
    numpyro.deterministic("answer_again", jnp.exp(after))
    return numpyro.deterministic("after_answer", after)


def _per_platform_fit(cfg, a, pop, params, log_n, log_pi, right, n_hours):
    """The experiment's likelihood terms where each respondent is one worker's answers on
    one platform (IDs per platform, as the collection service's keyed hashes give).

    A worker of set ``s`` caught in a wave answers on platform ``j`` with the share of
    their visits to the posted platforms that goes to ``j``; the pair (worker, ``j``)
    has its own history, the waves answered there, with the chance of an answer in a
    wave the worker's times that share. The behavioural effect is the worker's: before
    the pair's first answer the worker may have answered on another platform, which the
    pair's history does not show, and the chance of that is summed over
    (:func:`~crowdcensus.methods.capture_likelihood.pair_waves`). Returns the sum over the
    respondents' groups, the expected respondents per worker at each rate (G,), and
    the expected respondents per history and rate (P, G) for the predictive checks.
    """
    import jax.numpy as jnp

    from crowdcensus.methods.capture_likelihood import history_log_prob

    us, up = a["unit_subset"], a["unit_platform"]         # the pairs a wave can reach (U,)
    # no answer can go to a platform in a wave not posted there (log 0, kept finite)
    there = _answer_share(pop.split, a)[us, :, up]                            # (U, W)
    log_there = jnp.log(jnp.clip(there, 1e-300, 1.0))
    shares = (jnp.ones(a["subsets"].shape[0]) if pop.posted_share is None
              else jnp.clip(pop.posted_share.T, 1e-9, 1.0))                  # (S,) or (T, S)
    unit = dict(params, shares=shares[..., us])
    unit["answer_here"] = (log_there[:, 0] if log_there.shape[1] == 1
                           else log_there[:, a["wave_class"]].T)               # (U,) or (T, U)
    hist = history_log_prob(a, unit, pop.churn, pop.points, cfg.started)      # (P, U, G)
    log_pr = pop.log_pr[us][:, a["point_bin"]]                                  # (U, G)
    left = log_n[None, None, :] + log_pr[None] + hist
    if cfg.platform_omission:
        left = _left_out(left, a["unit_within"], a["unit_extra"], params["omit"])
    left = left.reshape(-1, hist.shape[-1])
    n_pat, n_unit = hist.shape[:2]
    rows = a["k_pattern"] * n_unit + a["unit_index"][a["k_subset"], a["k_platform"]]
    fit = _groups_fit(a["k_count"], left, right, rows, a["k_report"] * n_hours + a["k_hours"])
    if cfg.has_unknown_subsets:
        # a respondent who does not say their set: the sum over the sets that hold the
        # platform they answered on
        cols = a["unit_index"][:, a["c_platform"]].T                              # (C, S)
        sets = log_n[None, None, :] + log_pr[cols] + hist[a["c_pattern"][:, None], cols]
        fit = fit + _silent_sets_fit(a, sets, right, n_hours)
    pairs = jnp.exp(log_pr)                                                    # (U, G)
    seen_share = jnp.sum(pairs * -jnp.expm1(hist[0]), axis=0)                # (G,)
    caught = jnp.where(jnp.arange(n_pat)[:, None, None] == 0, -jnp.inf, hist)
    caught_share = jnp.sum(jnp.exp(log_pi[None, None, :] + caught) * pairs[None], axis=1)
    return fit, seen_share, caught_share


class TaskExperiment:
    """Method 2 as an observation model of the joint model (:mod:`crowdcensus.synthesis`).

    The respondents' capture histories, answers about frequency and platforms
    registered on, and the workers never seen, give the full likelihood

    .. math:: \\prod_{c} \\frac{\\mu_c^{n_c} e^{-\\mu_c}}{n_c!},\\qquad
              \\mu_{h,r,R} = \\sum_g N_g\\, P(R \\mid g)\\, P(r \\mid g)\\, P(h \\mid g, s(R))

    over the kinds :math:`c = (h, r, R)` of respondents (history, answer,
    platforms), :math:`N_g` the expected workers in activity bin :math:`g` (the
    Poisson form of the multinomial capture--recapture likelihood, as in
    Rcapture's log-linear models; the workers never seen enter through the
    expected number seen, :math:`\\sum_c \\mu_c`)

    (:mod:`~crowdcensus.methods.capture_likelihood` for :math:`P(h \\mid g, s)`).
    The answer :math:`r` is the category of the worker's rate, or a neighbouring
    one with probability :math:`\\epsilon` (misreporting; at the ends of the
    scale the one neighbour gets :math:`\\epsilon/2`). A worker registered only on
    platforms the task was not posted on has :math:`s = 0` and is never caught:
    the model reaches them through the registration model, the declared figures
    and the web audience. Standalone (the method's own figures), the experiment
    is the AIC-averaged closed models by band of answers (:func:`fit_capture_by_band`).
    """

    name = "experiment"
    label = "Task-posting experiment"
    tiers = ("very_active", "regular", "occasional")
    #: Derived quantities only the predictive checks read: they need every history's
    #: chance, the costliest part of a draw, so they are computed on a subset of draws.
    predictive_sites = ("expected_respondents", "expected_by_answers", "expected_by_report",
                        "expected_by_answers_report", "expected_by_answers_arrived")

    @staticmethod
    def observe(cfg, a: dict, pop, specs: dict) -> None:
        """The experiment's likelihood given the latent population ``pop``."""
        import jax.numpy as jnp
        import numpyro
        import numpyro.distributions as dist
        from jax.scipy.special import logsumexp, xlogy

        from crowdcensus.methods.capture_likelihood import history_log_prob, pair_log_sums
        from crowdcensus.synthesis.population import prior_site

        if not cfg.has_capture:
            return
        eps = prior_site("misreport", specs["misreport"])
        inner, edge, move = 1 - eps, 1 - eps / 2, eps / 2
        answer = jnp.array([[edge, move, 0.0, 0.0], [move, inner, move, 0.0],
                            [0.0, move, inner, move], [0.0, 0.0, move, edge]])
        delta = (prior_site("random_answers", specs["random_answers"])
                 if "random_answers" in specs else None)
        # how answers given at random spread over the four (a flat prior on the shares):
        # the histories tell it, and the answers of those who failed the attention check,
        # given without reading, are draws of it
        log_omega = jnp.full(4, -jnp.log(4.0))
        if delta is not None and cfg.random_answer_shares:
            omega = numpyro.sample("random_answer_shares", dist.Dirichlet(jnp.ones(4)))
            log_omega = jnp.log(jnp.clip(omega, 1e-30, 1.0))
            numpyro.factor("failed_answers", jnp.sum(a["failed_answers"] * log_omega))
        # the bins are evaluated at rates inside them (with hours, the open bin at 3 visits a
        # week and over a tail, each rate for its share of the bin, pop.point_logw): below,
        # G counts these rates, each with its bin's answer and registrations
        pb = a["point_bin"]
        log_k = jnp.log(jnp.clip(answer, 1e-30, 1.0))[a["bin_cat"][pb]]     # (G, 4)
        log_known = log_k      # the answers alone, for the predictive checks
        if delta is not None:  # some answer at random
            log_known = jnp.log(jnp.clip((1 - delta) * answer + delta * jnp.exp(log_omega),
                                         1e-30, 1.0))[a["bin_cat"][pb]]
        params = {
            "takeup": numpyro.sample("takeup_logit", dist.Normal(0.0, 1.5)),
            "wave": numpyro.sample("wave_effect",
                                   dist.Normal(0.0, 0.5).expand([a["H"].shape[1]])),
            "het": numpyro.sample("takeup_sd", dist.HalfNormal(0.75)),
            "after": _after_answer(specs),
        }
        # with the slope (slope_on 1) the take-up rises or falls with the visit rate,
        # logit t = alpha + gamma log lambda, and the chance that a visit shows the task is
        # held at 1, since it bends the same curve (with both, NUTS needed 11-28 s a fit
        # and one of three was refused on divergences; with the slope alone 5.5 s, as
        # without it); without it (0), the reverse. Both sites are in both models, the one
        # held touching only its own prior: it adds nothing to the marginal likelihood,
        # and the fit drops its draws (synthesis.inference._dropped)
        on = a["slope_on"]
        params["slope"] = on * numpyro.sample("takeup_slope", dist.Normal(0.0, TAKEUP_SLOPE_SD))
        params["sight"] = jnp.exp((1.0 - on)
                                  * numpyro.sample("log_sight", dist.Normal(0.0, LOG_SIGHT_SD)))
        if pop.posted_share is not None:   # one share class per set of platforms
            params["shares"] = jnp.clip(pop.posted_share.T, 1e-9, 1.0)   # (S,) or (T, S)
        if cfg.platform_omission:
            # each platform a respondent holds beyond the one they answer on is left out of
            # their answer with chance omit: those named, and those left out but answered
            # on later, are what the first answers say of it; the rest is summed over
            # (_left_out: the sets that hold the named one)
            from jax.scipy.special import xlog1py

            omit = prior_site("platform_omission", specs["platform_omission"])
            params["omit"] = omit
            numpyro.factor("platforms_named", xlog1py(a["named_platforms"], -omit)
                           + xlogy(a["unnamed_answered"], omit))
        if cfg.start_misdated:   # those there from the start who say they began during it
            params["misdated"] = prior_site("start_misdated", specs["start_misdated"])
        hist = history_log_prob(a, params, pop.churn, pop.points, cfg.started)  # (P, U, G)
        if cfg.has_hours:  # hours per week ~ log-normal around (hours per visit) x rate
            from jax.scipy.special import log_ndtr

            per_visit = numpyro.sample("hours_per_visit_log", dist.Normal(0.0, 1.5))
            spread = numpyro.sample("hours_sd", dist.HalfNormal(1.0))
            z = (a["hour_edges"][None, :] - per_visit - jnp.log(pop.points)[:, None]) / spread
            lo, hi = z[:, :-1], z[:, 1:]
            flip = lo > 0       # log(Phi(hi) - Phi(lo)), computed on the far side of 0
            top = log_ndtr(jnp.where(flip, -lo, hi))
            bottom = log_ndtr(jnp.where(flip, -hi, lo))
            band = top + jnp.log1p(-jnp.exp(jnp.minimum(bottom - top, -1e-12)))  # (G, bands)
            log_h = jnp.concatenate([band, jnp.zeros((band.shape[0], 1))], axis=1)
        else:
            log_h = jnp.zeros((pb.shape[0], 1))
        n_hours = log_h.shape[1]
        log_pi = pop.log_pi[pb] + pop.point_logw             # share of the workers per rate
        # each (answer, hours) pair's term at each rate, (answers x hours, G): read, or, with
        # probability delta, given at random: an answer by the shares above, and the hours
        # of a worker drawn at random from the population, whatever their own rate (0 for
        # no hours given, which any answer gives)
        right = log_k.T[:, None, :] + log_h.T[None, :, :]                     # (4, H, G)
        if delta is not None:
            anyone = logsumexp(log_pi[:, None] + log_h, axis=0)                 # (H,)
            at_random = (jnp.log(delta) + log_omega[:, None, None]
                         + anyone[None, :, None])                              # (4, H, 1)
            right = jnp.logaddexp(jnp.log1p(-delta) + right, at_random)
        if cfg.unknown_reports:  # an answer not known (and no hours): alike at every rate
            right = jnp.concatenate([right, log_h.T[None]], axis=0)
        right = right.reshape(-1, right.shape[-1])
        log_n = log_pi + jnp.log(pop.total)                     # expected workers per point
        if not cfg.aggregate:
            numpyro.deterministic("reachable_share", jnp.sum(
                pop.pi * jnp.sum(jnp.exp(pop.log_pr) * a["subset_reached"][:, None], axis=0)))
        # each branch: the respondents' terms (fit), the expected respondents per worker at
        # each rate (seen_share, G) and per history and rate (caught_share, P x G)
        if cfg.per_platform_ids:
            fit, seen_share, caught_share = _per_platform_fit(cfg, a, pop, params, log_n,
                                                              log_pi, right, n_hours)
        elif cfg.aggregate:
            base = log_n[None, :] + right[a["k_report"] * n_hours + a["k_hours"]]
            fit = jnp.sum(a["k_count"] * logsumexp(base + hist[a["k_pattern"], 0, :], axis=1))
            seen_share = -jnp.expm1(hist[0, 0, :])                              # (G,)
            caught_share = jnp.exp(log_pi + hist[:, 0, :])                    # (P, G)
        else:
            reached = a["subset_reached"]
            # where each set's answers come from, for the answers' platforms (both terms)
            log_share = _log_answer_share(pop.split, a)                        # (S, J)
            hist_s = jnp.where(reached[None, :, None] > 0,
                               hist[:, jnp.maximum(a["subset_share_class"], 0), :], 0.0)
            log_pr = pop.log_pr[:, pb]
            joint = log_n[None, :] + log_pr                                    # (S, G)
            # every kind of respondent's terms over the rates are the sum of a (history,
            # platform set) row and an (answer, hours) row: their log-sum-exps
            n_pat, n_sub, n_rates = hist_s.shape
            left = (joint[None] + hist_s).reshape(-1, n_rates)                   # (P*S, G)
            if cfg.dense:  # the table's cells are the pairs themselves
                counts = a["counts"]
                cells = pair_log_sums(left, right, np.arange(n_pat * n_sub)[:, None],
                                      np.arange(right.shape[0])[None, :],
                                      counts.reshape(n_pat * n_sub, -1) > 0, True)
                fit = _weighted_sum(counts, cells.reshape(counts.shape))
            else:
                fit = _groups_fit(a["k_count"], left, right,
                                  a["k_pattern"] * n_sub + a["k_subset"],
                                  a["k_report"] * n_hours + a["k_hours"])
            if cfg.has_unknown_subsets:
                # the respondents who do not say their set: for each (history, answers'
                # platforms), the sum over the sets that hold those platforms, each with the
                # chance of answering there (in proportion to the visits the set sends
                # there, as for the respondents who say their set: answer_platforms below)
                where = a["c_answers"] @ log_share.T                               # (C, S)
                if cfg.platform_omission:   # the platforms of each set left out of the named
                    where = where + xlogy(a["c_extra"], params["omit"])
                fit = fit + _listed_sets_fit(a, joint[None] + hist_s, where, right, n_hours)
            seen_share = -jnp.expm1(logsumexp(log_pr + hist_s[0], axis=0))     # (G,)
            # a set on no posted platform is never seen: its chance of the empty history
            # is 1 (hist_s's 0 above) and of every other history 0
            hist_c = jnp.where((reached[None, :, None] > 0)
                               | (jnp.arange(n_pat)[:, None, None] == 0), hist_s, -jnp.inf)
            caught_share = jnp.sum(jnp.exp(log_pi[None, None, :] + log_pr[None] + hist_c),
                                   axis=1)                                     # (P, G)
        if pop.split is not None and not cfg.per_platform_ids:
            # the platform of each answer, among the posted platforms of the respondent's set,
            # in proportion to the visits the set sends there
            numpyro.factor("answer_platforms", jnp.sum(a["answer_platforms"] * log_share))
        # Poisson form of the likelihood: the respondents of each kind are Poisson around
        # their expected number; the workers never seen enter through the expected total seen
        seen = jnp.sum(jnp.exp(log_n) * seen_share)
        numpyro.deterministic("expected_respondents", seen)
        numpyro.factor("capture", fit - seen)
        # expected respondents by number of answers and by answer, for the predictive checks
        k_of = jnp.sum(a["H"], axis=1).astype(jnp.int32)

        def by_answers(rows):   # per row (P, ...) -> per number of answers, 1 to T
            return jnp.zeros((a["H"].shape[1] + 1,) + rows.shape[1:]).at[k_of].add(rows)[1:]

        # (the histories alone: not the rows of those who said when they began)
        counted = a["all_patterns"] * a["row_any"]
        per_row = jnp.sum(caught_share, axis=1)
        numpyro.deterministic("expected_by_answers", pop.total * by_answers(per_row * counted))
        if cfg.started:
            # and those of them whose stay began during the period, who say so where they
            # answer: the checks' rows give every history's such row once (those of the
            # fit only the ones respondents gave, for which the figure is not complete)
            arrived = a["all_patterns"] * (a["row_started"] == 1)
            numpyro.deterministic("expected_by_answers_arrived",
                                  pop.total * by_answers(per_row * arrived))
        seen_by_bin = jnp.exp(log_pi) * seen_share                           # P(g, seen)
        numpyro.deterministic("expected_by_report",
                              pop.total * (seen_by_bin @ jnp.exp(log_known)))
        # and by number of answers and answer together: whether each answer's respondents
        # answer as many waves as the model expects (a take-up that differs by activity
        # beyond the visits shows there first)
        numpyro.deterministic("expected_by_answers_report", pop.total * by_answers(
            (caught_share * counted[:, None]) @ jnp.exp(log_known)))
