"""The study file: one TOML file that states every input and assumption of a study.

:func:`load_study` reads and validates it. Every problem is reported with the
path of the field at fault and what is wrong with it, for example
``platforms[2].declared.value: must be a positive number``. The fields are
described, one by one, in ``docs/study-file.md``.

Every number that feeds an estimate is a :class:`Quantity`: a central value,
an optional plausible range (``low``, ``high``), a status (``published``,
``derived``, ``assumed`` or ``simulated``) and a source. The Monte Carlo of
:mod:`crowdcensus.methods.montecarlo` draws each quantity within its range; the
joint model (:mod:`crowdcensus.synthesis`) turns the assumptions into priors.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crowdcensus.config import FieldError as _FieldError
from crowdcensus.config import (  # noqa: F401 - re-exported for older imports
    format_validation_errors,
    read_toml,
    validate,
    validation_input_error,
)
from crowdcensus.errors import InputError
from crowdcensus.tiers import FREQUENCY_CATEGORIES

Status = Literal["published", "derived", "assumed", "simulated"]
Distribution = Literal["triangular", "uniform"]
PositiveNumber = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Fraction = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Quantity(_Strict):
    """A number with its plausible range, its status and its source."""

    value: PositiveNumber
    low: PositiveNumber | None = None
    high: PositiveNumber | None = None
    distribution: Distribution = "triangular"
    status: Status
    source: str | None = None
    date: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _range_holds_value(self) -> Quantity:
        if self.low is not None and self.low > self.value:
            raise _FieldError("low", f"must not exceed value ({self.value:g})")
        if self.high is not None and self.high < self.value:
            raise _FieldError("high", f"must not be below value ({self.value:g})")
        return self

    @property
    def range(self) -> tuple[float, float]:
        """``(low, high)``; a missing end is the central value (no uncertainty there)."""
        lo = self.value if self.low is None else self.low
        hi = self.value if self.high is None else self.high
        return lo, hi


class Share(Quantity):
    """A :class:`Quantity` that is a proportion (0 < value <= 1, and so is its range)."""

    value: Fraction
    low: Fraction | None = None
    high: Fraction | None = None


class Chance(Share):
    """A chance that something goes wrong in a respondent's answer (misreporting, answering
    at random, leaving out a platform): as :class:`Share`, but it may be 0, and so may its
    low end. Stated 0 with no range, the joint model leaves that part out (the study knows
    it does not happen)."""

    value: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
    low: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None = None


class NonworkerShare(Chance):
    """A share of a platform's counted accounts that are not workers': as :class:`Chance`
    (it may be 0: the study knows every account counted is a worker's; with no range, the
    model holds it at 0), but it must be below 1 (a platform all of whose accounts are not
    workers' says nothing of the workers)."""

    value: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)]


class TurnoverShare(Chance):
    """A share of the workers who arrive (or leave) during the reference period, or of the
    respondents who misdate their start: as :class:`Chance` (0 with no range holds that
    nobody does), but below 1."""

    value: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)]


class MultihomingQuantity(_Strict):
    """The multi-homing coefficient: a number with a range, or ``"estimate"``."""

    value: PositiveNumber | Literal["estimate"]
    low: PositiveNumber | None = None
    high: PositiveNumber | None = None
    distribution: Distribution = "triangular"
    status: Status
    source: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _check(self) -> MultihomingQuantity:
        if self.value == "estimate":
            if self.low is not None or self.high is not None:
                raise _FieldError("low", "must be left out when value is \"estimate\"")
            return self
        if self.value < 1:
            raise _FieldError("value", "must be at least 1 (people registered on "
                              "one platform or more)")
        if self.low is not None and (self.low < 1 or self.low > self.value):
            raise _FieldError("low", f"must be between 1 and value ({self.value:g})")
        if self.high is not None and self.high < self.value:
            raise _FieldError("high", f"must not be below value ({self.value:g})")
        return self

    def as_quantity(self) -> Quantity | None:
        if self.value == "estimate":
            return None
        return Quantity(value=self.value, low=self.low, high=self.high,
                        distribution=self.distribution, status=self.status,
                        source=self.source, note=self.note)


class StudyInfo(_Strict):
    title: str = Field(min_length=1)
    country: str = Field(min_length=2)
    reference_period: str = Field(min_length=1)
    description: str | None = None
    simulated: bool = False


class SourceRef(_Strict):
    id: str = Field(min_length=1)
    citation: str = Field(min_length=1)
    url: str | None = None


#: Bounds of the Monte Carlo draws and of the seed (``settings``, ``run --draws/--seed``).
MIN_DRAWS, MAX_DRAWS = 100, 1_000_000
MAX_SEED = 2**63 - 1


class Settings(_Strict):
    draws: int = Field(default=2000, ge=MIN_DRAWS, le=MAX_DRAWS)
    seed: int = Field(default=1, ge=0, le=MAX_SEED)
    level: float = Field(default=0.95, gt=0.5, lt=1)


#: The largest count of people a study may state (more than the world's population).
MAX_PEOPLE = 1e10


class Count(Quantity):
    """A :class:`Quantity` that counts people: at most :data:`MAX_PEOPLE` (a figure of
    1e300 went through, and overflowed in the fits into warnings)."""

    value: Annotated[float, Field(gt=0, le=MAX_PEOPLE, allow_inf_nan=False)]
    low: Annotated[float, Field(gt=0, le=MAX_PEOPLE, allow_inf_nan=False)] | None = None
    high: Annotated[float, Field(gt=0, le=MAX_PEOPLE, allow_inf_nan=False)] | None = None


class Audience(_Strict):
    visitors: Count
    worker_share: Share | None = None


#: Days in a month: a twelfth of a year of 52 weeks.
MONTH_DAYS = 364 / 12


def declared_timing_problem(day: float | None, window: float | None, days: float
                            ) -> tuple[str, str] | None:
    """The field and the problem, if a declared figure's day (``declared_day``; None: the
    period's last) or its window of active accounts (``declared_active_days``) does not fit
    a reference period of ``days`` days; None if they fit.

    >>> declared_timing_problem(20, 30, 364)[0], declared_timing_problem(None, 30, 364)
    ('declared_active_days', None)
    """
    if day is not None and day > days:
        return "declared_day", f"(day {day:g}) is after the end of the reference period " \
            f"({days:g} days)"
    taken = days if day is None else day
    if window is not None and window > taken:
        return "declared_active_days", f"({window:g} days) is longer than the reference " \
            f"period before the figure was taken ({taken:g} days)"
    return None


class Platform(_Strict):
    name: str = Field(min_length=1)
    #: How the platform is named in the responses (e.g. the collection service's code
    #: "mturk"), when it differs from ``name``.
    code: str | None = None
    declared: Count | None = None
    #: When the declared figure counts the accounts active in the last days before it was
    #: taken (a platform's "active in the last 30 days") rather than every registration:
    #: that many days. Left out, the figure counts registrations.
    declared_active_days: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    #: The day of the reference period the declared figure was taken (from its start);
    #: left out, its last day. Where workers arrive during the period, a figure taken
    #: earlier misses those who came later.
    declared_day: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    audience: Audience | None = None


class Factor(Quantity):
    """A :class:`Quantity` that is a factor of at least 1 (and so is its range)."""

    value: Annotated[float, Field(ge=1, allow_inf_nan=False)]
    low: Annotated[float, Field(ge=1, allow_inf_nan=False)] | None = None
    high: Annotated[float, Field(ge=1, allow_inf_nan=False)] | None = None


class PositiveFactor(Quantity):
    """A :class:`Quantity` that is a positive factor (and so is its range)."""

    value: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    low: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    high: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None


class OddsRatio(PositiveFactor):
    """The odds of taking the task again after a first answer over the odds of taking it
    the first time: a positive factor, or 0 with no range, where past participants are
    kept from the task (the model then holds that nobody answers twice)."""

    value: Annotated[float, Field(ge=0, allow_inf_nan=False)]

    @model_validator(mode="after")
    def _zero_alone(self) -> OddsRatio:
        if self.value == 0 and (self.low is not None or self.high is not None):
            raise _FieldError("value", "0 (past participants kept from the task) takes no "
                              "range")
        return self


class Assumptions(_Strict):
    multihoming: MultihomingQuantity
    #: Share of the accounts a platform counts that belong to people who do not work
    #: (dormant accounts); the joint model's prior (default: docs/synthesis.md).
    dormant_share: NonworkerShare | None = None
    #: Share of the accounts a platform counts as active in a window
    #: (``declared_active_days``) that are not workers' (sign-ups who never finish a task,
    #: test accounts, bots); the joint model's prior (default: docs/synthesis.md).
    active_nonworker_share: NonworkerShare | None = None
    #: Declared registrations / true registrations (test and duplicate accounts, other
    #: countries counted): at least 1.
    declaration_inflation: Factor | None = None
    #: Visitors a traffic panel counts per worker who visits: devices and cookies make it
    #: more than 1 (the default prior's assumption); a panel that misses some visits (an
    #: app it does not measure) makes it less, which only a stated range below 1 allows.
    visitors_per_person: PositiveFactor | None = None
    #: Chance that a respondent answers the frequency category next to their true one.
    misreport: Chance | None = None
    #: Share of the respondents whose answer is read (who passed the attention check, if
    #: any) that answer the frequency at random (default: from those who failed the check;
    #: Beta(1, 19) with no check; none with a check nobody failed).
    random_answers: Chance | None = None
    #: Chance that a respondent leaves out a platform they are registered on when asked
    #: where (default, where the task was posted on some platforms only: Beta(1, 9)).
    platform_omission: Chance | None = None
    #: Odds of taking the task again after a first answer, over the odds of taking it the
    #: first time (1: no behavioural effect; below 1: survey aversion, or past participants
    #: kept away by the platform; above 1: respondents who come back for more). Default:
    #: its logarithm normal with sd 1 (docs/synthesis.md). Where few respondents answer
    #: twice, the tiers lean on it. 0 (no range): past participants kept from the task.
    answer_again: OddsRatio | None = None
    #: Share of the workers of the reference period who started during it, after its
    #: first day (new workers), and share who stopped before its last day: stated, the
    #: joint model carries workers who come and go whatever the waves span (default, where
    #: it carries them: Beta(1, 4) each; docs/synthesis.md).
    arrival_share: TurnoverShare | None = None
    departure_share: TurnoverShare | None = None
    #: Share of the respondents who worked from before the reference period that say they
    #: began during it (forward telescoping: a start remembered as more recent than it
    #: was), where the joint model reads the answers on when respondents began (default:
    #: none, the answers taken as exact; docs/synthesis.md).
    start_misdated: TurnoverShare | None = None

    @property
    def turnover_stated(self) -> tuple[str, ...]:
        """The shares of workers arriving and leaving (field names) that the study states:
        any turns the joint model's churn on."""
        return tuple(n for n in ("arrival_share", "departure_share")
                     if getattr(self, n) is not None)


class Columns(_Strict):
    """Column names in the responses file (defaults: the collection service's export)."""

    worker: str = "worker_hash"
    wave: str = "wave"
    platform: str = "platform"
    frequency: str = "frequency"
    registered_on: str | None = "platforms_registered"  # "" when the file has none
    #: Hours of micro-work per week reported (used when the column exists; "" for none).
    hours: str | None = "hours_per_week"
    #: When each answer was given (used when the column exists; "" for none): only to
    #: check that the waves' labels sort in the order the waves ran.
    submitted: str | None = "submitted_at"
    #: The respondent's country of residence: those who live elsewhere than [study]
    #: country (compared case-insensitively) are left out. Not stated, a column named
    #: ``country`` (any case; the collection service exports one) whose answers name
    #: [study] country among others is read; "" reads none.
    country: str | None = None
    #: Whether the respondent passed the attention check (used when the column exists; ""
    #: for none): a respondent who failed it in the answer that counts (their first) is a
    #: capture, but their frequency and hours are not used.
    attention: str | None = "attention_passed"
    #: When the respondent began micro-work (used when the column exists; "" for none): the
    #: month (``2024-05``) or date of their first paid task, read against
    #: ``experiment.schedule.reference_start``, or the day of the reference period
    #: (``experiment.schedule``'s days; 0 or less: before the period began). Where workers
    #: may arrive during the period, the share who began during it tells the joint model
    #: how many did (docs/synthesis.md).
    started: str | None = "started_month"


class Reach(_Strict):
    """Reach model: chance that a worker is on the platform in a given week, by answer."""

    posting_weeks: PositiveNumber
    p_week: dict[str, Share]

    @model_validator(mode="after")
    def _known_categories(self) -> Reach:
        for key in self.p_week:
            if key not in FREQUENCY_CATEGORIES:
                raise _FieldError(f"p_week.{key}", "unknown frequency category (expected "
                                  f"one of: {', '.join(FREQUENCY_CATEGORIES)})")
        return self


class Schedule(_Strict):
    """When the waves ran, in days from the start of the reference period."""

    reference_days: PositiveNumber = 364
    #: The reference period's first day (a date): needed only to read answers on when
    #: respondents began micro-work given as dates (``experiment.columns.started``).
    reference_start: date | None = None
    #: How long each wave's task stayed visible, in days: one number for every wave, or
    #: one per wave, in wave order.
    wave_days: PositiveNumber | Annotated[list[PositiveNumber], Field(min_length=1)] = 7
    #: The day (from the start of the reference period) each wave started, in wave order.
    wave_starts: list[Annotated[float, Field(ge=0, allow_inf_nan=False)]] = Field(
        default_factory=list)
    #: The platforms (names or codes) each wave's task was posted on, in wave order; left
    #: out, every wave is taken as posted on every platform the answers name.
    posted: list[Annotated[list[str], Field(min_length=1)]] | None = None

    def days(self, wave: int) -> float:
        """How long wave ``wave`` (0-based) lasted, in days."""
        return float(self.wave_days[wave] if isinstance(self.wave_days, list)
                     else self.wave_days)

    @model_validator(mode="after")
    def _ordered(self) -> Schedule:
        starts = self.wave_starts
        if isinstance(self.wave_days, list) and starts and len(self.wave_days) != len(starts):
            raise _FieldError("wave_days", f"gives {len(self.wave_days)} waves but "
                              f"wave_starts gives {len(starts)}")
        for i in range(1, len(starts)):
            if starts[i] < starts[i - 1] + self.days(i - 1):
                raise _FieldError(f"wave_starts[{i}]", "waves must follow one another "
                                  "without overlapping (start >= previous start + wave_days)")
        if starts and starts[-1] + self.days(len(starts) - 1) > self.reference_days:
            raise _FieldError(f"wave_starts[{len(starts) - 1}]", "the last wave ends after "
                              "the reference period")
        return self


class Synthesis(_Strict):
    """How the joint model of the three methods is fitted (docs/synthesis.md)."""

    #: "nuts" (full posterior, NumPyro's No-U-Turn sampler) or "laplace" (normal
    #: approximation at the posterior mode: faster, used by `validate`).
    inference: Literal["nuts", "laplace"] = "nuts"
    chains: int = Field(default=2, ge=1, le=16)
    warmup: int = Field(default=300, ge=50, le=100_000)
    draws: int = Field(default=500, ge=100, le=100_000)


class Experiment(_Strict):
    """Method 2: responses to a posted task, or tier shares given directly."""

    responses: str | None = None
    format: Literal["crowdcensus", "survey"] = "crowdcensus"
    columns: Columns = Columns()
    answers: dict[str, str] = Field(default_factory=dict)
    reach: Reach | None = None
    shares: dict[Literal["very_active", "regular"], Share] = Field(default_factory=dict)
    share_base: Literal["declared", "audience"] = "declared"
    tiers: list[Literal["very_active", "regular", "occasional"]] = Field(
        default_factory=lambda: ["very_active", "regular", "occasional"]
    )
    bootstrap: bool = True
    capture: Literal["pooled", "by_band"] = "by_band"
    schedule: Schedule | None = None
    #: Arrivals and departures of workers between the waves in the joint model:
    #: "auto" (when the waves span more than 8 weeks), true or false.
    churn: bool | Literal["auto"] = "auto"
    #: Whether the joint model lets the take-up rise or fall with activity (a slope on
    #: the log visit rate, in place of the chance that a visit shows the task):
    #: "average" (both models fitted and averaged by their marginal likelihoods),
    #: "auto" (the slope when the fit without it does not reproduce the waves answered
    #: per respondent by answer), true or false.
    take_up_slope: bool | Literal["average", "auto"] = "average"
    #: Where the task was posted on some platforms only: whether the joint model lets the
    #: workers who hold platforms independently form two classes with their own chances
    #: of holding each (workers who keep to some platforms: a language, a region), so
    #: that the respondents' lists carry each class's overlap to the platforms out of
    #: reach. Left out (None), the classes are on wherever the task was posted on some
    #: platforms only; false keeps one class (docs/synthesis.md).
    registration_classes: bool | None = None

    @model_validator(mode="after")
    def _one_mode(self) -> Experiment:
        if self.responses is None and not self.shares:
            raise _FieldError("responses", "is required (or give tier shares in "
                              "experiment.shares)")
        if self.responses is not None and self.shares:
            raise _FieldError("shares", "must be left out when responses are given "
                              "(the shares are then estimated from the responses)")
        if self.responses is not None and self.reach is None and self.capture == "pooled":
            raise _FieldError("reach", "is required with capture = \"pooled\" (the reach "
                              "model splits the pooled estimate into tiers)")
        if self.format == "survey" and "columns" not in self.model_fields_set:
            raise _FieldError("columns", "is required for format \"survey\" (map worker, "
                              "wave, platform and frequency to your CSV's columns)")
        for raw, cat in self.answers.items():
            if cat not in FREQUENCY_CATEGORIES:
                raise _FieldError(f"answers.{raw}", f"unknown frequency category {cat!r} "
                                  f"(expected one of: {', '.join(FREQUENCY_CATEGORIES)})")
        return self


class Study(_Strict):
    """A validated study file. ``base_dir`` is where relative paths are resolved."""

    study: StudyInfo
    settings: Settings = Settings()
    sources: list[SourceRef] = Field(default_factory=list)
    assumptions: Assumptions
    platforms_file: str | None = None
    platforms: list[Platform] = Field(min_length=1)
    experiment: Experiment | None = None
    synthesis: Synthesis = Synthesis()
    base_dir: Path = Path(".")

    @model_validator(mode="after")
    def _cross_checks(self) -> Study:
        names = [p.name for p in self.platforms]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise _FieldError(f"platforms[{i}].name", f"duplicate platform {name!r}")
        known = {s.id for s in self.sources}
        for path, q in self.quantities():
            if q.source is not None and known and q.source not in known:
                raise _FieldError(f"{path}.source", f"unknown source {q.source!r} (not in "
                                  "[[sources]])")
        if not any(p.declared or p.audience for p in self.platforms) and self.experiment is None:
            raise _FieldError("platforms", "no declared figure, no audience and no experiment: "
                              "nothing to estimate")
        exp = self.experiment
        if self.assumptions.multihoming.value == "estimate" and (
            exp is None or exp.responses is None or not exp.columns.registered_on
        ):
            raise _FieldError("assumptions.multihoming.value", "\"estimate\" needs experiment "
                              "responses with a registered_on column")
        days = self.reference_days
        if self.assumptions.active_nonworker_share is not None and not any(
                p.declared is not None and p.declared_active_days is not None
                for p in self.platforms):
            raise _FieldError("assumptions.active_nonworker_share", "no platform declares "
                              "its accounts active in a window (declared_active_days), so "
                              "nothing reads it")
        self._turnover_checks()
        for i, p in enumerate(self.platforms):
            if p.declared is None:
                for name in ("declared_active_days", "declared_day"):
                    if getattr(p, name) is not None:
                        raise _FieldError(f"platforms[{i}].{name}", "says what the declared "
                                          "figure counts, but the platform gives no declared "
                                          "figure")
            problem = declared_timing_problem(p.declared_day, p.declared_active_days, days)
            if problem:
                raise _FieldError(f"platforms[{i}].{problem[0]}", problem[1])
            if p.declared is None or p.audience is None:
                continue
            share_lo = p.audience.worker_share.range[0] if p.audience.worker_share else 1.0
            monthly_lo = p.audience.visitors.range[0] * share_lo
            window = p.declared_active_days
            if window is None:
                if monthly_lo > p.declared.range[1]:
                    raise _FieldError(
                        f"platforms[{i}].audience.visitors",
                        f"the monthly visitors who are workers (at least {monthly_lo:,.0f}) "
                        f"exceed the registrations declared in platforms[{i}].declared (at "
                        f"most {p.declared.range[1]:,.0f}): a monthly audience cannot exceed "
                        "the registered workers")
                continue
            # the chance of a visit in a month is at most month/t times the chance in a
            # shorter window of t days (1 - exp(-x) grows less than in proportion)
            ceiling = p.declared.range[1] * max(1.0, MONTH_DAYS / window)
            if monthly_lo > ceiling:
                raise _FieldError(
                    f"platforms[{i}].audience.visitors",
                    f"the monthly visitors who are workers (at least {monthly_lo:,.0f}) exceed "
                    f"what the accounts declared active in its last {window:g} days "
                    f"(platforms[{i}].declared, at most {p.declared.range[1]:,.0f}) allow: "
                    f"at most {ceiling:,.0f} workers visit in a month")
        if exp is not None and exp.schedule is not None and exp.schedule.posted is not None:
            known_names = {n.strip().lower() for p in self.platforms
                           for n in (p.name, p.code) if n}
            for w, wave in enumerate(exp.schedule.posted):
                for k, name in enumerate(wave):
                    if name.strip().lower() not in known_names:
                        raise _FieldError(f"experiment.schedule.posted[{w}][{k}]",
                                          f"{name!r} is not a platform of the study file "
                                          f"(one of: {', '.join(names)})")
        if exp is not None and {"very_active", "regular"} <= set(exp.shares):
            va, reg = exp.shares["very_active"], exp.shares["regular"]
            if va.range[0] > reg.range[1]:
                raise _FieldError("experiment.shares.very_active",
                                  f"({va.range[0]:g} at least) exceeds experiment.shares.regular "
                                  f"({reg.range[1]:g} at most): the very active are part of the "
                                  "regular tier")
        if exp is not None and exp.shares:
            base = exp.share_base
            has = any(getattr(p, base) is not None for p in self.platforms)
            if not has:
                raise _FieldError("experiment.share_base", f"no platform has {base} figures "
                                  "to apply the shares to")
        return self

    def _turnover_checks(self) -> None:
        """A stated share of workers arriving or leaving needs the waves it is read against."""
        stated = self.assumptions.turnover_stated
        if not stated:
            return
        field = f"assumptions.{stated[0]}"
        exp = self.experiment
        if exp is None or exp.responses is None:
            raise _FieldError(field, "the share of workers who come and go is read against "
                              "the experiment's waves, and the study has no responses")
        if exp.churn is False:
            raise _FieldError(field, "experiment.churn = false says that nobody arrives or "
                              "leaves during the reference period: leave one of them out")
        if exp.schedule is None or not exp.schedule.wave_starts:
            raise _FieldError(field, "needs the waves' start days "
                              "(experiment.schedule.wave_starts): workers who come and go "
                              "are placed against them")

    def quantities(self) -> list[tuple[str, Quantity]]:
        """Every ranged input with its field path, in file order."""
        out: list[tuple[str, Quantity]] = []
        mh = self.assumptions.multihoming.as_quantity()
        if mh is not None:
            out.append(("assumptions.multihoming", mh))
        for name in ("dormant_share", "active_nonworker_share", "declaration_inflation",
                     "visitors_per_person", "misreport", "random_answers",
                     "platform_omission", "answer_again", "arrival_share",
                     "departure_share", "start_misdated"):
            q = getattr(self.assumptions, name)
            if q is not None:
                out.append((f"assumptions.{name}", q))
        for i, p in enumerate(self.platforms):
            if p.declared is not None:
                out.append((f"platforms[{i}].declared", p.declared))
            if p.audience is not None:
                out.append((f"platforms[{i}].audience.visitors", p.audience.visitors))
                if p.audience.worker_share is not None:
                    out.append((f"platforms[{i}].audience.worker_share",
                                p.audience.worker_share))
        exp = self.experiment
        if exp is not None:
            for tier, q in exp.shares.items():
                out.append((f"experiment.shares.{tier}", q))
            if exp.reach is not None:
                for cat, q in exp.reach.p_week.items():
                    out.append((f"experiment.reach.p_week.{cat}", q))
        return out

    def source_citation(self, source_id: str | None) -> str:
        for s in self.sources:
            if s.id == source_id:
                return s.citation
        return source_id or ""

    @property
    def reference_days(self) -> float:
        """The reference period's length in days (the schedule's, or its default)."""
        exp = self.experiment
        sched = exp.schedule if exp is not None and exp.schedule is not None else Schedule()
        return float(sched.reference_days)

    def responses_path(self) -> Path | None:
        if self.experiment is None or self.experiment.responses is None:
            return None
        p = Path(self.experiment.responses)
        return p if p.is_absolute() else self.base_dir / p


def _relocate(line: str, origins: dict[int, str]) -> str:
    """Point an error about a platform read from a table at its file, line and column."""
    from crowdcensus.sources.platform_table import column_for

    m = re.match(r"platforms\[(\d+)\](?:\.([^:]*))?: (.*)", line)
    if m is None or int(m.group(1)) not in origins:
        return line
    where = origins[int(m.group(1))]
    column = f", column {column_for(m.group(2))}" if m.group(2) else ""
    return f"{where}{column}: {m.group(3)}"


def parse_study(
    data: dict,
    base_dir: Path | str = ".",
    name: str = "study file",
    origins: dict[int, str] | None = None,
) -> Study:
    """Validate a study given as a dict (the parsed TOML).

    ``origins`` maps the index of a platform read from a table to its
    ``file line N`` label, so that errors point at the table.
    """
    return validate(Study, {**data, "base_dir": Path(base_dir)}, name,
                    relocate=lambda line: _relocate(line, origins or {}))


def load_study(path: str | Path) -> Study:
    """Read and validate a study file.

    Raises
    ------
    InputError
        With one line naming the file, the field path and the problem.
    """
    p = Path(path)
    data = read_toml(p, "study file")
    if "base_dir" in data:
        raise InputError(f"{p}: base_dir: unknown field")
    base = p.resolve().parent
    origins: dict[int, str] = {}
    table = data.get("platforms_file")
    if isinstance(table, str):
        from crowdcensus.sources.platform_table import read_platform_table

        tp = Path(table) if Path(table).is_absolute() else base / table
        inline = data.get("platforms", [])
        if not isinstance(inline, list):
            raise InputError(f"{p}: platforms: must be a list ([[...]] tables or [...])")
        rows = read_platform_table(tp)
        origins = {len(inline) + i: f"{table} line {i + 2}" for i in range(len(rows))}
        data = {**data, "platforms": [*inline, *rows]}
    return parse_study(data, base_dir=base, name=str(p), origins=origins)
