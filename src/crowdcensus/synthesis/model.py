"""The joint model of the three methods (NumPyro): one latent population, three observations.

:func:`joint_model` draws the latent population
(:func:`~crowdcensus.synthesis.population.latent_population`: the workers, their
activity, their registrations, churn) and lets each method add its
observation model:

* :class:`~crowdcensus.methods.declared.DeclaredRegistrations` — declared
  registrations = registered workers x (dormant accounts, inflation), biases
  that can only overstate;
* :class:`~crowdcensus.methods.audience.WebAudience` — monthly unique
  visitors = workers who visit in the month x visitors per person / worker
  share;
* :class:`~crowdcensus.methods.experiment.TaskExperiment` — the capture
  histories across waves, the answers (with misreporting) and the platforms
  of the respondents;
* the published tier shares of an experiment whose responses are not given
  (the France 2018 example).

:func:`model_inputs` turns :class:`~crowdcensus.synthesis.data.SynthesisData`
into the model's static configuration (:class:`ModelConfig`, what changes the
compiled program) and arrays (what does not). Sizes are padded to round
numbers so that data sets of similar size share one compiled program.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from crowdcensus.synthesis.activity import (
    N_BINS,
    TAIL_SCALE,
    bin_band,
    bin_category,
    bin_log_widths,
    bin_points,
    bin_rates,
)
from crowdcensus.synthesis.data import N_HOUR_BANDS, SynthesisData, true_hour_edges
from crowdcensus.synthesis.priors import in_model

#: Gauss--Hermite nodes for the individual heterogeneity of take-up.
HETEROGENEITY_NODES = 5
#: ...and where the fitted spread is wide: above :data:`WIDE_HETEROGENEITY` (on the logit
#: scale) five nodes misstate the share never caught (by 6% at a spread of 2 and a
#: take-up of 0.3; fifteen by 0.2%), so the fit is made again with this many
#: (docs/validation-notebook.md, "Take-up that varies from person to person").
HETEROGENEITY_NODES_WIDE = 15
WIDE_HETEROGENEITY = 1.25
#: Largest (histories x platform sets x answers x bins) for the dense likelihood.
DENSE_LIMIT = 4_000_000
#: Up to this many waves, every possible history is enumerated (for the predictive checks).
ALL_PATTERNS_UP_TO = 8


@dataclass(frozen=True)
class ModelConfig:
    """The static structure of a study's model."""

    has_capture: bool
    aggregate: bool
    n_platforms: int
    declared_mask: tuple[bool, ...]
    audience_mask: tuple[bool, ...]
    priors: tuple[tuple[str, str], ...]
    stated_multihoming: bool
    shares: tuple[str, ...]
    share_base: str
    has_unknown_subsets: bool = False
    dense: bool = False
    churn: bool = False
    has_hours: bool = False
    visit_weights: bool = False
    posted_on_subset: bool = False
    posting_varies: bool = False
    #: Respondents whose answer is not known (a fifth report, alike for every rate).
    unknown_reports: bool = False
    #: Answers at random spread over the four by shares the model estimates (from the
    #: histories and the answers of those who failed the attention check).
    random_answer_shares: bool = False
    #: Each respondent is one worker's answers on one platform (IDs per platform): the
    #: capture histories are those of (worker, platform) pairs.
    per_platform_ids: bool = False
    #: Respondents may leave out platforms they hold (``platform_omission``): their named
    #: set is summed over the sets that contain it.
    platform_omission: bool = False
    #: Two classes of independent registrations (:func:`registration_classes`).
    registration_classes: bool = False
    #: Per platform, whether its declared figure counts the accounts active in a window
    #: at the end of the reference period (``declared_active_days``) and not registrations.
    declared_active: tuple[bool, ...] = ()
    #: Whether some platform's declared figure was taken before the period's last day.
    declared_early: bool = False
    #: Whether respondents' answers on when they began micro-work enter the histories'
    #: chances (rows of their own: :func:`_started_rows`; churn modelled).
    started: bool = False
    #: Whether some of those there from the period's start say they began during it
    #: (``assumptions.start_misdated`` stated above 0).
    start_misdated: bool = False


def _round_up(n: int, step: int) -> int:
    return int(-(-n // step) * step)


def _bucket(n: int, least: int = 32) -> int:
    """The smallest of ``least``, then alternately half as much again and a third more
    (32, 48, 64, 96, 128, 192...), that holds ``n``: sizes that vary a little from one
    data set to the next (replicates of one scenario) fall in one size, so one compiled
    program serves them, for at most half again the rows.

    >>> [_bucket(n) for n in (1, 32, 33, 49, 100, 2500)]
    [32, 32, 48, 64, 128, 3072]
    """
    size = least
    while size < n:
        size = size // 2 * 3 if size & (size - 1) == 0 else size // 3 * 4
    return size


def _pad_rows(x: np.ndarray, target: int, fill: float = 0.0) -> np.ndarray:
    extra = target - len(x)
    if extra <= 0:
        return x
    return np.concatenate([x, np.full((extra, *x.shape[1:]), fill, dtype=x.dtype)])


def use_dense(cells: int, groups: int) -> bool:
    """Whether the experiment's likelihood runs over a dense table of (history, platform
    set, answer, hours) cells rather than over the respondents' distinct groups: only when
    the table has no more cells than there are groups (a cell costs about what a group
    does; ``benchmarks/likelihood.py``). Both give the same posterior."""
    return cells <= groups and cells * N_BINS <= DENSE_LIMIT


def _pattern_size(n: int) -> int:
    return (1 << int(np.ceil(np.log2(max(n, 2))))) if n <= 256 else _round_up(n, 256)


def visit_weights(data: SynthesisData) -> bool:
    """Whether the model estimates how workers split visits over platforms: more than one
    platform, and respondents who say where they are registered (the platforms they
    answered on, and their capture rates when the task was posted on some platforms only,
    tell the split)."""
    return data.capture is not None and not data.aggregate and data.n_platforms > 1


def posted_on_subset(data: SynthesisData) -> bool:
    """Whether some workers are out of the experiment's reach: the task was posted on some
    platforms only, and respondents say where they are registered."""
    return visit_weights(data) and not bool(data.posted.all())


#: The outer edges of the bands of hours, in hours per week (the model reads their logs):
#: finite, so that the gradient of the bands' chances stays finite, and far enough out
#: that no worker's hours fall beyond them (the first band, "0", holds every figure below
#: its top).
#: Clipped at 1e-3 hours (3.6 s a week) instead, the first band lost the answers of 0
#: below it: with hours given to a factor of e^2 (log-scale spread 2), 4.5% of the
#: rarest workers' answers, and the occasional tier of `heterogeneous` was 8.8% low
#: with 7 of 20 intervals covering (docs/validation-notebook.md, "One field at a time").
HOUR_EDGE_FLOOR, HOUR_EDGE_CEILING = 1e-12, 1e12


def log_hour_edges(step: float) -> np.ndarray:
    """The log of :func:`~crowdcensus.synthesis.data.true_hour_edges`, the first and last
    edges (0 and infinity) at :data:`HOUR_EDGE_FLOOR` and :data:`HOUR_EDGE_CEILING`.

    >>> log_hour_edges(0.1)[[0, 1, -1]].round(2).tolist()
    [-27.63, -3.0, 27.63]
    """
    return np.log(np.clip(true_hour_edges(step), HOUR_EDGE_FLOOR, HOUR_EDGE_CEILING))


def registration_classes(data: SynthesisData) -> bool:
    """Whether the workers who hold platforms independently form two classes: wherever
    some workers are out of the experiment's reach (:func:`posted_on_subset`), the only
    place the model reads them, unless the study says ``experiment.registration_classes =
    false``."""
    return posted_on_subset(data) and data.capture.registration_classes is not False


def posting_varies(data: SynthesisData) -> bool:
    """Whether the waves were posted on different platforms (so that a worker's chance of
    seeing the task varies by wave with where they are registered), with respondents who
    say where they are registered."""
    return visit_weights(data) and data.capture.posting_varies


def unknown_reports(data: SynthesisData) -> bool:
    """Whether some respondents' answer is not known (they failed the attention check)."""
    from crowdcensus.synthesis.activity import REPORT_UNKNOWN

    return data.capture is not None and bool((data.capture.group_report
                                              == REPORT_UNKNOWN).any())


def random_answer_shares(data: SynthesisData) -> bool:
    """Whether the model estimates how answers given at random spread over the four
    frequencies: whenever answers may be given at random (``random_answers``). The
    answers of those who failed the attention check, given without reading, are draws
    of that spread; the histories tell it too (a respondent who says "several times a
    week" and answers one wave in six is unlikely unless the answer is random)."""
    return data.capture is not None and in_model(data.priors.random_answers)


def leaves_out_platforms(data: SynthesisData) -> bool:
    """Whether the model lets respondents leave out platforms they hold when they name
    them: where the task was posted on some platforms only, unless the study states a
    chance of 0 (``assumptions.platform_omission``)."""
    return in_model(data.priors.platform_omission)


def omission_sets(data: SynthesisData) -> bool:
    """Whether respondents who name their set may have left out platforms they hold, with
    IDs linked across platforms: every respondent's terms are then sums over sets."""
    return (data.capture is not None and leaves_out_platforms(data)
            and not data.aggregate and not per_platform_ids(data))


def per_platform_ids(data: SynthesisData) -> bool:
    """Whether the respondents are (worker, platform) pairs: the IDs are per platform
    (:attr:`~crowdcensus.synthesis.data.CaptureData.per_platform_ids`) and respondents
    say where they are registered, so that each pair's chance of answering there can
    be modelled."""
    return visit_weights(data) and data.capture.per_platform_ids


def within_arrays(subsets: np.ndarray, platform: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """For each pair of sets (U, S): whether ``S`` contains ``U`` (and, with ``platform``,
    one per row, the two rows have the same platform) and how many platforms ``S`` has
    beyond ``U``.

    >>> within, extra = within_arrays(np.array([[1, 0], [0, 1], [1, 1]]))
    >>> within.tolist()
    [[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [0.0, 0.0, 1.0]]
    >>> extra.tolist()
    [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]
    """
    s = np.asarray(subsets, dtype=float)
    within = ((s @ (1.0 - s).T) == 0).astype(float)        # the platforms of U all in S
    if platform is not None:
        within *= (platform[:, None] == platform[None, :])
    extra = np.maximum(s.sum(axis=1)[None, :] - s.sum(axis=1)[:, None], 0.0) * within
    return within, extra


def unit_arrays(subsets: np.ndarray, posted: np.ndarray) -> dict[str, np.ndarray]:
    """The (set, platform) pairs a wave can reach, with IDs per platform: a platform of the
    set posted in some wave. ``unit_subset`` and ``unit_platform`` list them; ``unit_index``
    (S, J) gives each pair's position (0 for a pair no wave reaches, which no respondent
    can be).

    >>> u = unit_arrays(np.array([[1, 0], [1, 1]]), np.array([[1.0, 1.0]]))
    >>> u["unit_subset"].tolist(), u["unit_platform"].tolist(), u["unit_index"].tolist()
    ([0, 1, 1], [0, 0, 1], [[0, 0], [1, 2]])
    """
    reach = (np.asarray(subsets) > 0) & (np.atleast_2d(posted) > 0).any(axis=0)[None, :]
    sub, plat = np.nonzero(reach)
    index = np.zeros(reach.shape, dtype=np.int32)
    index[sub, plat] = np.arange(len(sub))
    return {"unit_subset": sub.astype(np.int32), "unit_platform": plat.astype(np.int32),
            "unit_index": index}


def _started_rows(cap, patterns: np.ndarray, group_pattern: np.ndarray,
                  every_arrival: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The histories' rows with a row more for each (history, answer on when its
    respondents began) that some group gives: the history's chance with the worker's stay
    starting at the period's start, or after it. With ``every_arrival`` (the predictive
    checks, ``patterns`` every history), every history has its row of a stay that began
    during the period, whether or not a respondent gave it. Returns the rows, each group's
    row and each row's answer (-1 for the history alone)."""
    base = np.full(len(patterns), -1, dtype=np.int32)
    if not cap.reads_start_answers:
        return patterns, group_pattern, base
    started = cap.group_started
    rows, codes = [patterns], [base]
    group_pattern = group_pattern.copy()
    n = len(patterns)
    for code in (0, 1):
        said = started == code
        used = (np.arange(len(patterns)) if code == 1 and every_arrival
                else np.unique(group_pattern[said]))
        if not len(used):
            continue
        where = np.searchsorted(used, group_pattern[said])
        group_pattern[said] = n + where
        rows.append(patterns[used])
        codes.append(np.full(len(used), code, dtype=np.int32))
        n += len(used)
    return np.concatenate(rows), group_pattern, np.concatenate(codes)


def _rows_read(patterns: np.ndarray, group_pattern: np.ndarray, row_started: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows some group reads, and the first (the empty history, whose chance gives the
    workers never seen), with each group's row among them."""
    keep = np.zeros(len(patterns), dtype=bool)
    keep[0] = True
    keep[group_pattern] = True
    index = np.cumsum(keep) - 1
    return patterns[keep], index[group_pattern], row_started[keep]


def every_history_rows(data: SynthesisData) -> bool:
    """Whether the fit's rows leave out histories no respondent gave, which only the
    predictive checks read (:func:`check_rows`): where respondents say when they began,
    every history's row beside their rows made the rows up to twice as many as those
    read, and a gradient 40% dearer (IDs per platform, 1,500 workers: 4.6 ms against
    3.3)."""
    cap = data.capture
    return cap is not None and cap.n_waves <= ALL_PATTERNS_UP_TO and cap.reads_start_answers


def _capture_arrays(data: SynthesisData, arrays: dict, checks: bool = False
                    ) -> tuple[bool, bool, bool, bool]:
    """Add the experiment's arrays; return (dense, unknown subsets, churn, hours). With
    ``checks``, the rows are every history's, for the predictive checks, where the fit's
    may be only those read (:func:`every_history_rows`)."""
    cap = data.capture
    t = cap.n_waves
    patterns = cap.patterns
    group_pattern = cap.group_pattern
    all_patterns = t <= ALL_PATTERNS_UP_TO
    if all_patterns:  # every history, the empty one first, so predictive checks are complete
        full = np.array(list(itertools.product((0, 1), repeat=t)), dtype=np.int8)
        index = {row.tobytes(): i for i, row in enumerate(full)}
        group_pattern = np.array([index[patterns[p].tobytes()] for p in group_pattern])
        patterns = full
    churn = cap.models_churn
    patterns, group_pattern, row_started = _started_rows(cap, patterns, group_pattern,
                                                         checks and all_patterns)
    # the rows the fit reads: the table's size is theirs in either case, so that the fit
    # and the checks take the same path
    n_read = len(patterns)
    if every_history_rows(data):
        read = _rows_read(patterns, group_pattern, row_started)
        n_read = len(read[0])
        if not checks:
            patterns, group_pattern, row_started = read
            all_patterns = False
    pat = patterns.astype(float)
    n_pat = len(pat)
    # (the rows of those who said when they began: to the nearest of the sizes that
    # replicates share, not to a power of 2, which made them up to twice as many)
    size = _bucket(n_pat) if cap.reads_start_answers else _pattern_size(n_pat)
    # each row's answer on when its respondents began (-1: the history alone, any stay;
    # 0 present from the period's start; 1 arrived during it), and the rows that are the
    # histories alone, which the predictive checks count
    arrays["row_started"] = _pad_rows(row_started, size, -1)
    arrays["row_any"] = _pad_rows((row_started < 0).astype(float), size)
    arrays["all_patterns"] = np.array(1.0 if all_patterns else 0.0)
    # 1: the take-up slope, the chance of seeing the task held at 1; 0: the reverse. Data
    # rather than structure, so that both models run one compiled program
    arrays["slope_on"] = np.array(1.0 if cap.take_up_slope is True else 0.0)
    arrays["H"] = _pad_rows(pat, size)
    arrays["C"] = _pad_rows((np.cumsum(pat, axis=1) - pat > 0).astype(float), size)
    caught = pat > 0
    first = np.where(caught.any(axis=1), caught.argmax(axis=1), t)
    last = np.where(caught.any(axis=1), t - 1 - caught[:, ::-1].argmax(axis=1), -1)
    arrays["first_caught"] = _pad_rows(first.astype(np.int32), size, t)
    arrays["last_caught"] = _pad_rows(last.astype(np.int32), size, -1)
    arrays["wave_days"] = cap.wave_days
    arrays["n_captured"] = np.array(float(cap.n_captured))
    if cap.wave_starts is not None:
        mids = np.asarray(cap.wave_starts) + cap.wave_days / 2
        arrays["wave_mid"] = mids
        arrays["reference_days"] = np.array(float(cap.reference_days))

    known = cap.group_subset >= 0
    # where respondents may leave out platforms they hold (IDs linked across platforms),
    # everyone's terms are sums over the sets that could be theirs, as for those who say
    # nothing of their set: the sets holding the one they name, each with the chance of
    # leaving the rest out and of answering where they did
    omitted = omission_sets(data)
    if omitted:
        known = np.zeros(len(cap.group_count), dtype=bool)
    unknown = bool((~known).any()) and not data.aggregate
    if data.aggregate:
        known = np.ones(len(cap.group_count), dtype=bool)
    n_sub = max(len(data.subsets), 1)
    has_hours = bool((cap.group_hours < N_HOUR_BANDS - 1).any())
    n_hours = N_HOUR_BANDS if has_hours else 1
    hours = cap.group_hours if has_hours else np.zeros_like(cap.group_hours)
    # the answers are rounded: each band holds the true hours that round into it
    arrays["hour_edges"] = log_hour_edges(cap.hours_step)
    k = _round_up(max(int(known.sum()), 1), 256)
    n_reports = 5 if unknown_reports(data) else 4
    cells = n_read * n_sub * n_reports * n_hours
    dense = ((not data.aggregate) and not per_platform_ids(data) and not omitted
             and use_dense(cells, k))
    if dense:
        counts = np.zeros((n_pat, n_sub, n_reports, n_hours))
        np.add.at(counts, (group_pattern[known], np.maximum(cap.group_subset[known], 0),
                           cap.group_report[known], hours[known]), cap.group_count[known])
        arrays["counts"] = _pad_rows(counts, size)
    else:
        arrays["k_pattern"] = _pad_rows(group_pattern[known].astype(np.int32), k)
        arrays["k_report"] = _pad_rows(cap.group_report[known].astype(np.int32), k)
        arrays["k_count"] = _pad_rows(cap.group_count[known], k)
        arrays["k_subset"] = _pad_rows(np.maximum(cap.group_subset[known], 0).astype(np.int32),
                                       k)
        arrays["k_hours"] = _pad_rows(hours[known].astype(np.int32), k)
        if per_platform_ids(data):
            arrays["k_platform"] = _pad_rows(cap.group_platform[known].astype(np.int32), k)
    if unknown:
        sel = ~known
        k = _bucket(int(sel.sum()))
        # their sum over sets depends on their history and their answers' platforms only:
        # taken once per distinct pair of the two ("combination"), then paired with each
        # group's answer and hours as the other respondents' rows are
        index: dict[tuple[int, bytes, int], int] = {}
        code = np.array([index.setdefault(key, len(index)) for key in
                         zip(group_pattern[sel].tolist(), map(bytes, cap.group_answers[sel]),
                             cap.group_subset[sel].tolist(), strict=True)], dtype=np.int32)
        distinct = list(index)
        c = _bucket(len(distinct) + 1)           # a row past the last for padding below
        answers = np.array([np.frombuffer(b, dtype=cap.group_answers.dtype)
                            for _, b, _ in distinct], dtype=float)
        subsets = data.subsets.astype(float)
        # the sets that hold every platform the combination answered on (in any posting)
        on = answers.reshape(len(answers), -1, subsets.shape[1]).sum(axis=1) > 0
        mask = (on.astype(float) @ (1.0 - subsets.T) == 0).astype(float)
        if omitted:   # and, for a set named, the sets that hold it, with their extra platforms
            named = np.array([s for _, _, s in distinct])
            within, extra = within_arrays(subsets)
            said = named >= 0
            mask[said] = within[named[said]]
            arrays["c_extra"] = _pad_rows(np.where(said[:, None], extra[np.maximum(named, 0)],
                                                   0.0), c)
        arrays["c_pattern"] = _pad_rows(np.array([p for p, _, _ in distinct], dtype=np.int32),
                                        c)
        if per_platform_ids(data):  # the one platform a combination answered on
            arrays["c_platform"] = _pad_rows(on.argmax(axis=1).astype(np.int32), c)
        arrays["c_answers"] = _pad_rows(answers, c)
        arrays["c_mask"] = _pad_rows(mask, c, 1.0)
        if not per_platform_ids(data):
            # the (combination, set) pairs the sums run over, listed: a combination whose
            # respondents name their set sums over the few sets that hold it (a quarter of
            # the 31 of five platforms, on `subset`), so the list is shorter than the table;
            # the padding rows, which no group reads, get one set each (their sums stay
            # finite), and the list's own padding goes to the last of them
            pair_combo, pair_set = np.nonzero(mask)
            pad = np.arange(len(distinct), c)
            pair_combo = np.concatenate([pair_combo, pad])
            pair_set = np.concatenate([pair_set, np.zeros(len(pad), dtype=pair_set.dtype)])
            m = _bucket(len(pair_combo), 1024)
            arrays["p_combo"] = _pad_rows(pair_combo.astype(np.int32), m, c - 1)
            arrays["p_set"] = _pad_rows(pair_set.astype(np.int32), m)
        arrays["u_combo"] = _pad_rows(code, k)
        arrays["u_report"] = _pad_rows(cap.group_report[sel].astype(np.int32), k)
        arrays["u_count"] = _pad_rows(cap.group_count[sel], k)
        arrays["u_hours"] = _pad_rows(hours[sel].astype(np.int32), k)
    return dense, unknown, churn, has_hours


def heterogeneity_arrays(nodes: int = HETEROGENEITY_NODES) -> dict[str, np.ndarray]:
    """The Gauss--Hermite nodes and log weights over which the take-up's individual
    heterogeneity is integrated (the only arrays that change with ``nodes``)."""
    z, weights = np.polynomial.hermite_e.hermegauss(nodes)
    return {"het_nodes": z, "het_logw": np.log(weights / weights.sum())}


def model_inputs(data: SynthesisData) -> tuple[ModelConfig, dict[str, np.ndarray]]:
    """The static configuration and the arrays of the model for ``data``."""
    arrays: dict[str, np.ndarray] = {
        "lam": bin_rates(),
        "log_width": bin_log_widths(),
        "bin_cat": bin_category().astype(np.int32),
        "bin_band": bin_band().astype(np.int32),
        "declared": np.log(np.where(np.isnan(data.declared), 1.0, data.declared)),
        "declared_sd": data.declared_sd,
        "audience": np.log(np.where(np.isnan(data.audience), 1.0, data.audience)),
        "audience_sd": data.audience_sd,
    }
    active, early = data.declares_active, data.declares_early
    if active.any() or early.any():
        window = np.where(active, data.declared_window, 0.0)
        taken = data.declared_taken / data.reference_days
        arrays["declared_weeks"] = window / 7.0
        arrays["window_start"] = taken - window / data.reference_days
        arrays["declared_taken"] = taken
    from crowdcensus.synthesis.population import RARE_RATE, RARE_SMOOTHNESS, SMOOTHNESS

    centre = bin_rates()[1:-1]          # the bin at the middle of each second difference
    arrays["smoothness"] = np.where(centre < RARE_RATE, RARE_SMOOTHNESS, SMOOTHNESS)
    arrays.update(heterogeneity_arrays())
    if not data.aggregate:
        subsets = data.subsets.astype(float)
        size = subsets.sum(axis=1)
        share = (subsets * data.posted[None, :]).sum(axis=1) / size
        values = np.unique(share[share > 0])
        arrays["subsets"] = subsets
        arrays["subset_size"] = size
        arrays["share_values"] = values if len(values) else np.array([1.0])
        arrays["subset_share_class"] = np.array(
            [int(np.searchsorted(values, s)) if s > 0 else -1 for s in share], dtype=np.int32)
        arrays["subset_reached"] = (share > 0).astype(float)
        # the platforms each posting (a set of platforms some waves were posted on) reached
        cap = data.capture
        arrays["posted"] = (cap.wave_posted.astype(float) if cap is not None and
                            cap.wave_posted is not None else data.posted[None, :].astype(float))
        if cap is not None:
            arrays["wave_class"] = cap.wave_class.astype(np.int32)
        if posted_on_subset(data) or posting_varies(data):
            # each set's share of visits to posted platforms varies
            arrays["subset_share_class"] = np.where(share > 0, np.arange(len(share)), -1
                                                    ).astype(np.int32)
    else:
        arrays["share_values"] = np.array([1.0])
    dense = unknown = churn = hours = started = False
    if data.capture is not None:
        dense, unknown, churn, hours = _capture_arrays(data, arrays)
        started = data.capture.reads_start_answers
        if random_answer_shares(data):
            arrays["failed_answers"] = np.asarray(data.capture.failed_answers, dtype=float)
        if visit_weights(data):
            # with sums over sets, where each respondent answered is in their own terms
            arrays["answer_platforms"] = (np.zeros_like(data.capture.answer_platforms)
                                          if omission_sets(data)
                                          else data.capture.answer_platforms)
        if per_platform_ids(data):
            arrays.update(unit_arrays(arrays["subsets"], arrays["posted"]))
        if leaves_out_platforms(data):
            cap = data.capture
            arrays["named_platforms"] = np.array(cap.named_platforms)
            arrays["unnamed_answered"] = np.array(cap.unnamed_answered)
            if per_platform_ids(data):
                arrays["unit_within"], arrays["unit_extra"] = within_arrays(
                    arrays["subsets"][arrays["unit_subset"]], arrays["unit_platform"])
    # the bin of each rate at which the experiment is evaluated: with hours, the open bin's
    # at 3 visits a week and over a tail (activity.bin_points); without, one rate per bin
    point_bin = bin_points()[1] if hours else np.arange(N_BINS)
    arrays["point_bin"] = point_bin.astype(np.int32)
    for p in data.priors.all():
        arrays[f"prior:{p.name}"] = np.asarray(p.params, dtype=float)
    for tier, (mu, sd) in data.shares.items():
        arrays[f"share_{tier}"] = np.array([mu, sd])
    cfg = ModelConfig(
        has_capture=data.capture is not None,
        aggregate=data.aggregate,
        n_platforms=data.n_platforms,
        declared_mask=tuple(bool(x) for x in ~np.isnan(data.declared)),
        audience_mask=tuple(bool(x) for x in ~np.isnan(data.audience)),
        priors=tuple((p.name, p.model_kind) for p in data.priors.all()),
        stated_multihoming=data.priors.multihoming is not None,
        shares=tuple(sorted(data.shares)),
        share_base=data.share_base,
        has_unknown_subsets=unknown,
        dense=dense,
        churn=churn,
        started=started,
        start_misdated=started and in_model(data.priors.start_misdated),
        has_hours=hours,
        visit_weights=visit_weights(data),
        posted_on_subset=posted_on_subset(data),
        posting_varies=posting_varies(data),
        unknown_reports=unknown_reports(data),
        random_answer_shares=random_answer_shares(data),
        per_platform_ids=per_platform_ids(data),
        platform_omission=leaves_out_platforms(data),
        registration_classes=registration_classes(data),
        declared_active=tuple(bool(x) for x in active) if active.any() else (),
        declared_early=bool(early.any()),
    )
    return cfg, arrays


def check_rows(data: SynthesisData) -> dict[str, np.ndarray]:
    """The arrays that the predictive checks read in place of the fit's: every history's
    rows where the fit's are only those some respondent gave (:func:`every_history_rows`);
    none otherwise."""
    rows: dict[str, np.ndarray] = {}
    if every_history_rows(data):
        _capture_arrays(data, rows, checks=True)
    return rows


def _observe_shares(cfg: ModelConfig, a: dict, bands) -> None:
    """Published tier shares (an experiment without responses) as observations."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    for tier in cfg.shares:
        mu_sd = a[f"share_{tier}"]
        if tier == "very_active":
            share = bands[0] if cfg.share_base == "declared" else bands[0] / (bands[0] + bands[1])
        else:
            share = bands[0] + bands[1]
        numpyro.sample(f"share_{tier}", dist.Normal(jnp.log(share) - jnp.log1p(-share),
                                                    mu_sd[1]), obs=mu_sd[0])


def joint_model(cfg: ModelConfig, a: dict) -> None:
    """The NumPyro model (see the module docstring). ``a``: the arrays of :func:`model_inputs`."""
    from crowdcensus.methods.audience import WebAudience
    from crowdcensus.methods.declared import DeclaredRegistrations
    from crowdcensus.methods.experiment import TaskExperiment
    from crowdcensus.synthesis.population import latent_population

    specs = {name: (name, kind, a[f"prior:{name}"]) for name, kind in cfg.priors}
    pop = latent_population(cfg, a, specs)
    for method in (DeclaredRegistrations, WebAudience, TaskExperiment):
        method.observe(cfg, a, pop, specs)
    _observe_shares(cfg, a, pop.bands)


def initial_values(cfg: ModelConfig, data: SynthesisData) -> dict[str, np.ndarray]:
    """A deterministic starting point (constrained values) for every latent site."""
    from crowdcensus.methods.declared import NONWORKER_SITES

    j = cfg.n_platforms
    g = N_BINS
    specs = {p.name: (p.name, p.kind, p.params) for p in data.priors.all()}

    def prior_centre(name: str, fallback: float) -> float:
        kind, params = specs[name][1], specs[name][2]
        if kind == "beta":
            return params[0] / (params[0] + params[1])
        if kind == "logitnormal":
            return float(1 / (1 + np.exp(-params[0])))
        return fallback

    v: dict[str, np.ndarray | float] = {
        "activity_log_counts": np.zeros(g),
        "registration_level": np.full(j, -1.0), "registration_activity": 0.0,
        "registration_activity_platform": np.zeros(j),
        # classes apart: at d = 0 the gradient in d is 0 (the classes are one)
        "registration_class_gap": np.full(j, 0.5), "registration_class_share": 0.25,
        "platform_split": np.full(j, 1.0 / j),
        **{f"{prefix}{site}": value for prefix in NONWORKER_SITES.values()
           for site, value in (("_platform", np.zeros(j)), ("_centre_z", 0.0))},
        "inflation_common_z": 0.0,
        "inflation_platform": np.zeros(j),
        "misreport": 0.05, "takeup_logit": 0.0, "takeup_sd": 0.3, "takeup_slope": 0.0,
        "log_sight": 0.0, "hours_per_visit_log": 0.4, "hours_sd": 0.5,
        "arrival_share": 0.1, "departure_share": 0.1, "visit_weights": np.full(j, 1.0 / j),
        "first_platform_path": np.append(np.full(j, 0.5 / j), 0.5),
    }
    for i in range(j):
        v[f"worker_share_{i}"] = prior_centre(f"worker_share_{i}", 0.8)
    for name in ("random_answers", "start_misdated"):
        if name in specs:
            v[name] = prior_centre(name, 0.02)
    if random_answer_shares(data):  # the failed answers' shares, one added to each
        failed = np.asarray(data.capture.failed_answers, dtype=float) + 1.0
        v["random_answer_shares"] = failed / failed.sum()
    for name in specs:  # the prior's median, for a parameter sampled through its quantile
        v[f"{name}_z"] = 0.0
    for name, prefix in NONWORKER_SITES.items():
        kind, params = specs.get(name, (name, "fixed", ()))[1:]
        if kind == "logitnormal":
            v[f"{prefix}_logit"] = params[0]
        elif kind == "beta":
            v[f"{prefix}_centre"] = params[0] / (params[0] + params[1])
    cap = data.capture
    if cap is not None:
        v["wave_effect"] = np.zeros(cap.n_waves)
        counts = np.bincount(cap.patterns[cap.group_pattern].sum(axis=1).astype(int),
                             weights=cap.group_count, minlength=3)
        f1, f2 = counts[1], counts[2]
        uncaught = f1 * f1 / (2 * f2) if f2 > 0 else max(f1, 1.0) * 2
        guess = cap.n_captured + 2.0 * max(uncaught, 1.0)
        if not data.aggregate:
            sub = data.subsets
            known = cap.group_subset >= 0
            if known.any():
                on = (sub[cap.group_subset[known]] * cap.group_count[known, None]).sum(axis=0)
                frac = np.clip(on / cap.group_count[known].sum(), 0.02, 0.98)
                v["registration_level"] = np.log(-np.log1p(-frac))
    else:
        decl = np.nansum(data.declared)
        aud = np.nansum(data.audience)
        guess = decl / 1.5 if decl > 0 else (aud * 3 if aud > 0 else 1000.0)
    if cfg.has_hours:
        v["top_rate_scale"] = TAIL_SCALE
        v["open_point_share"] = 0.5
    if cap is not None:
        v["activity_log_counts"] = np.full(g, np.log(guess / g))
    else:
        v["log_workers"] = float(np.log(guess))
        v["activity_shape"] = np.zeros(g - 1)
    return {k: np.asarray(x, dtype=float) for k, x in v.items()}
