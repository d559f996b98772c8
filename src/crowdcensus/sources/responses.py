"""Reading the experiment's responses: the collection service's export or any survey CSV.

The file has one row per response: a pseudonymous worker identifier (the
collection service's keyed HMAC, never a raw platform ID), the wave, the
platform, the reported frequency and, optionally, the platforms the person is
registered on (a count, or a list separated by ``;``, ``,`` or ``|``).
The study file's ``[experiment.columns]`` names the columns and
``[experiment.answers]`` maps the answers' wording to the categories of
:data:`crowdcensus.tiers.FREQUENCY_CATEGORIES`.

A worker who answered in several waves counts once for the tier shares: their
answer in the earliest wave is used. Every wave they answered in counts for
capture--recapture.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from crowdcensus.capture.histories import CaptureHistories, occasion_order
from crowdcensus.errors import InputError
from crowdcensus.tables import read_table
from crowdcensus.tiers import FREQUENCY_CATEGORIES

#: Wordings recognised without a mapping (lower case, spaces collapsed).
DEFAULT_ANSWERS = {
    "several times a week": "several_weekly",
    "several_weekly": "several_weekly",
    "daily": "several_weekly",
    "weekly": "weekly",
    "once a week": "weekly",
    "monthly": "monthly",
    "once a month": "monthly",
    "less often": "less_often",
    "less_often": "less_often",
    "less than monthly": "less_often",
    "this is the first time": "first_time",
    "first time": "first_time",
    "first_time": "first_time",
}


#: Typographic quotes and apostrophes, written for ' and " by word processors and
#: French keyboards ("C’est la première fois" for "C'est la première fois").
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u201c": '"',
                         "\u201d": '"', "\u00ab": '"', "\u00bb": '"'})


def _norm(text: object) -> str:
    """An answer as compared with the mapping: Unicode normalised (an accent composed or
    not, a no-break space), typographic quotes as plain ones, case and spacing ignored.

    >>> _norm("C\u2019est  la premie\u0300re\u00a0fois") == _norm("c'est la première fois")
    True
    """
    text = unicodedata.normalize("NFKC", str(text)).translate(_QUOTES)
    return " ".join(text.strip().lower().split())


@dataclass(frozen=True)
class Responses:
    """Validated responses.

    Attributes
    ----------
    events : DataFrame
        One row per (worker, wave): columns ``worker``, ``wave``, ``platform``.
    respondents : DataFrame
        One row per worker: ``category`` (a frequency category),
        ``n_registered`` (number of platforms, NaN when not reported) and
        ``registered`` (the platforms named, lower case, as a frozenset; None
        when the file gives a count or nothing) and ``hours`` (hours of
        micro-work per week, NaN when not given) and ``started`` (the day of the
        reference period they say they began micro-work, NaN when not given, -inf
        (:data:`UNDATED`) for a date the study gives no first day of the period to read
        against).
    histories : CaptureHistories
        Who answered in which wave (occasions = waves, in the natural order of
        their labels: ``w2`` before ``w10``).
    wave_times : Series or None
        The median time of each wave's answers, by wave label, when the file
        gives answer times.
    """

    events: pd.DataFrame
    respondents: pd.DataFrame
    histories: CaptureHistories
    wave_times: pd.Series | None = None
    #: Respondents left out because they live in another country, by their answer.
    elsewhere: dict[str, int] = field(default_factory=dict)
    #: Respondents kept who did not say where they live (with a country column).
    country_unanswered: int = 0
    #: Without a country column mapped, the respondents by their answer in a column
    #: named ``country`` (the collection service's) when it holds several answers...
    unmapped_countries: dict[str, int] = field(default_factory=dict)
    #: ...and that column's name as the file writes it.
    unmapped_column: str = "country"
    #: The column named ``country`` read although the study does not state
    #: ``experiment.columns.country``: its answers name the study's country among others.
    country_found: str | None = None
    #: Respondents who failed the attention check (``category`` and ``hours`` not known).
    inattentive: int = 0
    #: Whether the file had an attention check that was read (``columns.attention``, with
    #: an answer in some row).
    attention_read: bool = False
    #: The frequency answers (category: respondents) of those who failed the check, as
    #: they gave them: how answers given without reading spread over the four.
    failed_answers: dict[str, int] = field(default_factory=dict)
    #: Workers who answered more than once in one wave (each wave counts once; their
    #: first answer in their first wave gives their frequency, hours and platforms).
    repeated_in_wave: int = 0
    #: Respondents (who passed any attention check) whose first answer leaves the
    #: frequency blank (``category`` not known).
    frequency_unanswered: int = 0

    def unanswered_warning(self) -> str | None:
        """What a frequency left blank became, when anyone left it blank."""
        if not self.frequency_unanswered:
            return None
        n = self.n_respondents
        return (f"{self.frequency_unanswered:,} of {n:,} respondents left the frequency "
                "question blank: their answers to the waves still count, and the joint "
                "model reads their activity from the waves alone; the experiment's own "
                "figures read the others' answers as those of all, taking a blank as "
                "unrelated to activity")

    def repeat_warning(self) -> str | None:
        """What answers given twice in one wave became, when anyone gave them."""
        if not self.repeated_in_wave:
            return None
        return (f"{self.repeated_in_wave:,} respondents answered more than once in the same "
                "wave: each wave counts once for them, and the answers of their first "
                "response are the ones used")

    def attention_warning(self) -> str | None:
        """What the attention check set aside, when it set aside anyone."""
        if not self.inattentive:
            return None
        n = self.n_respondents
        return (f"{self.inattentive:,} of {n:,} respondents failed the attention check: their "
                "answers on frequency and hours are not used, their answers to the waves "
                "still count; the experiment's own figures read the answers of the "
                f"{n - self.inattentive:,} others as those of all {n:,}, taking attention as "
                "unrelated to activity")

    def country_warning(self, country: str) -> str | None:
        """What the country question left out, when it left out anyone; or, when the
        answers name several countries in a column the study does not map, that they
        all count."""
        if self.unmapped_countries:
            seen = self.unmapped_countries
            listed = ", ".join(f"{c} {k:,}" for c, k in sorted(
                seen.items(), key=lambda x: (-x[1], x[0]))[:6])
            col = self.unmapped_column
            return (f"the respondents name {len(seen)} countries of residence in their "
                    f"'{col}' answers ({listed}{', ...' if len(seen) > 6 else ''}) but "
                    "the study reads no country column (experiment.columns.country), so "
                    f"every respondent counts as a worker of {country}; set it to "
                    f"\"{col}\" and write [study] country as the answers write it to "
                    "leave out those who live elsewhere")
        if not self.elsewhere:
            return None
        n = sum(self.elsewhere.values())
        listed = ", ".join(f"{c} {k:,}" for c, k in sorted(
            self.elsewhere.items(), key=lambda x: (-x[1], x[0]))[:6])
        more = ", ..." if len(self.elsewhere) > 6 else ""
        quiet = (f"; {self.country_unanswered:,} who did not say are kept"
                 if self.country_unanswered else "")
        found = (f" (read from the file's '{self.country_found}' column, which names "
                 f"{country} among others; experiment.columns.country = \"\" keeps every "
                 "respondent)" if self.country_found else "")
        return (f"{n:,} of {n + self.n_respondents:,} respondents live in another country "
                f"than {country} ({listed}{more}): left out of the experiment, whose figures "
                f"count the workers who live in {country}{quiet}{found}")

    @property
    def n_respondents(self) -> int:
        return len(self.respondents)

    @cached_property
    def ids_per_platform(self) -> bool:
        """Whether the worker IDs are taken to be per platform: the answers come from
        several platforms (names compared in lower case) and no ID answered on two (read
        once: the warnings, both models and the report ask)."""
        platform = self.events["platform"].astype(str).str.strip().str.lower()
        if platform.nunique() < 2:
            return False
        return bool((platform.groupby(self.events["worker"]).nunique() <= 1).all())

    def platform_linking_warning(self) -> str | None:
        """A warning when the IDs are taken to be per platform (:attr:`ids_per_platform`).

        The collection service hashes the platform together with the worker's
        ID, so one person answering on two platforms gets two pseudonyms: a
        recapture across platforms is then invisible, and capture--recapture over
        the pooled answers over-counts. The joint model then takes each respondent
        as a (worker, platform) pair
        (:attr:`~crowdcensus.synthesis.data.CaptureData.per_platform_ids`), and the
        experiment's own figures fit platform by platform
        (:func:`~crowdcensus.methods.experiment.fit_capture_per_platform`). Nothing
        to say when one platform is used or when some pseudonym does appear on two
        platforms (the IDs are linked).
        """
        if not self.ids_per_platform:
            return None
        return ("the responses come from several platforms but no worker is seen on two of "
                "them, so the IDs are taken to be per platform (as the collection service's "
                "are): the joint model reads each respondent as one worker's answers on one "
                "platform, and the experiment's own figures fit each platform's respondents "
                "apart, each counting for one over the number of these platforms they are "
                "registered on (read so, a worker's answers on another platform are misses, "
                "and the very active tier of a simulated country came out 6-26% high "
                "against 3-10% with linked IDs)")

    def posting_gap_warning(self, min_mean: float = 5.0,
                            posted: set[tuple[str, str]] | None = None) -> str | None:
        """A warning when a platform has no answer in some waves but many in the others.

        Without ``posted``, the models take the task as posted on every platform in every
        wave. A platform that brought on average ``min_mean`` answers or more in the
        waves it brought any (so that a wave without one would be a chance of e^-5 under
        Poisson counts), but none in others, was most likely not posted in those waves.
        ``posted``: the (wave, platform in lower case) pairs the study says were posted
        (``experiment.schedule.posted``); only those are then checked, and a gap says
        that the list is most likely wrong.
        """
        counts = pd.crosstab(self.events["platform"].astype(str).str.strip(),
                             self.events["wave"].astype(str))
        counts = counts.reindex(columns=[str(w) for w in self.histories.occasions],
                                fill_value=0)
        gaps = []
        for platform, row in counts.iterrows():
            empty = [w for w, c in row.items() if c == 0 and (
                posted is None or (w, str(platform).lower()) in posted)]
            if empty and row[row > 0].mean() >= min_mean:
                gaps.append(f"{platform} in {', '.join(empty)} ({int(row.sum()):,} answers "
                            "in the others)")
        if not gaps:
            return None
        if posted is not None:
            return ("no answer came through " + "; ".join(gaps) + ", although "
                    "experiment.schedule.posted lists it there: if the task was not posted "
                    "there, take it out of those waves' lists (a wave counted as posted "
                    "where it was not makes its workers look harder to catch, and the tiers "
                    "come out low)")
        return ("no answer came through " + "; ".join(gaps) + ": the models take the task as "
                "posted on every platform in every wave; if it was not, the tiers come out "
                "low (a simulated study posted on mturk in one wave of six: regular 8% low, "
                "occasional 23%); list the platforms each wave was posted on in "
                "experiment.schedule.posted")

    def wave_order_warning(self) -> str | None:
        """A warning when the waves' labels do not sort in the order the waves ran.

        The waves are taken in the natural order of their labels (the only order a
        file without dates gives); the churn model and the behavioural effect read
        that order. When the answers' times order the waves (by their median time)
        differently, the labels are misleading.
        """
        if self.wave_times is None:
            return None
        times = self.wave_times.reindex(list(self.histories.occasions)).dropna()
        by_time = [str(w) for w in times.sort_values(kind="stable").index]
        if by_time == [str(w) for w in times.index]:
            return None
        return ("the waves are taken in the order of their labels (" + ", ".join(times.index)
                + ") but the times of their answers put them in the order "
                + ", ".join(by_time) + "; models in which the order matters (arrivals and "
                "departures, a behavioural effect) read the labels' order: rename the waves "
                "so that their labels sort in the order they ran (w1, w2, ..., w10)")

    def wave_counts(self) -> pd.DataFrame:
        """One row per wave, in the order the models read them: ``wave``, ``answers``,
        ``first`` (respondents answering for the first time), ``platforms`` (those
        answered on, comma-separated)."""
        order = list(self.histories.occasions)
        ev = self.events
        rank = ev["wave"].map({w: i for i, w in enumerate(order)})
        first = ev.assign(_rank=rank).sort_values("_rank", kind="stable") \
            .drop_duplicates("worker")["wave"].value_counts()
        answers = ev["wave"].value_counts()
        where = ev.groupby("wave")["platform"].agg(lambda p: ", ".join(sorted(set(p))))
        return pd.DataFrame({"wave": order,
                             "answers": [int(answers.get(w, 0)) for w in order],
                             "first": [int(first.get(w, 0)) for w in order],
                             "platforms": [where.get(w, "") for w in order]})

    def category_counts(self, categories: tuple[str, ...]) -> np.ndarray:
        """Respondents per category, in the order given."""
        vc = self.respondents["category"].value_counts()
        return np.array([int(vc.get(c, 0)) for c in categories], dtype=float)


def _empty(values: pd.Series) -> pd.Series:
    """Whether each cell is missing or blank."""
    return values.isna() | (values.astype(str).str.strip() == "")


def _line(mask: pd.Series) -> int:
    """The file line of the first row where ``mask`` holds (the header is line 1; the
    rows keep the index they had when read, whatever was left out since)."""
    return int(mask.index[int(np.argmax(mask.to_numpy()))]) + 2


_HOURS_PATTERNS = (
    (re.compile(r"(\d+)\s*(?:h|hr|hrs|heures?|hours?)\s*(\d{1,2})\s*(?:min|mn|m)?"),
     lambda m: int(m[1]) + int(m[2]) / 60),
    (re.compile(r"(\d+)\s*:\s*(\d{2})"), lambda m: int(m[1]) + int(m[2]) / 60),
    (re.compile(r"([+-]?\d+(?:[.,]\d+)?)\s*(?:h|hr|hrs|heures?|hours?)?"),
     lambda m: float(m[1].replace(",", "."))),
    (re.compile(r"(\d+(?:[.,]\d+)?)\s*(?:min|mn|minutes?)"),
     lambda m: float(m[1].replace(",", ".")) / 60),
)


def written_hours(value: object) -> float | None:
    """Hours a week as a respondent types them, or None: a number (``1.5``, ``1,5``),
    hours and minutes (``1h30``, ``1 h 30 min``, ``1:30``), with a unit (``2 h``,
    ``3 heures``, ``90 min``).

    >>> [written_hours(x) for x in ("1,5", "1h30", "2 h", "90 min", "1:30", "about 3")]
    [1.5, 1.5, 2.0, 1.5, 1.5, None]
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = " ".join(str(value).strip().lower().split())
    for pattern, hours in _HOURS_PATTERNS:
        match = pattern.fullmatch(text)
        if match:
            return float(hours(match))
    return None


def _map_distinct(values: pd.Series, fn) -> pd.Series:
    """``values.map(fn)``, calling ``fn`` once per distinct value (missing cells get
    ``fn(None)``): answers repeat, and a table has a row per answer."""
    codes, distinct = pd.factorize(values)
    out = np.empty(len(distinct) + 1, dtype=object)
    out[:-1] = [fn(v) for v in distinct]
    out[-1] = fn(None)
    return pd.Series(out[codes], index=values.index)


def _platform_list(value: object) -> frozenset[str] | None:
    """The platforms named in a registrations cell (lower case), or None for a bare count."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        return None
    text = str(value).strip()
    if not text or re.fullmatch(r"\d+(\.0+)?", text):
        return None
    return frozenset(s.strip().lower() for s in re.split(r"[;,|]", text) if s.strip())


def _count_platforms(value: object) -> float:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return np.nan
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    text = str(value).strip()
    if not text:
        return np.nan
    if re.fullmatch(r"\d+(\.0+)?", text):
        return float(text)
    items = _platform_list(text)
    return float(len(items)) if items else np.nan


def parse_responses(
    frame: pd.DataFrame,
    columns: dict[str, str | None],
    answers: dict[str, str] | None = None,
    name: str = "responses",
    country: str | None = None,
    reference_start: date | None = None,
) -> Responses:
    """Validate a responses table and put it in canonical form.

    Parameters
    ----------
    frame : DataFrame
        The raw table.
    columns : dict
        Maps ``worker``, ``wave``, ``platform``, ``frequency`` and optionally
        ``registered_on`` to the table's column names.
    answers : dict, optional
        Maps answer wordings to frequency categories (compared case-insensitively);
        :data:`DEFAULT_ANSWERS` is used for wordings not listed.
    country : str, optional
        The study's country: with a ``country`` column (``columns["country"]``; when that
        is None, a column named ``country`` whose answers name this country among others),
        the respondents who live elsewhere are left out (:attr:`Responses.elsewhere`).
    reference_start : date, optional
        The reference period's first day: answers on when respondents began micro-work
        (``columns["started"]``) given as dates or months are read as days after it.
    """
    if len(frame) == 0:
        raise InputError(f"{name}: no data: the table has no rows")
    needed = ["worker", "wave", "platform", "frequency"]
    for role in [*needed, "registered_on", "country"]:
        col = columns.get(role)
        if not col:
            continue
        if col not in frame.columns:
            raise InputError(
                f"{name}: missing column '{col}' (experiment.columns.{role}; columns: "
                f"{', '.join(map(str, frame.columns))})"
            )
        if col in frame.attrs.get("repeated_columns", ()):
            raise InputError(f"{name}: the header names column '{col}' more than once "
                             f"(experiment.columns.{role}): keep one, or rename the others")
    frame = frame.reset_index(drop=True)    # row i is on line i + 2, below the header
    # rows whose answer cells are all empty carry no answer (spreadsheets export a few at
    # the end): left out, the others keep their line numbers
    blank = np.logical_and.reduce([_empty(frame[columns[r]]).to_numpy() for r in needed])
    if blank.all():
        raise InputError(f"{name}: no data: every row's {', '.join(needed)} cells are empty")
    frame = frame[~blank]
    df = pd.DataFrame({role: frame[columns[role]] for role in needed})
    for role in ("worker", "wave"):
        empty = _empty(df[role])
        if empty.any():
            row = _line(empty)
            raise InputError(f"{name}: empty {role} ('{columns[role]}') on line {row}")
    # a frequency left blank is an answer not known, as a failed attention check's is:
    # the respondent's waves still count
    unanswered = _empty(df["frequency"])
    if unanswered.all():
        raise InputError(f"{name}: no frequency answer: every row's '{columns['frequency']}' "
                         "is empty")
    mapping = {**DEFAULT_ANSWERS, **{_norm(k): v for k, v in (answers or {}).items()}}
    cats = _map_distinct(df["frequency"], lambda a: mapping.get(_norm(a)))
    not_mapped = cats.isna() & ~unanswered
    if not_mapped.any():
        bad = df.loc[not_mapped, "frequency"].iloc[0]
        raise InputError(
            f"{name}: the answer {str(bad)!r} in column '{columns['frequency']}' is not "
            "mapped to a frequency category (add it to [experiment.answers]; categories: "
            f"{', '.join(FREQUENCY_CATEGORIES)})"
        )
    df["category"] = cats.where(~unanswered, None)
    df["_unanswered"] = unanswered
    df["_failed"] = False
    reg_col = columns.get("registered_on")
    if reg_col:
        reg = _map_distinct(frame[reg_col], _count_platforms).astype(float)
        if (reg < 1).any():
            row = _line(reg < 1)
            raise InputError(f"{name}: '{reg_col}' on line {row} says fewer than one platform; "
                             "a respondent is registered on at least one")
        df["n_registered"] = reg.to_numpy()
        df["registered"] = _map_distinct(frame[reg_col], _platform_list).to_numpy()
    else:
        df["n_registered"] = np.nan
        df["registered"] = None
    hours_col = columns.get("hours")
    if hours_col and hours_col in frame.columns:
        raw = frame[hours_col]
        if pd.api.types.is_numeric_dtype(raw):
            hours = pd.to_numeric(raw)
        else:    # as people type them: "1,5", "1h30", "2 h", "90 min", "1:30"
            raw = raw.where(~_empty(raw))
            hours = _map_distinct(raw, written_hours).astype(float)
        bad = raw.notna() & hours.isna()
        if bad.any():
            row = _line(bad)
            raise InputError(f"{name}: '{hours_col}' on line {row} is not a number of hours")
        if (hours < 0).any():
            row = _line(hours < 0)
            raise InputError(f"{name}: '{hours_col}' on line {row} is negative")
        df["hours"] = hours.to_numpy(dtype=float)
    else:
        df["hours"] = np.nan
    df["started"] = _started_days(frame, columns.get("started"), name, reference_start)
    att_col = columns.get("attention")
    checked = False    # a check was read: some row says whether it was passed
    if att_col and att_col in frame.columns:
        passed = _map_distinct(frame[att_col], _passed)
        checked = bool(passed.notna().any())
        bad = passed.isna() & ~_empty(frame[att_col])
        if bad.any():
            row = _line(bad)
            raise InputError(f"{name}: '{att_col}' on line {row} is "
                             f"{str(frame[att_col][bad].iloc[0])!r}, not whether the "
                             "attention check was passed (true or false, yes or no, 1 or 0)")
        failed = np.array([v is False for v in passed])    # a blank is not a failure
        df["_failed_answer"] = df["category"].where(failed)
        df.loc[failed, "category"] = None
        df.loc[failed, "hours"] = np.nan
        df.loc[failed, "started"] = np.nan
        df["_failed"] = failed
    # a space typed or pasted around an id or a label does not make another worker or wave
    for role in ("worker", "wave", "platform"):
        df[role] = df[role].astype(str).str.strip()
    elsewhere: dict[str, int] = {}
    unanswered = 0
    country_col = columns.get("country")
    found = None
    if country_col is None and country is not None:
        # not stated: a column named `country` (the collection service's) whose answers
        # name the study's country among others is read
        seen, col = _countries_unmapped(frame, df["worker"])
        if any(_norm(c) == _norm(country) for c in seen):
            country_col = found = col
    if country_col and country is not None:
        df, elsewhere, unanswered = _residents(df, frame[country_col], country, name,
                                               country_col)
        frame = frame.loc[df.index]
    unmapped = ({}, "country") if country_col else _countries_unmapped(frame, df["worker"])
    order = occasion_order(df["wave"].unique())
    if len(order) < 2:
        raise InputError(f"{name}: capture-recapture needs at least 2 waves; found {len(order)}")
    rank = {w: i for i, w in enumerate(order)}
    df["_rank"] = df["wave"].map(rank)
    first = df.sort_values(["_rank"], kind="stable").drop_duplicates("worker", keep="first")
    respondents = first.set_index("worker")[["category", "n_registered", "registered",
                                             "hours", "started"]]
    failed_answers = ({str(k): int(v) for k, v in first["_failed_answer"].value_counts().items()}
                      if "_failed_answer" in first else {})
    events = df.drop_duplicates(["worker", "wave"])[["worker", "wave", "platform"]]
    repeated = int(df.loc[df.duplicated(["worker", "wave"]), "worker"].nunique())
    histories = CaptureHistories.from_events(events, "worker", "wave", occasions=order)
    return Responses(events.reset_index(drop=True), respondents, histories,
                     _wave_times(frame, df["wave"], columns.get("submitted"), name),
                     elsewhere, unanswered, *unmapped, country_found=found,
                     inattentive=int(first["_failed"].sum()),
                     frequency_unanswered=int((first["_unanswered"] & ~first["_failed"]).sum()),
                     attention_read=checked, failed_answers=failed_answers,
                     repeated_in_wave=repeated)


#: A respondent's answer on when they began given as a date, with no first day of the
#: reference period (``experiment.schedule.reference_start``) to read it against.
UNDATED = -np.inf

_MONTH = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")


def _answer_date(text: str | None) -> date | None:
    """A date (``2025-03-14``) or a month (``2025-03``, read as its 15th); None when it is
    neither."""
    if text is None:
        return None
    month = _MONTH.match(text)
    try:
        return (date(int(month[1]), int(month[2]), 15) if month
                else date.fromisoformat(text.strip()[:10]))
    except ValueError:
        return None


def _started_days(frame: pd.DataFrame, col: str | None, name: str,
                  start: date | None = None) -> np.ndarray:
    """The day of the reference period each answer says the respondent began micro-work
    (NaN where blank or without the column): a number of days, or, with the period's
    first day ``start``, a date or a month."""
    if not col or col not in frame.columns:
        return np.full(len(frame), np.nan)
    raw = frame[col]
    raw = raw.where(~_empty(raw)) if not pd.api.types.is_numeric_dtype(raw) else raw
    days = pd.to_numeric(raw, errors="coerce").astype(float)
    text = raw.notna() & days.isna()
    if text.any():
        # dates with no first day of the period to read them against: not read (a warning
        # says so), and kept apart from what is not a date
        read = _map_distinct(raw[text].astype(str), lambda v: (
            None if (when := _answer_date(v)) is None
            else UNDATED if start is None else float((when - start).days)))
        days = days.where(~text, pd.to_numeric(read, errors="coerce").reindex(days.index))
    bad = raw.notna() & (days.isna() | np.isinf(days)) & ~(text & (days == UNDATED))
    if bad.any():
        row = _line(bad)
        raise InputError(
            f"{name}: '{col}' on line {row} is {str(raw[bad].iloc[0])!r}: not a day of the "
            "reference period, a date (2025-03-14) or a month (2025-03): when the "
            "respondent began micro-work")
    return days.to_numpy(dtype=float)


_PASSED = {"true": True, "yes": True, "1": True, "oui": True, "vrai": True, "passed": True,
           "pass": True, "false": False, "no": False, "0": False, "non": False, "faux": False,
           "failed": False, "fail": False}


def _passed(value: object) -> bool | None:
    """An attention check's result as written (``True``, ``false``, ``1``, ``oui``...)."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    text = _norm(value)
    if text.endswith(".0"):     # 1.0 / 0.0 from a numeric column with blanks
        text = text[:-2]
    return _PASSED.get(text)


def _countries_unmapped(frame: pd.DataFrame, worker: pd.Series
                        ) -> tuple[dict[str, int], str]:
    """Respondents by their first answer in a column named ``country`` in any case (as the
    collection service exports it), when the study maps no country column and the answers
    name more than one country (else empty), and the column's name."""
    named = [c for c in frame.columns if str(c).strip().lower() == "country"]
    if len(named) != 1:
        return {}, "country"
    said = frame[named[0]]
    said = said[~_empty(said)].astype(str).str.strip()
    first = said.groupby(worker.loc[said.index].to_numpy(), sort=False).first()
    counts = first.value_counts()
    return ({str(c): int(n) for c, n in counts.items()} if len(counts) > 1 else {},
            str(named[0]))


def _residents(df: pd.DataFrame, answers: pd.Series, country: str, name: str, column: str
               ) -> tuple[pd.DataFrame, dict[str, int], int]:
    """The answers of the respondents who live in ``country`` or did not say, the others
    counted by country, and the number who did not say. A respondent's country is their
    first answer's (in file order)."""
    said = answers.reindex(df.index)
    blank = _empty(said)
    by_worker = pd.DataFrame({"worker": df["worker"], "country": said.astype(str).str.strip(),
                              "blank": blank}).drop_duplicates("worker", keep="first")
    home = by_worker["country"].map(_norm) == _norm(country)
    if not (home & ~by_worker["blank"]).any() and (~by_worker["blank"]).any():
        seen = by_worker.loc[~by_worker["blank"], "country"].value_counts()
        listed = ", ".join(f"{c} {n:,}" for c, n in seen.head(5).items())
        raise InputError(f"{name}: no respondent's '{column}' is the study's country "
                         f"{country!r} (answers: {listed}): write [study] country as the "
                         "answers write it")
    away = by_worker.loc[~home & ~by_worker["blank"]]
    elsewhere = {str(c): int(n) for c, n in away["country"].value_counts().items()}
    keep = ~df["worker"].isin(set(away["worker"]))
    return df[keep], elsewhere, int(by_worker["blank"].sum())


def _wave_times(frame: pd.DataFrame, wave: pd.Series, column: str | None,
                name: str = "responses") -> pd.Series | None:
    """The median answer time of each wave, when ``column`` holds times (else None)."""
    if not column or column not in frame.columns:
        return None
    from crowdcensus.tables import read_times

    times = read_times(frame[column], wave, name=f"{name}: '{column}'")
    if times.isna().all():
        return None
    return times.groupby(wave.to_numpy()).median().dropna()



def read_responses(
    path: str | Path,
    columns: dict[str, str | None],
    answers: dict[str, str] | None = None,
    country: str | None = None,
    reference_start: date | None = None,
) -> Responses:
    """Read a responses CSV/Parquet file (see :func:`parse_responses`)."""
    return parse_responses(read_table(path), columns, answers, name=str(path), country=country,
                           reference_start=reference_start)
