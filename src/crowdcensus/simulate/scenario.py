"""Scenario files: a synthetic country described in TOML.

A scenario states how the simulated country is made (its workers, their
activity, their platforms, churn, what the platforms and the traffic panel
report) and how the simulated study is run (the task-posting waves and what
the researcher assumes). :func:`load_scenario` reads and validates one; every
problem is reported with the path of the field at fault, for example
``activity.classes[1].share: must be a proportion between 0 and 1``.
The fields are described in ``docs/validation.md``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crowdcensus.config import FieldError as _FieldError
from crowdcensus.config import parse_toml, read_toml, validate
from crowdcensus.errors import InputError
from crowdcensus.study import declared_timing_problem

Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
WaveDays = Annotated[int, Field(ge=1, le=60)]

#: Platform codes of the collection service's questionnaire.
PLATFORM_CODES = ("mturk", "prolific", "clickworker", "wirk", "appen", "toloka",
                  "microworkers", "other")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Info(_Strict):
    name: str = Field(min_length=1)
    description: str = ""
    country: str = "XX"
    reference_days: int = Field(default=364, ge=28, le=3650)


class ActivityClass(_Strict):
    """A group of workers with a typical number of visits to platforms per week."""

    name: str = Field(min_length=1)
    share: Fraction
    visits_per_week: Positive
    #: Gamma shape of the individual variation around ``visits_per_week`` (``0`` = none).
    variation: NonNegative = 0.0


class Activity(_Strict):
    classes: list[ActivityClass] = Field(min_length=1)
    #: Chance that a respondent reports the frequency category next to their true one.
    misreport: Fraction = 0.0
    #: Log-scale spread of the hours per week a respondent reports around 1.5 hours per
    #: weekly visit (a self-reported figure is rough).
    hours_noise: NonNegative = 0.5
    #: The step respondents round their hours to (0.1: one decimal, as the collection
    #: service keeps; 1: whole hours, as people often answer).
    hours_step: Positive = 0.1
    #: Share of the people who answer without reading: their frequency is one of the four
    #: at random, their hours another person's, and they pass the attention check with
    #: chance ``attention_pass`` (the others always pass it).
    inattentive: Fraction = 0.0
    #: The chance that one of them passes the attention check in an answer (0.25: one
    #: answer in four at random, as the service's check has).
    attention_pass: Fraction = 0.25
    #: How those who do not read spread their frequency answers over the four, in the
    #: questionnaire's order (several times a week, weekly, monthly, less often), as
    #: relative weights: ``[1, 0, 0, 0]`` for people who always tick the first answer
    #: (straight-lining). Not given: the four alike.
    inattentive_answers: list[NonNegative] | None = None

    @model_validator(mode="after")
    def _shares(self) -> Activity:
        total = sum(c.share for c in self.classes)
        if abs(total - 1) > 1e-6:
            raise _FieldError("classes", f"the shares must add up to 1 (they add up to "
                              f"{total:g})")
        names = [c.name for c in self.classes]
        for i, n in enumerate(names):
            if n in names[:i]:
                raise _FieldError(f"classes[{i}].name", f"duplicate class {n!r}")
        weights = self.inattentive_answers
        if weights is not None and (len(weights) != 4 or sum(weights) <= 0):
            raise _FieldError("inattentive_answers", "expected four weights, one per "
                              "frequency answer, not all 0")
        return self


#: Bounds of a scenario's workers (and of ``simulate --workers``).
MIN_WORKERS, MAX_WORKERS = 50, 5_000_000


class Population(_Strict):
    #: People who do micro-work at some time in the reference period (the occasional tier).
    workers: int = Field(ge=MIN_WORKERS, le=MAX_WORKERS)
    #: People registered on a platform who never work there, per active worker.
    inactive_per_worker: NonNegative = 0.0
    #: Extra platforms registered: each other platform is added with this chance...
    multihoming: Fraction = 0.2
    #: ...multiplied by (visits per week / 1) ** multihoming_activity, capped at 1.
    multihoming_activity: NonNegative = 0.0
    #: People living in other countries who work on the same platforms, per worker in
    #: the country: they can take the task (it is not restricted by country) but are in
    #: neither the platforms' declared figures for the country nor its traffic panel.
    abroad: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)] = 0.0
    #: Workers in two groups that keep to their own platforms (a language, a region): a
    #: share ``segment_share`` belongs to group 1, the others to group 0 (each platform's
    #: ``segment``). A worker's first platform is drawn with the weights times
    #: ``segment_affinity`` for their group's platforms and divided by it for the others',
    #: and each other platform is added with the chance times or over it likewise, rescaled
    #: to keep its mean over the platforms (capped at 1). 1: no groups.
    segment_share: Fraction = 0.0
    segment_affinity: Annotated[float, Field(ge=1, le=100, allow_inf_nan=False)] = 1.0


class Churn(_Strict):
    #: Share of workers who start during the reference period (not there at its start).
    arrivals: Fraction = 0.0
    #: Share of workers who stop during the reference period.
    departures: Fraction = 0.0
    #: When the arrivals come: each on day ``reference_days * U ** arrival_power``, U
    #: uniform. 1: a uniform day (the joint model's assumption); above 1, earlier in the
    #: period (2: a third of the way on average); below 1, later (0.5: two thirds).
    arrival_power: Annotated[float, Field(gt=0, le=20)] = 1.0


class PlatformSpec(_Strict):
    name: str
    #: Relative popularity: the chance of a platform being someone's first one.
    weight: Positive
    #: Declared registrations = true registrations x inflation.
    inflation: Annotated[float, Field(ge=0.2, le=20)] = 1.0
    #: When set, the platform declares (times ``inflation``) the workers who visited it in
    #: the last that many days of the reference period, not its registrations.
    declared_active_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    #: Whether the study file says so (``declared_active_days`` on the platform); false:
    #: the study reads the figure as registrations.
    declared_active_stated: bool = True
    #: When set, the declared figure is taken on that day of the reference period (the
    #: registrations of the workers who have started by then, or the window ending then);
    #: by default on its last day.
    declared_day: Annotated[int, Field(ge=1, le=3650)] | None = None
    #: Whether the study file gives that day (``declared_day`` on the platform).
    declared_day_stated: bool = True
    #: The group of workers (0 or 1) that keeps to this platform
    #: (``population.segment_share``, ``segment_affinity``).
    segment: Literal[0, 1] = 0
    #: Share of the panel's monthly visitors who are clients, not workers.
    client_share: Annotated[float, Field(ge=0, lt=1)] = 0.0
    #: Log-normal spread (sd of the log) of the traffic panel's error.
    audience_noise: NonNegative = 0.0
    #: Visitors the panel counts per worker who visits (devices, cookies; 1: each once;
    #: below 1: a panel that misses some of the workers who visit, an app it does not see).
    visitors_per_person: Annotated[float, Field(ge=0.1, le=5)] = 1.0

    @model_validator(mode="after")
    def _code(self) -> PlatformSpec:
        if self.name not in PLATFORM_CODES:
            raise _FieldError("name", f"unknown platform {self.name!r} (one of: "
                              f"{', '.join(PLATFORM_CODES)})")
        return self


class Experiment(_Strict):
    """The task-posting waves, and what the simulated researcher assumes."""

    waves: int = Field(default=6, ge=2, le=40)
    #: How long each wave's task stays visible, in days: one number for every wave, or
    #: one per wave (a wave that closes when its quota of answers is reached is short).
    wave_days: WaveDays | Annotated[list[WaveDays], Field(min_length=1)] = 7
    #: Day (from the start of the reference period) of the first wave.
    first_day: int = Field(default=140, ge=0)
    #: Days between the starts of two waves (at least wave_days).
    spacing_days: int = Field(default=7, ge=1)
    #: Platforms the task is posted on (default: every platform of the scenario).
    platforms: list[str] | None = None
    #: Platforms each wave's task is posted on, one list per wave (instead of
    #: ``platforms``, which posts every wave on the same ones).
    posted_waves: list[list[str]] | None = None
    #: Whether the study file says which platforms each wave was posted on
    #: (``experiment.schedule.posted``; with ``posted_waves`` only).
    posting_stated: bool = True
    #: Chance that a visit during a wave shows the task (it may be buried among others).
    sight: Fraction = 1.0
    #: Chance that a worker who sees the task takes it.
    take_up: Fraction = 0.6
    #: Spread of the workers' own take-up beyond their activity: each worker's chance of
    #: taking the task is logit^-1(logit(take_up) + take_up_spread * z), z ~ N(0, 1) drawn
    #: once per worker (some people like surveys, others never answer one).
    take_up_spread: NonNegative = 0.0
    #: How take-up changes with activity beyond the visits: ``take_up_activity * log(rate)``
    #: (rate in visits a week) is added to the logit of each worker's take-up, so that at
    #: 1 the workers who visit ten times as often take a task they see with ten times the
    #: odds (unchanged at one visit a week; negative: the most active take it less).
    take_up_activity: Annotated[float, Field(ge=-3, le=3)] = 0.0
    #: Drop in that chance after a first answer (survey aversion; 1: past participants
    #: are excluded).
    aversion: Fraction = 0.0
    #: The study's reach assumption (p_week) = the population value x this factor...
    reach_error: Positive = 1.0
    #: ...with a range of +-this relative spread.
    reach_range: Annotated[float, Field(ge=0, lt=1)] = 0.3
    #: Share of the respondents, drawn at random, who leave the question on the platforms
    #: they are registered on blank (the study file's responses only: the collection
    #: service asks it of everyone).
    unstated: Fraction = 0.0
    #: Chance that a respondent leaves out each platform they are registered on when
    #: asked where (0: they name them all); drawn once per person and platform, so that
    #: their answers agree, and an answer names the platform it is given on all the same.
    platform_omission: Fraction = 0.0
    #: Whether a person's answers on different platforms carry one worker ID (true: one
    #: person, one respondent); false: each platform gives its own, as the collection
    #: service's keyed hashes of platform IDs do, so one person answering on two
    #: platforms is two respondents with a history each.
    linked_across_platforms: bool = True
    #: Whether the study file maps the answers' country of residence
    #: (``experiment.columns.country``), which leaves out the respondents who live
    #: abroad (with ``population.abroad`` only).
    country_column: bool = True
    #: Whether the study file reads the attention check's column
    #: (``experiment.columns.attention``, which it does by default).
    attention_column: bool = True
    #: Whether the respondents say when they began micro-work (a ``started_month`` column,
    #: as the collection service asks it: the month they arrived, for those who arrived
    #: during the reference period, an earlier month for the others; the study file then
    #: gives ``experiment.schedule.reference_start``), which the joint model reads.
    started_column: bool = False
    #: With ``started_column``: the share of the respondents who worked from before the
    #: reference period that give a month inside it (forward telescoping), picked by the
    #: person's index: a month after the period's first and no later than their first
    #: answer's.
    start_misdated: Fraction = 0.0

    def days(self, wave: int) -> int:
        """How long wave ``wave`` (0-based) lasts, in days."""
        return self.wave_days[wave] if isinstance(self.wave_days, list) else self.wave_days


class Assumptions(_Strict):
    """Ranges the simulated study file states around the figures it reports."""

    declared_range: Annotated[float, Field(ge=0, lt=1)] = 0.1
    audience_range: Annotated[float, Field(ge=0, lt=1)] = 0.2
    #: Share of visitors who are workers, as the study assumes (value, low, high).
    worker_share: Fraction = 1.0
    worker_share_low: Fraction | None = None
    worker_share_high: Fraction | None = None
    #: Share of the declared accounts that are not workers', as the study states it
    #: (value, low, high); none by default: the study says nothing and the joint model
    #: takes its default prior.
    dormant_share: Fraction | None = None
    dormant_share_low: Fraction | None = None
    dormant_share_high: Fraction | None = None
    #: Share of the accounts counted active that are not workers', as the study states
    #: it (value, low, high), for platforms that declare active accounts; none by
    #: default (the joint model's default prior).
    active_nonworker_share: Fraction | None = None
    active_nonworker_share_low: Fraction | None = None
    active_nonworker_share_high: Fraction | None = None
    #: Visitors the panel counts per worker who visits, as the study states it (value,
    #: low, high); none by default: the joint model's default prior (at least 1).
    visitors_per_person: Annotated[float, Field(gt=0, le=5)] | None = None
    visitors_per_person_low: Annotated[float, Field(gt=0, le=5)] | None = None
    visitors_per_person_high: Annotated[float, Field(gt=0, le=5)] | None = None
    #: Odds ratio of taking the task again after a first answer, as the study states it
    #: (value, low, high; 0 without a range: past participants kept from the task); none
    #: by default: the joint model's default prior.
    answer_again: Annotated[float, Field(ge=0, le=100)] | None = None
    answer_again_low: Annotated[float, Field(gt=0, le=100)] | None = None
    answer_again_high: Annotated[float, Field(gt=0, le=100)] | None = None
    #: Shares of the workers arriving and leaving during the reference period, as the
    #: study states them (value, low, high); none by default (the joint model carries
    #: churn on its default prior only where the waves span more than eight weeks).
    arrival_share: Annotated[float, Field(ge=0, lt=1)] | None = None
    arrival_share_low: Annotated[float, Field(ge=0, lt=1)] | None = None
    arrival_share_high: Annotated[float, Field(ge=0, lt=1)] | None = None
    departure_share: Annotated[float, Field(ge=0, lt=1)] | None = None
    departure_share_low: Annotated[float, Field(ge=0, lt=1)] | None = None
    departure_share_high: Annotated[float, Field(ge=0, lt=1)] | None = None
    #: Share of those there from the period's start who say they began during it, as the
    #: study states it (value, low, high); none by default (the answers taken as exact).
    start_misdated: Annotated[float, Field(ge=0, lt=1)] | None = None
    start_misdated_low: Annotated[float, Field(ge=0, lt=1)] | None = None
    start_misdated_high: Annotated[float, Field(ge=0, lt=1)] | None = None
    #: "estimate" (from the responses) or a number stated by the study.
    multihoming: float | str = "estimate"
    multihoming_range: Annotated[float, Field(ge=0, lt=1)] = 0.15
    draws: int = Field(default=1000, ge=100, le=100_000)
    #: The study's capture-recapture design: one fit per band of answers, or pooled.
    capture: Literal["by_band", "pooled"] = "by_band"
    #: The study's ``experiment.churn``: whether the joint model lets workers arrive and
    #: leave ("auto": when the waves span more than eight weeks).
    churn: bool | Literal["auto"] = "auto"
    #: The study's ``experiment.take_up_slope`` (left out of the study when not given, so
    #: that the study's default applies).
    take_up_slope: bool | Literal["auto", "average"] | None = None
    #: The study's ``experiment.registration_classes`` (left out when not given).
    registration_classes: bool | None = None

    @model_validator(mode="after")
    def _check(self) -> Assumptions:
        if isinstance(self.multihoming, str) and self.multihoming != "estimate":
            raise _FieldError("multihoming", "must be \"estimate\" or a number >= 1")
        if not isinstance(self.multihoming, str) and self.multihoming < 1:
            raise _FieldError("multihoming", "must be \"estimate\" or a number >= 1")
        if self.worker_share <= 0:
            raise _FieldError("worker_share", "must be a proportion between 0 and 1")
        lo, hi = self.worker_share_low, self.worker_share_high
        if lo is not None and lo > self.worker_share:
            raise _FieldError("worker_share_low", "must not exceed worker_share")
        if hi is not None and hi < self.worker_share:
            raise _FieldError("worker_share_high", "must not be below worker_share")
        for name in ("dormant_share", "active_nonworker_share", "visitors_per_person",
                     "answer_again", "arrival_share", "departure_share",
                     "start_misdated"):
            value = getattr(self, name)
            lo, hi = getattr(self, f"{name}_low"), getattr(self, f"{name}_high")
            if value is None:
                if lo is not None or hi is not None:
                    raise _FieldError(name, "a range needs its value")
            elif (lo is not None and lo > value) or (hi is not None and hi < value):
                raise _FieldError(name, f"must lie between {name}_low and {name}_high")
        return self


class Scenario(_Strict):
    """A validated scenario."""

    scenario: Info
    population: Population
    activity: Activity
    churn: Churn = Churn()
    platforms: list[PlatformSpec] = Field(min_length=1, max_length=len(PLATFORM_CODES))
    experiment: Experiment = Experiment()
    assumptions: Assumptions = Assumptions()

    @model_validator(mode="after")
    def _cross(self) -> Scenario:
        names = [p.name for p in self.platforms]
        for i, n in enumerate(names):
            if n in names[:i]:
                raise _FieldError(f"platforms[{i}].name", f"duplicate platform {n!r}")
        exp = self.experiment
        for i, name in enumerate(exp.platforms or []):
            if name not in names:
                raise _FieldError(f"experiment.platforms[{i}]", f"{name!r} is not one of the "
                                  f"scenario's platforms ({', '.join(names)})")
        if exp.platforms is not None and not exp.platforms:
            raise _FieldError("experiment.platforms", "must not be empty")
        if exp.posted_waves is not None:
            if exp.platforms is not None:
                raise _FieldError("experiment.posted_waves", "give either experiment.platforms "
                                  "(every wave alike) or posted_waves (one list per wave)")
            if len(exp.posted_waves) != exp.waves:
                raise _FieldError("experiment.posted_waves", f"gives {len(exp.posted_waves)} "
                                  f"lists for {exp.waves} waves")
            for w, wave in enumerate(exp.posted_waves):
                if not wave:
                    raise _FieldError(f"experiment.posted_waves[{w}]", "must not be empty")
                for i, name in enumerate(wave):
                    if name not in names:
                        raise _FieldError(f"experiment.posted_waves[{w}][{i}]",
                                          f"{name!r} is not one of the scenario's platforms "
                                          f"({', '.join(names)})")
        if isinstance(exp.wave_days, list) and len(exp.wave_days) != exp.waves:
            raise _FieldError("experiment.wave_days", f"gives {len(exp.wave_days)} waves but "
                              f"experiment.waves is {exp.waves}")
        if exp.spacing_days < max(exp.days(w) for w in range(exp.waves)):
            raise _FieldError("experiment.spacing_days", "must be at least wave_days "
                              "(waves must not overlap)")
        end = exp.first_day + (exp.waves - 1) * exp.spacing_days + exp.days(exp.waves - 1)
        if end > self.scenario.reference_days:
            raise _FieldError("experiment.first_day", f"the last wave ends on day {end}, after "
                              f"the reference period ({self.scenario.reference_days} days)")
        if self.assumptions.active_nonworker_share is not None and not any(
                p.declared_active_days is not None and p.declared_active_stated
                for p in self.platforms):
            raise _FieldError("assumptions.active_nonworker_share", "no platform's study "
                              "figure counts active accounts (declared_active_days, "
                              "declared_active_stated)")
        for j, p in enumerate(self.platforms):
            problem = declared_timing_problem(p.declared_day, p.declared_active_days,
                                              self.scenario.reference_days)
            if problem:
                raise _FieldError(f"platforms[{j}].{problem[0]}", problem[1])
        return self

    def posted(self) -> list[str]:
        """The platforms the task is posted on (in some wave)."""
        exp = self.experiment
        if exp.posted_waves is not None:
            return [p.name for p in self.platforms
                    if any(p.name in wave for wave in exp.posted_waves)]
        return list(exp.platforms or [p.name for p in self.platforms])

    def posted_in_waves(self) -> list[list[str]]:
        """The platforms each wave's task is posted on."""
        exp = self.experiment
        if exp.posted_waves is not None:
            return [list(w) for w in exp.posted_waves]
        return [self.posted()] * exp.waves

    def with_experiment(self, **changes: object) -> Scenario:
        """The same scenario with some experiment fields changed (validated again)."""
        data = self.model_dump(mode="json")
        data["experiment"].update(changes)
        return parse_scenario(data, name=self.scenario.name)

    def with_capture(self, capture: str) -> Scenario:
        """The same scenario whose study uses another capture-recapture design."""
        data = self.model_dump(mode="json")
        data["assumptions"]["capture"] = capture
        return parse_scenario(data, name=self.scenario.name)

    def varied(self, path: str, value: float | str | list) -> Scenario:
        """The same scenario with one field changed, named ``name[path=value]``.

        ``path`` is dotted (``activity.misreport``, ``experiment.reach_error``); a
        list in the path applies to every element (``activity.classes.variation``
        sets every class's variation); a list value replaces a field of lists
        (``experiment.platforms``, ``experiment.posted_waves``). Raises
        :class:`InputError` for an unknown field or a value the field refuses.
        """
        import json

        data = self.model_dump(mode="json")

        def put(node: object, parts: list[str]) -> None:
            if isinstance(node, list):
                if not node:
                    raise InputError(f"--vary {path}: the list is empty")
                for item in node:
                    put(item, parts)
                return
            if not isinstance(node, dict) or parts[0] not in node:
                raise InputError(f"--vary {path}: no such scenario field")
            if len(parts) == 1:
                old = node[parts[0]]
                if isinstance(old, dict) or (isinstance(old, list) and (
                        not isinstance(value, list) or any(isinstance(x, dict) for x in old))):
                    raise InputError(f"--vary {path}: is a section, not a value")
                node[parts[0]] = value
            else:
                put(node[parts[0]], parts[1:])

        put(data, path.split("."))
        shown = json.dumps(value, separators=(",", ":")) if isinstance(value, list) else value
        label = f"{self.scenario.name}[{path}={shown}]"
        data["scenario"]["name"] = label
        return parse_scenario(data, name=label)

    def scaled(self, workers: int) -> Scenario:
        """The same scenario with another number of workers (checked as the scenario's own
        ``population.workers``: :class:`InputError` outside its bounds)."""
        if not MIN_WORKERS <= workers <= MAX_WORKERS:
            raise InputError(f"--workers must lie between {MIN_WORKERS} and {MAX_WORKERS:,} "
                             f"(got {workers})")
        pop = self.population.model_copy(update={"workers": int(workers)})
        return self.model_copy(update={"population": pop})


def parse_scenario(data: dict, name: str = "scenario") -> Scenario:
    """Validate a scenario given as a dict (the parsed TOML)."""
    return validate(Scenario, data, name)


def shipped_scenarios() -> list[str]:
    """Names of the scenarios that ship with crowdcensus."""
    folder = resources.files("crowdcensus.simulate") / "scenarios"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_scenario(path_or_name: str | Path) -> Scenario:
    """Read a scenario file, or a shipped scenario by name (``ideal``, ``churn``...).

    Raises
    ------
    InputError
        With one line naming the file, the field path and the problem.
    """
    p = Path(path_or_name)
    if not p.exists() and str(path_or_name) in shipped_scenarios():
        res = resources.files("crowdcensus.simulate") / "scenarios" / f"{path_or_name}.toml"
        label = f"{path_or_name}.toml"
        data = parse_toml(res.read_text(encoding="utf-8"), label)
    else:
        if not p.exists():
            raise InputError(f"{p}: no such file (nor a shipped scenario: "
                             f"{', '.join(shipped_scenarios())})")
        label = str(p)
        data = read_toml(p, "scenario file")
    return parse_scenario(data, name=label)
