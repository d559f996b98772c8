"""What the joint model sees: a study's inputs as arrays.

:func:`synthesis_data` turns a validated study and its responses into a
:class:`SynthesisData`: the platforms' declared and audience figures with
the panel's (or the declaration's) error on the log scale, the priors of the
bias parameters, and the experiment's capture histories compressed into
groups of respondents who share a history, an answer and a set of platforms.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np
import pandas as pd

from crowdcensus.errors import InputError
from crowdcensus.sources.responses import Responses
from crowdcensus.study import Quantity, Study
from crowdcensus.synthesis.activity import REPORT_CATEGORIES, REPORT_INDEX, REPORT_UNKNOWN
from crowdcensus.synthesis.priors import (
    DEFAULT_ACTIVE_NONWORKER,
    DEFAULT_ARRIVALS,
    DEFAULT_DEPARTURES,
    DEFAULT_RANDOM_ANSWERS,
    NO_DEPARTURES,
    Priors,
    in_model,
    platform_omission_prior,
    random_answers_prior,
    start_misdated_prior,
    study_priors,
)

#: Waves spanning more than this many days make ``churn = "auto"`` model arrivals/departures.
CHURN_SPAN_DAYS = 56
#: Largest number of platforms whose registration patterns are enumerated (2^J - 1 sets).
MAX_PLATFORMS = 10
#: Bands of reported hours per week (the last band, index len(HOUR_EDGES) - 1, is "not given").
#: Below 0.25, answers of 0, 0.1 and 0.2 (one decimal, as the collection service records
#: them) have a band each: for the workers who visit less than monthly they are the only
#: answers that tell a visit every few weeks from one or two a year, and with one band for
#: the three the model put those rarely caught workers at about half their number
#: (docs/validation-notebook.md, "The hours of the rarely active"). Answers in coarser steps leave
#: these bands empty (:func:`true_hour_edges`).
HOUR_EDGES = np.array([0.0, 0.05, 0.15, 0.25, 0.5, 1.0, 2.0, 3.5, 6.0, 10.0, 16.0, 25.0, 40.0,
                       np.inf])
N_HOUR_BANDS = len(HOUR_EDGES)  # the bands, and "not given"

#: The steps an answer of hours may be recorded in, coarsest first
#: (:func:`recording_step`).
HOUR_STEPS = (1.0, 0.5, 0.25, 0.1, 0.05, 0.01)


def recording_step(hours: np.ndarray) -> float:
    """The coarsest step (of :data:`HOUR_STEPS`) every given answer of hours is a multiple
    of, or 0 when none is (answers recorded more finely than 0.01 hour).

    An answer is the true figure rounded to that step: the collection service keeps one
    decimal, people typing a number heap at whole and half hours.

    >>> recording_step(np.array([0.0, 1.0, 2.5, np.nan])), recording_step(np.array([0.3, 2.0]))
    (0.5, 0.1)
    """
    given = np.asarray(hours, dtype=float)
    given = given[np.isfinite(given)]
    for step in HOUR_STEPS:
        units = given / step
        if np.all(np.abs(units - np.round(units)) < 1e-6):
            return step
    return 0.0


def true_hour_edges(step: float) -> np.ndarray:
    """The edges, in true hours per week, of the bands of :data:`HOUR_EDGES` that answers
    rounded to ``step`` fall in.

    An answer ``r`` falls in the band ``[E_j, E_j+1)``; the true figure that rounds to it
    lies in ``[r - step/2, r + step/2)``; so the band holds the true figures from the
    first multiple of ``step`` at or above ``E_j``, less half a step. Read as true figures,
    answers rounded up past an edge (0.46 hours recorded as 0.5) would put the workers in
    the band above. A band no multiple of ``step`` falls in has no width (no answer can
    be there).

    >>> true_hour_edges(0.1)[:7].round(2).tolist()
    [0.0, 0.05, 0.15, 0.25, 0.45, 0.95, 1.95]
    >>> true_hour_edges(1.0)[:7].tolist()
    [0.0, 0.5, 0.5, 0.5, 0.5, 0.5, 1.5]
    """
    edges = HOUR_EDGES.copy()
    if step > 0:
        finite = np.isfinite(edges)
        edges[finite] = np.maximum(np.ceil(edges[finite] / step - 1e-9) * step - step / 2, 0.0)
    return edges


def log_sd(q: Quantity | None, floor: float = 0.01) -> float:
    """Log-scale standard deviation of a stated figure: its range taken as about +-2 sd."""
    if q is None:
        return floor
    lo, hi = q.range
    if hi <= lo:
        return floor
    return max(float(np.log(hi / lo)) / 4.0, floor)


@dataclass(frozen=True)
class CaptureData:
    """The experiment's histories, grouped.

    Attributes
    ----------
    patterns : array (P, T)
        The distinct capture histories (0/1), the empty history first.
    group_pattern, group_report, group_subset : arrays (K,)
        For each group of respondents: its history (row of ``patterns``), its
        answer (index into :data:`~crowdcensus.synthesis.activity.REPORT_CATEGORIES`)
        and its set of platforms (row of :attr:`SynthesisData.subsets`, or -1
        when the respondents did not say; ``group_answers`` then counts their
        answers on each platform); ``group_hours`` the band of hours per week
        reported (:data:`HOUR_EDGES`; the last index when not given); ``hours_step``
        the step they are recorded in.
    group_count : array (K,)
        Respondents in the group.
    wave_days : array (T,)
        Length of each wave in days.
    answer_platforms : array (S, W * J)
        Answers counted by the answering respondent's set of platforms (row of
        :attr:`SynthesisData.subsets`) and the platform answered on: where a worker
        on two posted platforms answers tells how they split their visits. Empty
        when no respondent says where they are registered. The columns are (posting,
        platform) pairs: ``W`` postings (:attr:`wave_posted`), ``J`` platforms each;
        ``group_answers`` has the same columns.
    wave_posted : array (W, J) or None
        The distinct sets of platforms the waves were posted on
        (``experiment.schedule.posted``), one 0/1 row each; None when the study does
        not say (every wave posted on every platform the answers name: ``W = 1``).
    wave_class : array (T,)
        Each wave's row of ``wave_posted`` (0 when it is None).
    """

    patterns: np.ndarray
    group_pattern: np.ndarray
    group_report: np.ndarray
    group_subset: np.ndarray
    group_answers: np.ndarray
    group_count: np.ndarray
    group_hours: np.ndarray
    wave_days: np.ndarray
    occasions: tuple[str, ...]
    n_captured: int
    unmatched_platforms: tuple[str, ...] = ()
    #: The waves' start days in the reference period, when the study gives them.
    wave_starts: np.ndarray | None = None
    reference_days: float = 364.0
    churn: bool | str = "auto"
    #: The study's ``experiment.take_up_slope`` (true, false, "average" or "auto"; the
    #: model has the slope only when it is true).
    take_up_slope: bool | str = "average"
    #: The study's ``experiment.registration_classes`` (None: left out, the default).
    registration_classes: bool | None = None
    answer_platforms: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    #: The step the answers of hours are recorded in (:func:`recording_step`; 0: exact).
    hours_step: float = 0.0
    #: Whether any answer names a platform of the study file (if not, the task is taken
    #: as posted on every one).
    names_platforms: bool = True
    wave_posted: np.ndarray | None = None
    wave_class: np.ndarray | None = None
    #: The frequency answers (4,: counts in the order of
    #: :data:`~crowdcensus.synthesis.activity.REPORT_CATEGORIES`) of the respondents who
    #: failed the attention check: how answers given without reading spread over the
    #: four. Zeros when no check was read or nobody failed it.
    failed_answers: np.ndarray = field(default_factory=lambda: np.zeros(4))
    #: Whether the workers' IDs are per platform (answers come from several platforms and
    #: no ID answered on two, as the collection service's keyed hashes of platform IDs
    #: give): each respondent is then one worker's answers on one platform,
    #: ``group_platform`` (index into the study's platforms).
    per_platform_ids: bool = False
    group_platform: np.ndarray | None = None
    #: What the respondents' first answers say of their platforms beyond the one they
    #: answered on: the platforms they named (``named_platforms``), and those they left
    #: out but answered on in a later wave (``unnamed_answered``), summed over the
    #: respondents who name their platforms: each such platform was named or left out as
    #: the chance of leaving one out says, whatever their captures (the joint model's
    #: ``platform_omission``).
    named_platforms: float = 0.0
    unnamed_answered: float = 0.0
    #: What each group said of when they began micro-work (``experiment.columns.started``):
    #: -1 not said, 0 before the reference period, 1 during it, before their first answer
    #: (or, for an answer dated later, during it all the same). All -1 where the file says
    #: nothing, or where the study holds the population closed (``churn = false``).
    group_started: np.ndarray | None = None
    #: The day of the reference period each respondent who said they began during it
    #: gave (a month read as its 15th day), for the check of when arrivals came
    #: (:func:`crowdcensus.synthesis.summary.arrival_timing`); and the period's first day
    #: (``experiment.schedule.reference_start``), None where the answers are days.
    start_days: np.ndarray | None = None
    reference_start: date | None = None

    @property
    def start_answers(self) -> int:
        """Respondents who said when they began micro-work (0 where none did)."""
        if self.group_started is None:
            return 0
        return int(self.group_count[self.group_started >= 0].sum())

    @property
    def started_during(self) -> int:
        """Respondents who said they began micro-work during the reference period."""
        if self.group_started is None:
            return 0
        return int(self.group_count[self.group_started == 1].sum())

    @property
    def posting_varies(self) -> bool:
        """Whether the waves were posted on different sets of platforms."""
        return self.wave_posted is not None and len(self.wave_posted) > 1

    @property
    def n_waves(self) -> int:
        return self.patterns.shape[1]

    @property
    def span_days(self) -> float | None:
        """Days from the first wave's start to the last wave's end (None without dates)."""
        if self.wave_starts is None:
            return None
        return float(self.wave_starts[-1] + self.wave_days[-1] - self.wave_starts[0])

    @property
    def models_churn(self) -> bool:
        """Whether the joint model lets workers arrive and leave during the reference
        period: with the waves' dates, where ``churn`` is true, or "auto" and the waves span
        more than :data:`CHURN_SPAN_DAYS` days."""
        if self.wave_starts is None:
            return False
        if self.churn != "auto":
            return bool(self.churn)
        return self.span_days > CHURN_SPAN_DAYS or self.start_answers > 0

    @property
    def reads_start_answers(self) -> bool:
        """Whether the joint model reads the answers on when respondents began: some were
        given and workers come and go in the model (rows of their own,
        :func:`crowdcensus.synthesis.model._started_rows`)."""
        return self.start_answers > 0 and self.models_churn

    @property
    def arrivals_only(self) -> bool:
        """Whether the model carries workers arriving but holds those leaving at none:
        ``churn = "auto"``, waves within :data:`CHURN_SPAN_DAYS` days, and respondents who
        say when they began (which tell arrivals, not departures: the closed reading's
        assumption for those stays)."""
        return (self.churn == "auto" and self.models_churn
                and self.span_days <= CHURN_SPAN_DAYS)


@dataclass(frozen=True)
class SynthesisData:
    """Every input of the joint model (see the module docstring).

    ``declared`` and ``audience`` are NaN for a platform without that figure.
    ``posted`` marks the platforms the task was posted on. ``subsets`` lists
    every non-empty set of platforms (one row per set, one 0/1 column per
    platform); it is empty when registrations are modelled in aggregate
    (``aggregate``: no respondent says where they are registered).
    """

    platforms: tuple[str, ...]
    declared: np.ndarray
    declared_sd: np.ndarray
    audience: np.ndarray
    audience_sd: np.ndarray
    posted: np.ndarray
    subsets: np.ndarray
    aggregate: bool
    priors: Priors
    capture: CaptureData | None = None
    shares: dict[str, tuple[float, float]] = field(default_factory=dict)
    share_base: str = "declared"
    #: Per platform, the days before the end of the reference period in which the
    #: accounts its declared figure counts were active (NaN: it counts registrations).
    declared_window: np.ndarray | None = None
    #: The reference period's length in days.
    reference_days: float = 364.0
    #: Per platform, the day of the reference period its declared figure was taken (NaN:
    #: the last day).
    declared_day: np.ndarray | None = None

    def __post_init__(self) -> None:
        # a figure of active accounts reads the share of them that are not workers: the
        # default prior unless the study's priors carry one
        if self.priors.active_nonworker_share is None and self.declares_active.any():
            object.__setattr__(self, "priors", replace(
                self.priors, active_nonworker_share=DEFAULT_ACTIVE_NONWORKER))

    @property
    def n_platforms(self) -> int:
        return len(self.platforms)

    @property
    def declares_active(self) -> np.ndarray:
        """Which platforms declare the accounts active in a window (not registrations)."""
        if self.declared_window is None:
            return np.zeros(self.n_platforms, dtype=bool)
        return ~np.isnan(self.declared_window) & ~np.isnan(self.declared)

    @property
    def declares_registrations(self) -> np.ndarray:
        """Which platforms declare a figure of registrations (dormant accounts included)."""
        return ~np.isnan(self.declared) & ~self.declares_active

    @property
    def declared_taken(self) -> np.ndarray:
        """Per platform, the day its declared figure was taken (the period's last day if
        the study does not say)."""
        day = (np.full(self.n_platforms, np.nan) if self.declared_day is None
               else self.declared_day)
        return np.where(np.isnan(day), self.reference_days, day)

    @property
    def declares_early(self) -> np.ndarray:
        """Which platforms' declared figures were taken before the period's last day."""
        return ~np.isnan(self.declared) & (self.declared_taken < self.reference_days)

    def active_windows(self) -> str | None:
        """The platforms that declare accounts active in a window, grouped by its length,
        for the report (None when every declared figure counts registrations).

        >>> d = SynthesisData(("a", "b", "c"), np.ones(3), np.ones(3), np.ones(3),
        ...                   np.ones(3), np.ones(3, bool), np.zeros((7, 3)), False, None,
        ...                   declared_window=np.array([30.0, np.nan, 30.0]))
        >>> d.active_windows()
        'a, c: the last 30 days'
        """
        return self._grouped(self.declares_active, self.declared_window, "the last {:g} days")

    def declared_days(self) -> str | None:
        """The platforms whose declared figures were taken before the period's last day,
        grouped by that day, for the report (None when every one was taken on it).

        >>> d = SynthesisData(("a", "b"), np.ones(2), np.ones(2), np.ones(2), np.ones(2),
        ...                   np.ones(2, bool), np.zeros((3, 2)), False, None,
        ...                   declared_day=np.array([182.0, np.nan]))
        >>> d.declared_days()
        'a: day 182'
        """
        return self._grouped(self.declares_early, self.declared_taken, "day {:g}")

    def _grouped(self, which: np.ndarray, values: np.ndarray, say: str) -> str | None:
        """The platforms ``which`` marks, grouped by their ``values`` (each said by the
        format ``say``), or None if it marks none."""
        if not which.any():
            return None
        groups: dict[float, list[str]] = {}
        for j in np.flatnonzero(which):
            groups.setdefault(float(values[j]), []).append(self.platforms[j])
        return "; ".join(f"{', '.join(names)}: {say.format(value)}"
                         for value, names in groups.items())

    def posting_by_wave(self) -> str | None:
        """Which waves were posted on which platforms, for the report (None when the study
        does not say, or every wave was posted on the same ones).

        >>> cap = CaptureData(np.zeros((1, 3)), *[np.zeros(0)] * 6, np.full(3, 7.0),
        ...                   ("w1", "w2", "w3"), 0, wave_posted=np.array([[1, 0], [1, 1]]),
        ...                   wave_class=np.array([1, 0, 0]))
        >>> d = SynthesisData(("a", "b"), *[np.ones(2)] * 4, np.ones(2, bool),
        ...                   np.zeros((3, 2)), False, None, cap)
        >>> d.posting_by_wave()
        'w1: a, b; w2, w3: a'
        """
        cap = self.capture
        if cap is None or not cap.posting_varies:
            return None
        order = list(dict.fromkeys(cap.wave_class.tolist()))
        parts = []
        for c in order:
            waves = [w for w, k in zip(cap.occasions, cap.wave_class, strict=True) if k == c]
            names = [p for p, on in zip(self.platforms, cap.wave_posted[c], strict=True) if on]
            parts.append(f"{', '.join(waves)}: {', '.join(names)}")
        return "; ".join(parts)


def platform_keys(study: Study) -> dict[str, int]:
    """Each platform of the study by its name and its code, in lower case -> its index."""
    keys: dict[str, int] = {}
    for j, p in enumerate(study.platforms):
        keys[p.name.strip().lower()] = j
        if getattr(p, "code", None):
            keys[str(p.code).strip().lower()] = j
    return keys


def all_subsets(n: int) -> np.ndarray:
    """Every non-empty subset of ``n`` platforms as 0/1 rows (ordered by size, then index)."""
    rows = []
    for k in range(1, n + 1):
        for combo in itertools.combinations(range(n), k):
            r = np.zeros(n, dtype=np.int8)
            r[list(combo)] = 1
            rows.append(r)
    return np.array(rows, dtype=np.int8).reshape(-1, n)


def _wave_days(study: Study, n_waves: int) -> np.ndarray:
    exp = study.experiment
    days = None
    if exp.schedule is not None:
        days = exp.schedule.wave_days
        if isinstance(days, list):
            if len(days) != n_waves:
                raise InputError(f"experiment.schedule.wave_days: gives {len(days)} waves "
                                 f"but the responses have {n_waves}")
            return np.asarray(days, dtype=float)
        days = float(days)
    elif exp.reach is not None:
        days = float(exp.reach.posting_weeks) * 7.0 / n_waves
    return np.full(n_waves, float(days if days is not None else 7.0))


def _schedule(study: Study, n_waves: int) -> tuple[np.ndarray | None, float]:
    sched = study.experiment.schedule
    if sched is None or not sched.wave_starts:
        return None, 364.0
    if len(sched.wave_starts) != n_waves:
        raise InputError(f"experiment.schedule.wave_starts: gives {len(sched.wave_starts)} "
                         f"waves but the responses have {n_waves}")
    return np.asarray(sched.wave_starts, dtype=float), float(sched.reference_days)


def _wave_postings(study: Study, occasions: tuple[str, ...]
                   ) -> tuple[np.ndarray | None, np.ndarray]:
    """The distinct sets of platforms the waves were posted on, (W, J) 0/1, and each wave's
    set, (T,): from ``experiment.schedule.posted``, or (None, zeros) when it is left out."""
    sched = study.experiment.schedule
    t = len(occasions)
    if sched is None or sched.posted is None:
        return None, np.zeros(t, dtype=np.int32)
    if len(sched.posted) != t:
        raise InputError(f"experiment.schedule.posted: gives {len(sched.posted)} waves but "
                         f"the responses have {t} ({', '.join(occasions)})")
    keys = platform_keys(study)
    rows = np.zeros((t, len(study.platforms)), dtype=np.int8)
    for w, names in enumerate(sched.posted):
        rows[w, [keys[n.strip().lower()] for n in names]] = 1
    classes, wave_class = np.unique(rows, axis=0, return_inverse=True)
    return classes, wave_class.ravel().astype(np.int32)


def stated_postings(study: Study, responses: Responses) -> set[tuple[str, str]] | None:
    """The (wave label, platform name or code in lower case) pairs that
    ``experiment.schedule.posted`` says were posted, or None when it is left out."""
    occasions = tuple(str(w) for w in responses.histories.occasions)
    rows, wave_class = _wave_postings(study, occasions)
    if rows is None:
        return None
    keys = platform_keys(study)
    return {(wave, key) for wave, c in zip(occasions, wave_class, strict=True)
            for key, j in keys.items() if rows[c, j]}


def _off_posting_error(study: Study, events: pd.DataFrame, off: np.ndarray,
                       occasions: tuple[str, ...]) -> InputError:
    where = (events.loc[off, "platform"].astype(str).str.strip() + " in wave "
             + events.loc[off, "wave"].astype(str))
    listed = ", ".join(sorted(set(where))[:4]) + (", ..." if where.nunique() > 4 else "")
    k = int(off.sum())
    return InputError(
        f"{study.responses_path()}: {k:,} answer{'s were' if k != 1 else ' was'} given on "
        f"a platform the wave was not posted on according to experiment.schedule.posted "
        f"({listed}): "
        f"list every platform each wave was posted on, in the waves' order "
        f"({', '.join(occasions)})")


def capture_data(study: Study, responses: Responses, subsets: np.ndarray | None,
                 answers_for_all: bool = False) -> CaptureData:
    """Group the respondents by (history, answer, platforms registered on); and by the
    platforms their answers were given on for those who do not say where they are
    registered, or for everyone with ``answers_for_all`` (where respondents may leave out
    platforms they hold, the platforms they answered on tell which sets could be theirs)."""
    keys = platform_keys(study)
    hist = responses.histories
    occasions = tuple(hist.occasions)
    events = responses.events
    resp = responses.respondents
    t = len(occasions)
    wave_pos = {w: i for i, w in enumerate(occasions)}
    matrix = np.zeros((len(resp), t), dtype=np.int8)
    ev_rows = pd.Index(resp.index).get_indexer(events["worker"])
    if (ev_rows < 0).any():  # pragma: no cover - responses build both from one table
        raise ValueError("answers from workers missing from the respondents' table")
    ev_waves = events["wave"].map(wave_pos).to_numpy()
    matrix[ev_rows, ev_waves] = 1
    ev_names = events["platform"].str.strip().str.lower()
    ev_plat = ev_names.map(keys).fillna(-1).to_numpy(int)
    unmatched = {str(a) for a in ev_names[ev_plat < 0].unique()}
    # a respondent whose answer is not known (failed the attention check) is a capture all
    # the same: report REPORT_UNKNOWN, which every rate gives alike
    report = resp["category"].map(REPORT_INDEX).fillna(REPORT_UNKNOWN).to_numpy(int)
    subset_idx = np.full(len(resp), -1)
    answer_platforms = np.zeros((0, 0))
    named_platforms = unnamed_answered = 0.0
    known = ev_plat >= 0
    n_plat = len(study.platforms)
    wave_posted, wave_class = _wave_postings(study, occasions)
    if wave_posted is not None:
        off = known & (wave_posted[wave_class[ev_waves], np.maximum(ev_plat, 0)] == 0)
        if off.any():
            raise _off_posting_error(study, events, off, occasions)
    # each respondent's answers counted by (posting of the wave, platform): for those who do
    # not say where they are registered, the platforms they answered on are what is known
    # of their set, and where they answered tells how they split their visits
    n_post = 1 if wave_posted is None else len(wave_posted)
    column = wave_class[ev_waves] * n_plat + ev_plat
    answers_on = np.zeros((len(resp), n_post * n_plat), dtype=np.int32)
    np.add.at(answers_on, (ev_rows[known], column[known]), 1)
    if subsets is not None and len(subsets):
        n = subsets.shape[1]
        # one is registered where one answered
        answered_on = (answers_on.reshape(len(resp), n_post, n_plat).sum(axis=1) > 0
                       ).astype(np.int8)
        stated: dict[tuple, np.ndarray] = {}     # each distinct answer read once
        member = np.zeros((len(resp), n), dtype=np.int8)
        said = np.zeros(len(resp), dtype=bool)
        for i, regs in enumerate(resp["registered"]):
            if regs is None or (isinstance(regs, float) and np.isnan(regs)):
                continue
            regs = tuple(regs)
            if regs not in stated:
                row = np.zeros(n, dtype=np.int8)
                for name in regs:
                    j = keys.get(name)
                    if j is None:
                        unmatched.add(name)
                    else:
                        row[j] = 1
                stated[regs] = row
            member[i], said[i] = stated[regs], True
        # what the first answer named beyond its own platform, and the platforms answered
        # on later that it left out (before the union below, which the sets are)
        first = np.full(len(resp), -1)
        order = np.lexsort((ev_waves, ev_rows))          # by respondent, then wave
        rows_first, at = np.unique(ev_rows[order], return_index=True)
        first[rows_first] = np.where(known, ev_plat, -1)[order][at]
        own = np.zeros_like(member)
        has_first = first >= 0
        own[np.flatnonzero(has_first), first[has_first]] = 1
        named_platforms = float((member[said] & (1 - own[said])).sum())
        unnamed_answered = float((answered_on[said] & (1 - own[said])
                                  & (1 - member[said])).sum())
        member |= answered_on
        bit = 1 << np.arange(n, dtype=np.int64)
        code = member.astype(np.int64) @ bit
        index = {c: i for i, c in enumerate((subsets.astype(np.int64) @ bit).tolist())}
        rows = np.flatnonzero(said & (code > 0))
        subset_idx[rows] = [index[c] for c in code[rows].tolist()]
        answer_platforms = np.zeros((len(subsets), n_post * n_plat))
        counted = known & (subset_idx[ev_rows] >= 0)
        np.add.at(answer_platforms, (subset_idx[ev_rows[counted]], column[counted]), 1.0)
    hours = resp["hours"].to_numpy(dtype=float) if "hours" in resp else np.full(len(resp), np.nan)
    band = np.where(np.isnan(hours), N_HOUR_BANDS - 1,
                    np.searchsorted(HOUR_EDGES, np.nan_to_num(hours), side="right") - 1)
    said_none = subset_idx < 0 if subsets is not None and len(subsets) else np.zeros(
        len(resp), dtype=bool)
    blank = np.zeros(answers_on.shape[1], dtype=np.int32).tobytes()
    # IDs per platform: each respondent's answers come from the one platform they name
    per_platform = bool(subsets is not None and len(subsets) and responses.ids_per_platform)
    own_platform = ((answers_on.reshape(len(resp), n_post, n_plat).sum(axis=1) > 0).argmax(
        axis=1) if per_platform else np.zeros(len(resp), dtype=int))
    started = _started_codes(study, resp)
    frame = pd.DataFrame({"pattern": [row.tobytes() for row in matrix], "report": report,
                          "subset": subset_idx, "hours": band, "platform": own_platform,
                          "started": started,
                          "answers": [row.tobytes() if unsaid or answers_for_all else blank
                                      for row, unsaid in zip(answers_on, said_none,
                                                             strict=True)]})
    grouped = frame.groupby(["pattern", "report", "subset", "answers", "hours", "platform",
                             "started"], sort=True).size()
    empty = np.zeros(t, dtype=np.int8).tobytes()
    pattern_keys = [empty] + sorted({k[0] for k in grouped.index} - {empty})
    pattern_pos = {k: i for i, k in enumerate(pattern_keys)}
    patterns = np.array([np.frombuffer(k, dtype=np.int8) for k in pattern_keys])
    g = grouped.reset_index(name="count")
    starts, reference_days = _schedule(study, t)
    return CaptureData(
        patterns=patterns,
        group_pattern=g["pattern"].map(pattern_pos).to_numpy(np.int32),
        group_report=g["report"].to_numpy(np.int32),
        group_subset=g["subset"].to_numpy(np.int32),
        group_answers=np.array([np.frombuffer(b, dtype=np.int32) for b in g["answers"]],
                               dtype=np.int32).reshape(len(g), answers_on.shape[1]),
        group_count=g["count"].to_numpy(np.float64),
        group_hours=g["hours"].to_numpy(np.int32),
        wave_days=_wave_days(study, t),
        occasions=occasions,
        n_captured=int(len(resp)),
        unmatched_platforms=tuple(sorted(x for x in unmatched if x)),
        wave_starts=starts,
        reference_days=reference_days,
        # a stated share of workers who come and go carries them whatever the waves span
        churn=(True if study.experiment.churn == "auto" and study.assumptions.turnover_stated
               else study.experiment.churn),
        take_up_slope=study.experiment.take_up_slope,
        registration_classes=study.experiment.registration_classes,
        answer_platforms=answer_platforms,
        hours_step=recording_step(hours),
        names_platforms=bool(known.any()),
        wave_posted=wave_posted,
        wave_class=wave_class,
        failed_answers=_failed_answers(responses),
        per_platform_ids=per_platform,
        named_platforms=named_platforms,
        unnamed_answered=unnamed_answered,
        group_platform=g["platform"].to_numpy(np.int32),
        group_started=g["started"].to_numpy(np.int32),
        start_days=(resp["started"].to_numpy(dtype=float)[started == 1]
                    if (started == 1).any() else None),
        reference_start=(study.experiment.schedule.reference_start
                         if study.experiment.schedule is not None else None),
    )


def start_answers_unread(study: Study) -> str | None:
    """Why the joint model cannot read the respondents' answers on when they began
    micro-work, whatever they are (None where it can): a population held closed, or no
    wave dates to place them against."""
    exp = study.experiment
    if exp.churn is False:
        return "the study holds the population closed (experiment.churn = false)"
    if exp.schedule is None or not exp.schedule.wave_starts:
        return ("the study gives no experiment.schedule.wave_starts to place them against: "
                "give the waves' start days")
    return None


def _started_codes(study: Study, resp: pd.DataFrame) -> np.ndarray:
    """Each respondent's answer on when they began micro-work: -1 not said (or not read:
    :func:`start_answers_unread`, or a date with no first day of the period), 0 before the
    reference period, 1 during it."""
    if "started" not in resp or start_answers_unread(study) is not None:
        return np.full(len(resp), -1)
    days = resp["started"].to_numpy(dtype=float)
    return np.where(np.isfinite(days), (days > 0).astype(int), -1)


def _failed_answers(responses: Responses) -> np.ndarray:
    """The frequency answers of those who failed the attention check, counted in the
    order of the model's reports (zeros when no check was read)."""
    counts = np.zeros(len(REPORT_CATEGORIES))
    if responses.attention_read:
        for category, n in responses.failed_answers.items():
            counts[REPORT_INDEX[category]] += n
    return counts


#: Inputs the joint model can be fitted without (``crowdcensus validate --set-aside``).
SETTABLE_ASIDE = ("hours", "declared", "audience")


def with_take_up_slope(data: SynthesisData, slope: bool) -> SynthesisData:
    """The same data with the joint model's take-up slope on or off (the capture
    histories' ``take_up_slope``)."""
    return replace(data, capture=replace(data.capture, take_up_slope=slope))


def checked_aside(inputs: Sequence[str]) -> tuple[str, ...]:
    """``inputs`` as a tuple, or an :class:`InputError` naming those that cannot be set
    aside."""
    unknown = sorted(set(inputs) - set(SETTABLE_ASIDE))
    if unknown:
        raise InputError(f"cannot set aside {', '.join(unknown)}: the joint model's inputs "
                         f"that can be are {', '.join(SETTABLE_ASIDE)}")
    return tuple(inputs)


def set_aside(data: SynthesisData, inputs: Sequence[str]) -> SynthesisData:
    """``data`` without some of its inputs: the respondents' ``hours`` (as if nobody gave
    them), the ``declared`` registrations or the web ``audience`` (as if no platform had
    the figure). What each input does to the joint model's figures is their difference
    with every input in.

    >>> d = SynthesisData(("a",), np.array([900.0]), np.array([0.1]), np.array([400.0]),
    ...                   np.array([0.2]), np.ones(1, bool), np.zeros((0, 1)), True, None)
    >>> set_aside(d, ["declared"]).declared, set_aside(d, ["declared"]).audience
    (array([nan]), array([400.]))
    """
    inputs = checked_aside(inputs)
    if "declared" in inputs:
        data = replace(data, declared=np.full_like(data.declared, np.nan))
    if "audience" in inputs:
        data = replace(data, audience=np.full_like(data.audience, np.nan))
    if "hours" in inputs and data.capture is not None:
        cap = data.capture
        data = replace(data, capture=replace(cap, group_hours=np.full_like(
            cap.group_hours, N_HOUR_BANDS - 1)))
    return data


def synthesis_data(study: Study, responses: Responses | None = None) -> SynthesisData:
    """The joint model's inputs for ``study`` (and its responses, if any)."""
    n = len(study.platforms)
    declared = np.array([p.declared.value if p.declared else np.nan for p in study.platforms])
    declared_sd = np.array([log_sd(p.declared) for p in study.platforms])
    audience = np.array([p.audience.visitors.value if p.audience else np.nan
                         for p in study.platforms])
    audience_sd = np.array([log_sd(p.audience.visitors if p.audience else None)
                            for p in study.platforms])
    has_lists = responses is not None and \
        responses.respondents["registered"].map(lambda r: bool(r)).any()
    aggregate = not has_lists
    if not aggregate and n > MAX_PLATFORMS:
        raise InputError(f"the joint model handles at most {MAX_PLATFORMS} platforms "
                         f"(the study has {n})")
    subsets = all_subsets(n) if not aggregate else np.zeros((0, n), dtype=np.int8)
    capture = None
    posted = np.ones(n, dtype=bool)
    omission = None
    if responses is not None:
        keys = platform_keys(study)
        named = responses.events["platform"].astype(str).str.strip().str.lower()
        stray = ~named.isin(list(keys))
        if not stray.all():
            seen = set(named[~stray].map(keys))
            posted = np.array([j in seen for j in range(n)])
        # else platforms not named: taken as posted everywhere
        wave_posted, _ = _wave_postings(study, tuple(responses.histories.occasions))
        if wave_posted is not None:
            posted = wave_posted.any(axis=0)
        if not aggregate and n > 1 and (not posted.all() or
                                        (wave_posted is not None and len(wave_posted) > 1)):
            # where the sets say whom the waves could reach, a platform left out of one
            # matters; each respondent's sum over the sets that hold theirs then reads the
            # platforms their answers went to (with IDs linked across platforms)
            omission = platform_omission_prior(study)
        capture = capture_data(study, responses, subsets if not aggregate else None,
                               answers_for_all=in_model(omission)
                               and not responses.ids_per_platform)
        if stray.any() and not stray.all():
            unlisted = ", ".join(x or "(blank)" for x in sorted(set(named[stray])))
            raise InputError(
                f"{study.responses_path()}: {int(stray.sum()):,} of {len(named):,} answers "
                f"were given on platforms the study file does not list ({unlisted}): list "
                "every platform the task was posted on under [[platforms]] (its declared and "
                "audience figures may be left out), or give a listed platform the `code` the "
                "responses use")
        if aggregate and capture.posting_varies:
            column = study.experiment.columns.registered_on or "registered_on"
            raise InputError(
                f"{study.responses_path()}: the waves were posted on different platforms "
                "(experiment.schedule.posted), but no respondent names the platforms they "
                f"are registered on ('{column}' holds counts or nothing), so the joint model "
                "cannot tell whom each wave could reach: ask respondents to name them, or "
                "estimate with the waves posted on the same platforms")
        if aggregate and not posted.all():
            # the workers of the other platforms are reached only through the platforms
            # respondents name (counted as reachable, they made every tier 24-35% low)
            on = [p.name for p, yes in zip(study.platforms, posted, strict=True) if yes]
            column = study.experiment.columns.registered_on or "registered_on"
            raise InputError(
                f"{study.responses_path()}: the task was posted on {len(on)} of the "
                f"{n} platforms ({', '.join(on)}), but no respondent names the platforms "
                f"they are registered on ('{column}' holds counts or nothing), so the joint "
                "model cannot reach the other platforms' workers: ask respondents to name "
                "them, or list only the platforms the task was posted on (the figures then "
                "count those platforms' workers)")
    shares: dict[str, tuple[float, float]] = {}
    share_base = "declared"
    exp = study.experiment
    if exp is not None and exp.shares:
        share_base = exp.share_base
        for tier, q in exp.shares.items():
            lo, hi = q.range
            logit = np.log(q.value / (1 - q.value))
            sd = (np.log(hi / (1 - hi)) - np.log(lo / (1 - lo))) / 4 if hi > lo else 0.02
            shares[tier] = (float(logit), float(max(sd, 0.02)))
    priors = study_priors(study)
    if omission is not None:
        if omission.kind == "fixed" and omission.params[0] >= 1 and capture.named_platforms:
            raise InputError(
                "assumptions.platform_omission: a chance of 1 says that respondents leave out "
                f"every platform they hold, but their first answers name "
                f"{capture.named_platforms:,.0f} beyond the one they answered on: give a "
                "chance below 1")
        priors = replace(priors, platform_omission=omission)
    if capture is not None and capture.models_churn and priors.arrival_share is None:
        priors = replace(priors, arrival_share=DEFAULT_ARRIVALS,
                         departure_share=(NO_DEPARTURES if capture.arrivals_only
                                          else DEFAULT_DEPARTURES))
    if capture is not None and capture.reads_start_answers:
        priors = replace(priors, start_misdated=start_misdated_prior(study))
    if capture is not None and priors.random_answers is None:
        # answers at random: a third as many as failed the attention check passed it; with
        # no check, the default; with a check nobody failed, none
        if responses is not None and responses.attention_read:
            derived = random_answers_prior(responses.inattentive, responses.n_respondents)
        else:
            derived = DEFAULT_RANDOM_ANSWERS
        if derived is not None:
            priors = replace(priors, random_answers=derived)
    return SynthesisData(
        platforms=tuple(p.name for p in study.platforms), declared=declared,
        declared_sd=declared_sd, audience=audience, audience_sd=audience_sd, posted=posted,
        subsets=subsets, aggregate=aggregate, priors=priors, capture=capture,
        shares=shares, share_base=share_base,
        declared_window=np.array([np.nan if p.declared_active_days is None
                                  else float(p.declared_active_days)
                                  for p in study.platforms]),
        reference_days=study.reference_days,
        declared_day=np.array([np.nan if p.declared_day is None else float(p.declared_day)
                               for p in study.platforms]))
