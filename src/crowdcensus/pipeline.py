"""The whole pipeline for one study file: sources -> methods -> synthesis -> results.

1. **Sources**: the study file, the responses (:mod:`crowdcensus.sources`).
2. **Methods** on their own (:mod:`crowdcensus.methods`): the declared figures
   and the web audience by the 2018 arithmetic, the experiment by
   capture--recapture by band of answers, each with a Monte Carlo over its
   inputs' ranges.
3. **Synthesis** (:mod:`crowdcensus.synthesis`): the joint model of the three
   methods gives the combined tiers; the old inverse-variance combination is
   kept beside it as a named baseline.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from crowdcensus.errors import InputError, NotIdentifiableError
from crowdcensus.methods.experiment import (
    fit_capture,
    fit_capture_by_band,
    fit_capture_per_platform,
)
from crowdcensus.methods.montecarlo import Interval, run_methods, shares_table
from crowdcensus.sources.responses import Responses, read_responses
from crowdcensus.study import Study, load_study
from crowdcensus.synthesis.priors import in_model
from crowdcensus.synthesis.results import Results
from crowdcensus.tiers import TIERS

if TYPE_CHECKING:
    from crowdcensus.synthesis.data import SynthesisData


def _read(study: Study) -> tuple[Responses | None, object, str | None]:
    responses = capture = None
    fallback = None
    path = study.responses_path()
    if path is None:
        return None, None, None
    exp = study.experiment
    responses = read_responses(path, exp.columns.model_dump(), exp.answers,
                               country=study.study.country,
                               reference_start=exp.schedule.reference_start
                               if exp.schedule is not None else None)
    if study.assumptions.multihoming.value == "estimate" and \
            responses.respondents["n_registered"].isna().all():
        raise InputError(f"{path}: no respondent reports the platforms they are registered "
                         f"on ('{exp.columns.registered_on}'), so assumptions.multihoming "
                         "cannot be estimated")
    kept_away = study.assumptions.answer_again
    if kept_away is not None and kept_away.value == 0:
        twice = int(responses.histories.capture_frequencies()[1:].sum())
        if twice:
            raise InputError(f"assumptions.answer_again: 0 (past participants kept from the "
                             f"task), but {twice:,} respondent{'s' if twice > 1 else ''} "
                             "answered in more than one wave")
    occasions = list(responses.histories.occasions)
    per_platform = responses.ids_per_platform
    if per_platform:  # each platform's respondents apart, over its own waves
        from crowdcensus.synthesis.data import platform_keys, stated_postings

        keys, posted = platform_keys(study), stated_postings(study, responses)
    if exp.capture == "by_band":
        try:
            capture = (fit_capture_per_platform(responses.events, responses.respondents,
                                                occasions, True, keys, posted) if per_platform else
                       fit_capture_by_band(responses.events, responses.respondents, occasions))
        except NotIdentifiableError as exc:
            fallback = (f"{exc}: the experiment fell back to capture-recapture over all "
                        "respondents (pooled), which under-counts rarely caught workers")
    if capture is None and per_platform:
        try:
            capture = fit_capture_per_platform(responses.events, responses.respondents,
                                               occasions, False, keys, posted)
        except NotIdentifiableError as exc:
            fallback = ((fallback + "; then ") if fallback else "") + (
                f"{exc}: the experiment's own figures pool the platforms' respondents, "
                "counting a worker who answered on two platforms twice")
    if capture is None:
        try:
            capture = fit_capture(responses.histories)
        except NotIdentifiableError as exc:
            # nobody, or too few, answered twice (a platform that keeps past participants
            # from the task): no closed model reads the histories, but the joint model,
            # whose behavioural effect reads new answers apart from repeat ones, does
            fallback = ((fallback + "; then ") if fallback else "") + (
                f"{exc}: the experiment gives no figure of its own; the joint model reads "
                "its histories through the decline of new respondents from wave to wave "
                "and the other sources")
    return responses, capture, fallback


def nobody_twice_warning(study: Study, responses: Responses | None) -> str | None:
    """A warning when no respondent answered in more than one wave and the study leaves the
    odds of answering again to its default prior: it then rests on that prior's lower tail,
    and a study whose platform kept past participants away can say so."""
    if responses is None or study.assumptions.answer_again is not None:
        return None
    h = responses.histories
    if h.t < 2 or h.capture_frequencies()[1:].any():
        return None
    return (f"none of the {h.n_captured:,} respondents answered in more than one of the "
            f"{h.t} waves: where past participants were kept from the task, state "
            "assumptions.answer_again = 0; otherwise the odds of answering again rest on "
            "the lower tail of its default prior")


def _present_while_waves(cap, arrive: float, leave: float) -> float:
    """Share of the period's workers present at some time while the waves ran, were the
    shares ``arrive`` and ``leave`` to come and go (:func:`present_while`)."""
    from crowdcensus.synthesis.population import present_while

    start = float(cap.wave_starts[0]) / cap.reference_days
    return present_while(start, start + cap.span_days / cap.reference_days, (arrive, leave))


def closed_waves_warning(cap) -> str:
    """The warning for waves too short for the model to carry workers who come and go:
    what a closed reading misses were the shares arriving and leaving the default priors'
    means (a fifth each), from the waves' dates (:func:`present_while`)."""
    from crowdcensus.synthesis.priors import DEFAULT_ARRIVALS, DEFAULT_DEPARTURES

    arrive, leave = (p.params[0] / sum(p.params) for p in (DEFAULT_ARRIVALS, DEFAULT_DEPARTURES))
    days = cap.reference_days
    present = _present_while_waves(cap, arrive, leave)
    return (f"the waves span {cap.span_days:g} of the {days:g} days of the reference period, "
            "too few for the capture histories to show workers starting or stopping, so the "
            "joint model takes the population as closed and counts the workers present while "
            f"the waves ran: were {arrive:.0%} of the period's workers to arrive during it and "
            f"{leave:.0%} to leave (the default priors' means), that would be {present:.0%} "
            f"of them, the tiers about {1 - present:.0%} low; experiment.churn = true carries "
            "arrivals and departures on their prior, and assumptions.arrival_share and "
            "departure_share state them")


def departures_held_warning(cap) -> str:
    """The warning for waves too short to show departures where the respondents' answers
    on when they began carry the arrivals: departures are held at none, and what that
    would miss were a fifth of the period's workers to leave (the default prior's mean)."""
    from crowdcensus.synthesis.priors import DEFAULT_DEPARTURES

    leave = DEFAULT_DEPARTURES.params[0] / sum(DEFAULT_DEPARTURES.params)
    days = cap.reference_days
    present = _present_while_waves(cap, 0.0, leave)
    return (f"{cap.started_during:,} of the {cap.start_answers:,} respondents who said when "
            "they began micro-work began during the reference period, so the joint model "
            f"carries workers arriving; but the waves span {cap.span_days:g} of its "
            f"{days:g} days, too few to show workers who stopped, so it holds departures at "
            f"none: were {leave:.0%} of the period's workers to leave during it, the tiers "
            f"would be about {1 - present:.0%} low; assumptions.departure_share states "
            "them, and experiment.churn = true carries them on their prior")


def unread_start_warning(study: Study, responses: Responses | None) -> str | None:
    """A warning where respondents said when they began micro-work but the joint model
    cannot read it: no wave dates to place it against, or a population held closed."""
    if responses is None or "started" not in responses.respondents:
        return None
    from crowdcensus.synthesis.data import start_answers_unread

    started = responses.respondents["started"]
    said = int(started.notna().sum())
    if not said:
        return None
    if (why := start_answers_unread(study)) is None:
        said = int(np.isneginf(started).sum())
        if not said:
            return None
        why = ("their answers are dates, and the study does not give the reference "
               "period's first day to read them against (experiment.schedule."
               "reference_start)")
    column = study.experiment.columns.started
    return (f"{said:,} respondents said when they began micro-work ('{column}'), but the "
            f"joint model does not read it: {why}")


def undated_span_warning(cap, responses: Responses | None) -> str | None:
    """A warning when the answers' times span more than eight weeks but the study gives no
    wave dates, so that the joint model cannot carry arrivals and departures."""
    from crowdcensus.synthesis.data import CHURN_SPAN_DAYS

    if cap is None or cap.wave_starts is not None or cap.churn != "auto" \
            or responses is None or responses.wave_times is None:
        return None
    times = responses.wave_times
    span = (times.max() - times.min()) / pd.Timedelta(days=1)
    if span <= CHURN_SPAN_DAYS:
        return None
    return (f"the answers were given over {span:.0f} days (from the first wave's median "
            "answer to the last's), more than eight weeks, but the study gives no "
            "experiment.schedule.wave_starts, so the joint model takes the population as "
            "closed and misses workers who start or stop during the reference period (in "
            "the simulated `churn` country, regular 13% low): give the waves' start days")


def posted_subset_warning(data: SynthesisData, biases: pd.DataFrame) -> str | None:
    """What the report says of a task posted on some of the study's platforms only: where,
    how the others' workers are reached, the model's share of workers registered where it
    was posted (a row of ``biases``), and, posted on one platform, what that cost on
    simulated countries. None where it was posted on every platform."""
    from crowdcensus.synthesis.model import registration_classes

    if data.posted.all():
        return None
    posted = [p for p, on in zip(data.platforms, data.posted, strict=True) if on]
    reach = biases[biases["quantity"].str.startswith("Share of workers registered where")]
    tail = ""
    if len(reach):
        r = reach.iloc[0]
        tail = (f": the model estimates that {r['estimate']:.0%} ({r['low']:.0%}-"
                f"{r['high']:.0%}) of the workers are registered there")
    classes = (" (read as two classes of workers, each holding platforms its own way)"
               if registration_classes(data) else "")
    one = ("; with the task on one platform only, the very active and regular tiers came "
           "out 8-13% low on simulated countries, with intervals up to half the estimate "
           "wide (docs/validation-notebook.md): post it on two platforms at least"
           if len(posted) == 1 else "")
    return (f"the task was posted on {len(posted)} of the {len(data.platforms)} platforms "
            f"({', '.join(posted)}); the others' workers are reached through the platforms "
            f"respondents say they are registered on{classes}, the declared figures and the "
            f"web audience{tail}{one}")


def slow_sampling_note(data: SynthesisData, inference: str) -> str | None:
    """What ``crowdcensus run`` says before NUTS samples a study whose task was posted on
    some of its platforms only, or whose respondents, with IDs per platform, say when they
    began: that it takes minutes, as measured, and what gives figures in seconds. None for
    the approximation, or where neither holds (for the first,
    :func:`~crowdcensus.synthesis.model.posted_on_subset`)."""
    from crowdcensus.synthesis.model import per_platform_ids, posted_on_subset

    if inference != "nuts":
        return None
    cap = data.capture
    if cap is not None and cap.reads_start_answers and per_platform_ids(data):
        return ("the respondents say when they began micro-work and their IDs are per "
                "platform: NUTS samples such a study for minutes, not seconds (3 to 7 "
                "minutes on 2 cores for a simulated country of 1,500 workers, against under "
                "2 read closed), its chains shown as they go; --inference laplace "
                "gives figures in seconds (docs/validation.md, Respondents who say when "
                "they began)")
    if not posted_on_subset(data):
        return None
    return (f"the task was posted on {int(data.posted.sum())} of the {len(data.platforms)} "
            "platforms: NUTS samples such a study for minutes, not seconds (13-17 minutes "
            "on 2 cores for simulated countries of 20,000 workers), its chains shown as "
            "they go; --inference laplace gives figures in seconds, which agreed with "
            "NUTS's within about 1% on those countries (docs/validation.md, NUTS and "
            "Laplace)")


def omission_held_warning(data: SynthesisData) -> str | None:
    """Where the study holds at 0 the chance that a respondent leaves out a platform they
    hold, but later answers came from platforms their lists left out: what the model did.
    None otherwise."""
    cap = data.capture
    held = data.priors.platform_omission
    if cap is None or held is None or not held.held_at_zero or not cap.unnamed_answered:
        return None
    return (f"assumptions.platform_omission holds at 0 the chance that a respondent leaves "
            f"out a platform they hold, but {cap.unnamed_answered:,.0f} later answers came "
            "from platforms the respondent's list left out: the model adds them to the lists "
            "and reads the lists as complete otherwise; leave the field out (or give it a "
            "range) to let the model read that chance")


def misdated_unread_warning(study: Study, data: SynthesisData) -> str | None:
    """Where the study states the share of respondents who misdate their start but the
    joint model reads no answer on when respondents began: the statement changes nothing.
    None otherwise."""
    if study.assumptions.start_misdated is None:
        return None
    if data.capture is not None and data.capture.reads_start_answers:
        return None
    return ("assumptions.start_misdated is stated, but the joint model reads no answer on "
            "when respondents began micro-work (none given, or not read: the warnings above "
            "say why), so it changes nothing")


def dormant_alone_warning(data: SynthesisData) -> str | None:
    """Where the study states a dormant share (not 0) but no declaration inflation, and
    some platform declares its registrations: the stated share then carries the declared
    figures' whole overstatement, which a share of the dormant accounts alone understates.
    None otherwise."""
    dormant, inflation = data.priors.dormant_share, data.priors.declaration_inflation
    if dormant.origin == "default" or not in_model(dormant) \
            or inflation.origin != "default" or not data.declares_registrations.any():
        return None
    return ("assumptions.dormant_share is stated but assumptions.declaration_inflation is "
            "not: the model holds the inflation at 1, so the stated share carries the "
            "declared registrations' whole overstatement (duplicate, test and foreign "
            "accounts as well as dormant ones); if it counts the dormant accounts only, "
            "state the inflation too (on a simulated country of 3,000 workers with 10-50% "
            "inflation, a share stated for the dormant accounts alone put the occasional "
            "tier 24% high)")


def _joint(study: Study, responses: Responses | None, seed: int, inference: str | None,
           progress: bool, checks: bool = True, aside: tuple[str, ...] = (),
           counted_multihoming: np.ndarray | None = None, reported: Collection[str] = TIERS):
    """Fit the joint model; return (summary, data, warnings).

    ``reported``: the tiers some method measures, which the report prints (their
    interval bounds' Monte Carlo errors are the ones NUTS's chains run on for, and the
    ones the summary keeps).

    ``counted_multihoming``: the experiment method's draws of the platforms per worker,
    from respondents who give counts of platforms; the joint model's prior for it when no
    respondent names their platforms and the study states none.
    """
    import dataclasses

    from crowdcensus.synthesis.averaging import LEFT_OUT, fit_readings
    from crowdcensus.synthesis.data import set_aside, synthesis_data, with_take_up_slope
    from crowdcensus.synthesis.inference import fit_joint
    from crowdcensus.synthesis.model import registration_classes
    from crowdcensus.synthesis.sensitivity import answer_again_warning, prior_warning
    from crowdcensus.synthesis.summary import (
        arrival_timing_warning,
        below_replication_warnings,
        bound_error_warning,
        check_warning,
        imprecise_bounds,
        prior_conflict_warning,
        readings_warning,
        slope_added_note,
        slope_average_note,
        summarise,
        uneven_take_up,
    )

    cfg = study.synthesis
    data = set_aside(synthesis_data(study, responses), aside)
    if data.aggregate and data.priors.multihoming is None and counted_multihoming is not None:
        from crowdcensus.synthesis.priors import counted_multihoming as counted

        prior = counted(counted_multihoming)
        if prior is not None:  # else each worker is counted on one platform
            data = dataclasses.replace(
                data, priors=dataclasses.replace(data.priors, multihoming=prior))
    if inference is None:
        inference = os.environ.get("CROWDCENSUS_INFERENCE") or None
        if inference is not None and inference not in ("nuts", "laplace"):
            raise InputError(f"CROWDCENSUS_INFERENCE={inference}: must be nuts or laplace")
        if inference is None or "inference" in cfg.model_fields_set:
            inference = cfg.inference

    options = {"chains": cfg.chains, "warmup": cfg.warmup, "draws": cfg.draws}
    if checks:
        # the report's interval bounds within 5% of themselves where running on gets
        # them there (validation, which reads many replicates' bounds, does not wait)
        options["run_on"] = imprecise_bounds(study.settings.level, tiers=reported)

    def fit(data, predictive: bool):
        return fit_joint(data, method=inference, seed=seed, progress=progress,
                         predictive=predictive, **options)

    if progress and (note := slow_sampling_note(data, inference)):
        print(f"note: {note}", file=sys.stderr)
    slope = data.capture.take_up_slope if data.capture is not None else False
    auto_slope = slope == "auto"
    if slope == "average":
        # without the slope and with it, averaged by their marginal likelihoods
        post = fit_readings(data, inference, checks, seed=seed, progress=progress, **options)
    else:
        post = fit(data, checks or auto_slope)
    slope_note = None
    if auto_slope and post.converged:
        # a take-up that rises or falls with activity shows in the waves each answer
        # gives; the model is then fitted again with the slope that carries it
        failed = uneven_take_up(post, data, study.settings.level, seed=seed)
        if len(failed):
            slope_note = slope_added_note(failed)
            data = with_take_up_slope(data, True)
            post = fit(data, checks)
    summary = summarise(post, data, study.settings.level, seed=seed, checks=checks,
                        reported=reported)
    if summary.slope_probability is not None:
        slope_note = (post.diagnostics.get(LEFT_OUT)
                      or (readings_warning(summary.readings) if post.converged else None)
                      or slope_average_note(summary.slope_probability))
    warnings = [slope_note] if slope_note else []
    cap = data.capture
    if cap is not None and (said := posted_subset_warning(data, summary.biases)):
        warnings.append(said)
    if said := omission_held_warning(data):
        warnings.append(said)
    if said := dormant_alone_warning(data):
        warnings.append(said)
    if said := misdated_unread_warning(study, data):
        warnings.append(said)
    if cap is not None and cap.posting_varies:
        warnings.append(f"the waves were posted on different platforms ({data.posting_by_wave()}"
                        "): the joint model follows it, " + (
                            "and so do the task-posting experiment's own figures (with IDs "
                            "per platform, each platform's capture histories hold the waves "
                            "posted there)" if cap.per_platform_ids else
                            "but the task-posting experiment's own figures (the closed "
                            "models, band by band) take every wave as posted on the same "
                            "platforms (on a simulated country with mturk in the first of "
                            "six waves only, its very active tier came out 25% low against "
                            "21% with mturk in every wave)"))
    if cap is not None and cap.span_days is not None and cap.churn == "auto" \
            and not summary.churn:
        warnings.append(closed_waves_warning(cap))
    if cap is not None and cap.arrivals_only and summary.churn:
        warnings.append(departures_held_warning(cap))
    if unread := unread_start_warning(study, responses):
        warnings.append(unread)
    undated = undated_span_warning(cap, responses)
    if undated:
        warnings.append(undated)
    if cap is not None and cap.unmatched_platforms:
        anywhere = ("no answer names a platform of the study file, so the task is taken as "
                    "posted on every one; " if not cap.names_platforms else "")
        warnings.append("platforms named in the responses but not in the study file were "
                        f"left out of the registration model: {', '.join(cap.unmatched_platforms)}"
                        f" ({anywhere}give the study's platforms a `code` to match them)")
    if checks and post.converged and (said := check_warning(summary.checks)):
        warnings.append(said)
    if checks and post.converged:
        warnings.extend(below_replication_warnings(summary.checks, data))
        if said := arrival_timing_warning(summary.checks):
            warnings.append(said)
    if post.converged and (said := prior_conflict_warning(summary.shifts, data)):
        warnings.append(said)
    if post.converged and (said := bound_error_warning(summary)):
        warnings.append(said)
    if data.capture is not None and data.capture.registration_classes is True and not \
            registration_classes(data):
        warnings.append("experiment.registration_classes is read only where the task was "
                        "posted on some of the platforms and respondents name theirs: here "
                        "it changes nothing")
    if post.converged:
        warnings.extend(prior_warning(summary.prior_sensitivity))
    if post.converged and (said := answer_again_warning(post.samples, summary.tier_draws,
                                                        data.priors.answer_again)):
        warnings.append(said)
    if not post.converged:
        warnings.insert(0, "the joint model did not converge (" + "; ".join(post.problems)
                        + "): no combined figure is given; re-run with more draws "
                        "([synthesis] warmup, draws) or check the inputs")
    return summary, data, warnings


def run_study(
    study: Study | str | Path,
    seed: int | None = None,
    draws: int | None = None,
    progress: bool = False,
    inference: str | None = None,
    joint: bool = True,
    checks: bool = True,
    set_aside: Sequence[str] = (),
) -> Results:
    """Run every method of ``study``, the joint model and the baseline combination.

    ``study`` is a validated :class:`~crowdcensus.study.Study` or the path of a
    study file. ``seed`` and ``draws`` override the study's settings (``draws``:
    the methods' Monte Carlo); ``inference`` (``"nuts"`` or ``"laplace"``)
    overrides the study's ``[synthesis] inference``; without either, the
    environment variable ``CROWDCENSUS_INFERENCE`` decides, else NUTS.
    ``joint=False`` skips the joint model (the combined tiers are then empty);
    ``checks=False`` skips its posterior predictive checks and its prior sensitivity
    (their tables are then empty; validation, which reads only the tiers, saves their
    cost).
    ``set_aside`` fits the joint model without some of its inputs (``"hours"``,
    ``"declared"``, ``"audience"``: :func:`crowdcensus.synthesis.data.set_aside`); the
    methods' own figures keep them.

    Examples
    --------
    >>> from importlib.resources import files
    >>> from crowdcensus import run_study
    >>> r = run_study(str(files("crowdcensus") / "examples" / "france-2018" / "study.toml"),
    ...               joint=False)
    >>> round(r.baseline["occasional"].estimate)
    266126
    """
    from crowdcensus.synthesis.baseline import combine_methods, disagreements
    from crowdcensus.synthesis.data import checked_aside

    aside = checked_aside(set_aside)  # before the methods run, not after
    if not isinstance(study, Study):
        study = load_study(study)
    seed = study.settings.seed if seed is None else seed
    level = study.settings.level
    responses, capture, fallback = _read(study)
    root = np.random.default_rng(seed)
    methods_rng, baseline_rng = root.spawn(2)
    run = run_methods(study, responses, capture, seed=seed, draws=draws, progress=progress,
                      rng=methods_rng)
    # with no closed model's figure, the joint model still reads the histories' tiers
    base = combine_methods(run, level, baseline_rng, read_by_joint=(
        study.experiment.tiers if responses is not None and capture is None else ()))
    warnings = [w for w in [fallback] if w] + run.warnings + base.warnings
    if said := nobody_twice_warning(study, responses):
        warnings.append(said)
    summary = data = None
    combined: dict[str, Interval] = {}
    bands: dict[str, Interval] = {}
    if joint:
        # a tier no method measures would rest on the prior of the activity's shape
        # alone: the joint model keeps it internally but does not report it
        measured = {t for tiers in run.intervals.values() for t in tiers}
        if responses is not None:  # the joint model reads the histories, with or without
            measured |= set(study.experiment.tiers)   # a closed model's figure of its own
        summary, data, joint_warnings = _joint(
            study, responses, seed, inference, progress, checks, aside,
            counted_multihoming=run.intermediate_draws.get("multihoming"),
            reported=measured)
        warnings += joint_warnings
        if summary.converged:
            combined = {t: Interval(f.estimate, f.low, f.high)
                        for t, f in summary.tiers.items() if t in measured}
            if len(combined) == len(summary.tiers):
                bands = {b: Interval(f.estimate, f.low, f.high)
                         for b, f in summary.bands.items()}
            elif unmeasured := [t for t in summary.tiers if t not in measured]:
                warnings.append("no method measures the " + " and ".join(
                    t.replace("_", " ") for t in unmeasured) + " tier: the joint model does "
                    "not report a figure that would rest on its prior alone")
    active = [p.name for p in study.platforms
              if p.declared is not None and p.declared_active_days is not None]
    warnings.extend(disagreements(run.intervals, {"declared": (
        f"the declared figures of {', '.join(active)} count active accounts, which the "
        "declared method alone reads as registrations")} if active else None))
    if responses is not None:
        from crowdcensus.synthesis.data import stated_postings

        warnings.extend(w for w in (responses.country_warning(study.study.country),
                                    responses.attention_warning(),
                                    responses.unanswered_warning(),
                                    responses.repeat_warning(),
                                    responses.platform_linking_warning(),
                                    responses.wave_order_warning(),
                                    responses.posting_gap_warning(
                                        posted=stated_postings(study, responses))) if w)
    n_draws = len(next(iter(run.sampled.values()))) if run.sampled else 0
    frame = pd.DataFrame({"draw": np.arange(n_draws)})
    for t, d in base.draws.items():
        frame[f"inverse_variance.{t}"] = d
    for m, tiers in run.methods.items():
        for t, d in tiers.items():
            frame[f"{m}.{t}"] = d
    for p in run.parameters:
        frame[p.path] = run.sampled[p.path]
    frame["multihoming"] = run.intermediate_draws["multihoming"]
    shares = None
    if run.point.bands is not None and responses is not None:
        shares = shares_table(responses, run.point.bands, run.chunks, level)
    return Results(
        study=study, parameters=run.parameters, seed=seed, draws=n_draws, level=level,
        methods=run.intervals, weights=base.weights, combined=combined, disjoint=bands,
        baseline=base.combined, baseline_disjoint=base.disjoint,
        intermediates=run.intermediates, sensitivity=base.sensitivity, draws_frame=frame,
        capture=capture, shares=shares, responses=responses, warnings=warnings,
        joint=summary, joint_data=data)
